// The `bertkit` command line: a root command with one subcommand per job. Subcommands only parse
// options, call the library, and print; every failure becomes one `error: …` line and exit status 1.

import ArgumentParser
import BertKitInternals

#if canImport(Glibc)
import Glibc
#endif

@main
struct BertKitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bertkit",
        abstract: "Move BERT checkpoints between safetensors, PyTorch and HDF5, and run them in Swift.",
        subcommands: [InspectCommand.self, ConvertCommand.self, TokenizeCommand.self, PredictCommand.self, EmbedCommand.self,
                      FillMaskCommand.self, AnswerCommand.self, ParityCommand.self, FinetuneCommand.self, EvaluateCommand.self, MergeCommand.self,
                      BenchmarkCommand.self, InternalReadHDF5Command.self])

    static func main() {
        restartWithFittingBLASKernels()
        // libhdf5 runs in a child process: a damaged HDF5 file then ends in one error line, never a crash or a hang.
        if getenv("BERTKIT_HDF5_IN_PROCESS") == nil { CheckpointReader.hdf5Reading = .childProcess(executable: "/proc/self/exe") }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as ExitCode {
            Glibc.exit(error.rawValue)
        } catch {
            // --help and --version (of the root or a subcommand) print and exit 0, as argument-parser does.
            if exitCode(for: error) == .success { exit(withError: error) }
            // Usage and validation errors keep argument-parser's wording but follow every other failure's
            // contract: one `error:` line and exit status 1 (argument-parser would print usage and exit 64).
            if error is ValidationError || "\(type(of: error))".contains("CommandError") {
                let message = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
                Console.error(message + " (see 'bertkit help')")
                Glibc.exit(1)
            }
            Console.error("\(error)")
            Glibc.exit(1)
        }
    }
}

extension BertKitCommand {
    /// When OpenBLAS chose kernels far below this CPU (`BLAS.suggestedCoreType` says why), start this same command
    /// again with `OPENBLAS_CORETYPE` set: OpenBLAS reads it only when it loads. The variable being set is what stops
    /// a second restart; if exec fails, the command simply runs on the slow kernels.
    static func restartWithFittingBLASKernels() {
        guard let core = BLAS.suggestedCoreType else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
    }
}
