// The CLI runs on OpenBLAS kernels that fit the CPU even where Debian's OpenBLAS 0.3.21 does not know the CPU
// (BLAS.suggestedCoreType has the why). On this repository's machine of 2026-12-02 (Emerald Rapids) the command
// ran on Prescott's kernels before the restart: the check below failed there with "Prescott".

import Testing
import Foundation
import Bert
import TestSupport

@Suite struct BLASKernelTests {
    /// With OPENBLAS_VERBOSE=2 OpenBLAS prints "Core: NAME" each time it loads; the last one is what the command ran on.
    @Test func commandRunsOnKernelsAtTheCPUsLevel() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Bertkit.executable)
        process.arguments = ["--help"]
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = nil
        environment["OPENBLAS_VERBOSE"] = "2"
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let cores = stderr.split(separator: "\n").filter { $0.hasPrefix("Core: ") }.map { String($0.dropFirst(6)) }
        let core = try #require(cores.last, "OpenBLAS printed no core: \(stderr)")
        if BLAS.cpuLevel >= 3 {
            #expect(!BLAS.coresBelowAVX2.contains(core), "CPU level \(BLAS.cpuLevel), OpenBLAS kernels \(cores)")
        }
    }
}
