// The `bertkit` command line: a root command with one subcommand per job. Subcommands only parse
// options, call the library, and print; every failure becomes one `error: …` line and exit status 1.

import ArgumentParser
import BertKit

#if canImport(Glibc)
import Glibc
#endif

@main
struct BertKitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bertkit",
        abstract: "Move BERT checkpoints between safetensors, PyTorch and HDF5, and run them in Swift.",
        subcommands: [InspectCommand.self, ConvertCommand.self, TokenizeCommand.self, PredictCommand.self, EmbedCommand.self,
                      FillMaskCommand.self, ParityCommand.self, FinetuneCommand.self, EvaluateCommand.self, MergeCommand.self,
                      BenchmarkCommand.self])

    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as ExitCode {
            Glibc.exit(error.rawValue)
        } catch {
            // Help, usage and validation errors keep argument-parser's own wording and exit codes.
            if error is CleanExit || error is ValidationError || "\(type(of: error))".contains("CommandError") {
                exit(withError: error)
            }
            Console.error("\(error)")
            Glibc.exit(1)
        }
    }
}
