// `--help` of every command against its recorded snapshot (Fixtures/cli-help, made by
// Tools/fixtures/make_help_snapshots.sh): a change to an option's name, values, default or help text shows up
// here and in review. Re-record after a deliberate change.

import Testing
import Foundation
import TestSupport

@Suite struct HelpSnapshotTests {
    /// Every command and subcommand, as the words typed before `--help` ("" is the root).
    static let commands = ["", "inspect", "convert", "tokenize", "predict", "embed", "fill-mask", "answer", "parity", "finetune",
                           "evaluate", "merge", "benchmark", "benchmark forward", "benchmark text", "benchmark train-step",
                           "benchmark touch", "benchmark sgemm"]

    static func snapshotPath(_ command: String) -> String {
        Fixtures.path("cli-help/" + (command.isEmpty ? "bertkit" : command.replacingOccurrences(of: " ", with: "_")) + ".txt")
    }

    @Test(arguments: commands)
    func helpMatchesItsSnapshot(_ command: String) throws {
        let words = command.split(separator: " ").map(String.init)
        let result = try Bertkit.run(words + ["--help"], environment: ["COLUMNS": "80"])   // help wraps to COLUMNS
        #expect(result.status == 0, "\(command): \(result.stderr)")
        let snapshot = try String(contentsOfFile: Self.snapshotPath(command), encoding: .utf8)
        #expect(result.stdout == snapshot, "bertkit \(command) --help differs from \(Self.snapshotPath(command)); re-record with Tools/fixtures/make_help_snapshots.sh if the change is meant")
    }

    /// The list above covers every subcommand the root and `benchmark` offer, so a new command cannot go unrecorded.
    @Test func everySubcommandHasASnapshot() throws {
        for parent in ["", "benchmark"] {
            let help = try String(contentsOfFile: Self.snapshotPath(parent), encoding: .utf8)
            let listed = help.components(separatedBy: "SUBCOMMANDS:\n").last!.components(separatedBy: "\n\n").first!.split(separator: "\n")
                .prefix { $0.hasPrefix("  ") }
                .filter { $0.dropFirst(2).first != " " }   // a name starts a line; wrapped help text is indented further
                .compactMap { $0.split(separator: " ").first.map(String.init) }
                .filter { $0 != "help" }
            #expect(!listed.isEmpty)
            for name in listed {
                let command = parent.isEmpty ? name : parent + " " + name
                #expect(Self.commands.contains(command), "no snapshot for '\(command)'")
            }
        }
    }
}
