// Help and usage errors: help prints and exits 0; a usage or validation error is one `error:` line and exit 1,
// like every other failure.

import Testing
import TestSupport

@Suite struct UsageTests {
    @Test(arguments: [["--help"], ["convert", "--help"], ["fill-mask", "--help"], ["help", "finetune"]])
    func helpPrintsUsageAndExitsZero(_ arguments: [String]) throws {
        let result = try Bertkit.run(arguments)
        #expect(result.status == 0, "\(arguments): \(result.stderr)")
        #expect(result.stdout.contains("USAGE:"), "\(arguments): \(result.stdout)")
        #expect(!result.stderr.contains("error:"))
    }

    @Test(arguments: [["convert"], ["inspect", "a", "b"], ["convert", "a", "b", "--dtype", "f8"], ["frobnicate"]])
    func usageErrorsAreOneErrorLine(_ arguments: [String]) throws {
        let result = try Bertkit.run(arguments)
        #expect(result.status == 1, "\(arguments): \(result.status)")
        #expect(result.stderr.hasPrefix("error: ") && result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
        #expect(result.stdout.isEmpty)
    }
}
