// Damaged tf_model.h5 files on which libhdf5 crashes (SIGSEGV, SIGABRT) or loops when it runs in-process
// (Fixtures/hdf5/hostile/cases.json, made by Tools/fixtures/make_hostile_h5.py as patches to the genuine files).
// bertkit reads HDF5 in a child process (Sources/Checkpoints/IsolatedHDF5.swift): each must end in exit 1 with
// one `error:` line naming the file, no libhdf5 printout, no output file, and the input untouched.

import Testing
import Foundation
import TestSupport

@Suite struct HostileHDF5Tests {
    struct Case: Sendable, CustomStringConvertible {
        let base: String, corruption: String, verdict: String, bytes: [UInt8]
        var description: String { "\(base) \(corruption) (in-process: \(verdict))" }
    }

    static let cases: [Case] = {
        let json = try! JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("hdf5/hostile/cases.json")))) as! [String: Any]
        return (json["cases"] as! [[String: Any]]).map { item in
            let base = item["base"] as! String
            var bytes = [UInt8](try! Data(contentsOf: URL(fileURLWithPath: Fixtures.path(base))))
            let length = item["length"] as! Int
            if length < bytes.count { bytes.removeLast(bytes.count - length) }
            for patch in item["patches"] as! [[Any]] {
                let offset = patch[0] as! Int, hex = Array((patch[1] as! String).utf8)
                let values = stride(from: 0, to: hex.count, by: 2).map { UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
                for (i, value) in values.enumerated() {
                    if offset + i < bytes.count { bytes[offset + i] = value } else { bytes.append(value) }
                }
            }
            return Case(base: base, corruption: item["corruption"] as! String, verdict: item["libhdf5_in_process"] as! String, bytes: bytes)
        }
    }()

    @Test func theFixtureHoldsCrashesAndHangs() {
        #expect(Self.cases.contains { $0.verdict.hasPrefix("signal") })
        #expect(Self.cases.contains { $0.verdict.hasPrefix("no end") })
    }

    @Test(arguments: cases)
    func endsInOneErrorLine(_ hostile: Case) throws {
        let folder = TemporaryDirectory()
        let path = folder.file("tf_model.h5")
        try Data(hostile.bytes).write(to: URL(fileURLWithPath: path))
        let out = folder.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        // A short deadline: these files are small, and the loops never end.
        let environment = ["BERTKIT_HDF5_TIMEOUT": "2", "BERTKIT_THREADS": "1"]
        for arguments in [["inspect", path], ["convert", path, out + "/model.safetensors"]] {
            let result = try Bertkit.run(arguments, environment: environment)
            #expect(result.status == 1, "\(arguments[0]): exit \(result.status) \(result.stderr)")
            #expect(result.stderr.hasPrefix("error: \(path): ") && result.stderr.split(separator: "\n").count == 1,
                    "\(arguments[0]): \(result.stderr)")
            #expect(!result.stderr.contains("HDF5-DIAG"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["out", "tf_model.h5"])
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) == hostile.bytes)
    }
}
