// `bertkit-fuzz`: libFuzzer's entry points for the target named by BERTKIT_FUZZ_TARGET (Tools/fuzz builds it with
// `swift build --sanitize fuzzer -Xswiftc -DBERTKIT_LIBFUZZER`, which links libFuzzer's own main), and, in an ordinary
// build, a replay driver: `bertkit-fuzz TARGET FILE…` runs the target once per file, to reproduce a finding in a
// debugger or under another sanitizer.

#if canImport(Glibc)
import Glibc
#endif
import FuzzTargets
import TensorCore

nonisolated(unsafe) var selectedTarget: FuzzTarget?

func fail(_ message: String) -> Never {
    let line = Array("error: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}

/// Picks the target; with BERTKIT_FUZZ_SEEDS_TO set, writes its seed corpus into that folder and exits instead.
func select(_ name: String?) -> FuzzTarget {
    guard let name else { fail("set BERTKIT_FUZZ_TARGET to one of: \(FuzzTarget.all.map(\.name).joined(separator: ", "))") }
    guard let target = FuzzTarget.named(name) else {
        fail("no fuzz target '\(name)'; there are: \(FuzzTarget.all.map(\.name).joined(separator: ", "))")
    }
    return target
}

func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

/// BERTKIT_FUZZ_LIST: print the targets; BERTKIT_FUZZ_SEEDS_TO: write the chosen target's seeds there. Both exit.
func handleRequests(target: () -> FuzzTarget) {
    if environment("BERTKIT_FUZZ_LIST") != nil {
        for target in FuzzTarget.all { print("\(target.name)\t\(target.summary)") }
        exit(0)
    }
    if let folder = environment("BERTKIT_FUZZ_SEEDS_TO") {
        let chosen = target()
        let seeds = chosen.seeds(environment("BERTKIT_ROOT") ?? ".")
        for (index, seed) in seeds.enumerated() {
            let path = "\(folder)/seed-\(index)"
            do throws(SystemError) {
                let output = try AtomicFileWriter(destination: path, durable: false)
                try output.write(seed)
                try output.commit()
            } catch {
                fail("cannot write \(path): \(error)")
            }
        }
        print("\(seeds.count) seeds for \(chosen.name) written to \(folder)")
        exit(0)
    }
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>) -> CInt {
    handleRequests { select(environment("BERTKIT_FUZZ_TARGET")) }
    selectedTarget = select(environment("BERTKIT_FUZZ_TARGET"))
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selectedTarget!.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if !BERTKIT_LIBFUZZER
@main
struct Replay {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        handleRequests { select(environment("BERTKIT_FUZZ_TARGET") ?? arguments.first) }
        guard let name = arguments.first, arguments.count >= 2 else {
            fail("usage: bertkit-fuzz TARGET FILE… (replays each file through the target; Tools/fuzz runs libFuzzer)")
        }
        let target = select(name)
        for path in arguments.dropFirst() {
            guard let bytes = try? readFileBytes(path) else { fail("cannot read \(path)") }
            bytes.withUnsafeBytes { target.run($0) }
            print("\(path): ok")
        }
    }
}
#endif
