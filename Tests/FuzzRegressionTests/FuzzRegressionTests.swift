// Every file under Fixtures/fuzz/<target>/ — inputs on which a fuzz target once crashed, hung or over-allocated, kept
// after the fix — replayed through the same target the fuzzer ran (Tests/Fuzz/Targets). A regression traps and takes
// the test process down, which fails the suite. HDF5 files go through `bertkit inspect` instead: some of them crash
// libhdf5 itself, and the command's answer to that is its child process (IsolatedHDF5.swift).

import Testing
import Foundation
import TestSupport
import FuzzTargets

@Suite struct FuzzRegressionTests {
    struct Input: Sendable, CustomStringConvertible {
        let target: String, file: String
        var description: String { "\(target)/\(file)" }
        var path: String { Fixtures.path("fuzz/\(target)/\(file)") }
    }

    /// The package root, also handed to the targets as BERTKIT_ROOT (where they find their fixtures).
    static let root: String = {
        setenv("BERTKIT_ROOT", Fixtures.packageRoot, 1)
        return Fixtures.packageRoot
    }()

    static let inputs: [Input] = {
        _ = root
        let folder = Fixtures.path("fuzz")
        let targets = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
        return targets.filter { !$0.hasPrefix(".") && FuzzTarget.named($0) != nil }.flatMap { target in
            ((try? FileManager.default.contentsOfDirectory(atPath: folder + "/" + target)) ?? []).sorted()
                .filter { !$0.hasPrefix(".") }.map { Input(target: target, file: $0) }
        }
    }()

    @Test func everyFuzzFolderNamesATarget() throws {
        let folders = try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("fuzz")).filter {
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(atPath: Fixtures.path("fuzz/\($0)"), isDirectory: &isFolder) && isFolder.boolValue
        }
        for folder in folders { #expect(FuzzTarget.named(folder) != nil, "Fixtures/fuzz/\(folder) names no fuzz target") }
    }

    @Test(arguments: inputs.filter { $0.target != "hdf5" })
    func replaysWithoutCrashing(_ input: Input) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: input.path)))
        let target = try #require(FuzzTarget.named(input.target))
        bytes.withUnsafeBytes { target.run($0) }
    }

    @Test(arguments: inputs.filter { $0.target == "hdf5" })
    func hdf5EndsInExitZeroOrOneErrorLine(_ input: Input) throws {
        let folder = TemporaryDirectory()
        let path = folder.file("model.h5")
        try FileManager.default.copyItem(atPath: input.path, toPath: path)
        let result = try Bertkit.run(["inspect", path], environment: ["BERTKIT_HDF5_TIMEOUT": "2", "BERTKIT_THREADS": "1"])
        #expect(result.status == 0 || result.status == 1, "exit \(result.status): \(result.stderr)")
        if result.status == 1 {
            #expect(result.stderr.hasPrefix("error: \(path): ") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        }
        #expect(!result.stderr.contains("HDF5-DIAG"))
    }

    /// Each target's seed corpus is built from Fixtures/: an empty one means a fixture moved and the fuzzer would start
    /// from nothing.
    @Test(arguments: FuzzTarget.all.map(\.name))
    func seedsAreFoundAndReplay(_ name: String) throws {
        let target = try #require(FuzzTarget.named(name))
        let seeds = target.seeds(Self.root)
        #expect(seeds.count >= 3, "\(name): \(seeds.count) seeds")
        if name != "hdf5" { for seed in seeds { seed.withUnsafeBytes { target.run($0) } } }
    }
}
