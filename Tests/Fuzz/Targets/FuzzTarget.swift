// The fuzz targets: one per kind of file a user can hand bertkit. Each takes the fuzzer's bytes, gives them to the
// same library code the CLI runs, and ignores thrown errors — refusing a file is the right answer. What counts as a
// finding is everything else: a trap (overflow, index out of range, force-unwrap), an AddressSanitizer report, a
// hang (libFuzzer's -timeout) or an allocation past libFuzzer's -malloc_limit_mb.
//
// The same targets run in three places (Tests/Fuzz/README.md):
//   - `Tools/fuzz` builds `bertkit-fuzz` with libFuzzer (`swift build --sanitize fuzzer`) and runs them;
//   - `bertkit-fuzz TARGET FILE…` in an ordinary build replays files (to reproduce a finding without libFuzzer);
//   - FuzzRegressionTests replays every file under Fixtures/fuzz/<target>/ in the Swift suite.

#if canImport(Glibc)
import Glibc
#endif
import TensorCore

public struct FuzzTarget: Sendable {
    /// The name `Tools/fuzz` and the Fixtures/fuzz folder use.
    public let name: String
    /// What the target reaches, for `Tools/fuzz --list`.
    public let summary: String
    /// Takes one input. Must not throw: the target catches what the library refuses.
    public let run: @Sendable (UnsafeRawBufferPointer) -> Void
    /// Seed inputs built from the repository's fixtures (paths relative to the repository root). Targets whose input
    /// is several files joined together build their seeds here.
    public let seeds: @Sendable (_ root: String) -> [[UInt8]]

    public static let all: [FuzzTarget] = [
        safetensorsTarget, pytorchTarget, pickleTarget, hdf5Target, ggufTarget, onnxTarget,
        configTarget, tokenizerTarget, bpeTokenizerTarget, peftTarget, datasetsTarget,
    ]

    public static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }
}

/// Splits an input at the first `separator` byte: how targets whose input is two files (a tokenizer.json and the text
/// to encode, an adapter_config.json and its weights) take them from one byte string. No separator: all of it is the
/// first part.
func splitInput(_ bytes: UnsafeRawBufferPointer, separator: UInt8 = 0) -> (first: [UInt8], second: [UInt8]) {
    guard let cut = bytes.firstIndex(of: separator) else { return (Array(bytes), []) }
    return (Array(bytes[..<cut]), Array(bytes[(cut + 1)...]))
}

/// `first` + separator + `second`: a seed for a two-part target.
func joinInput(_ first: [UInt8], _ second: [UInt8], separator: UInt8 = 0) -> [UInt8] { first + [separator] + second }

/// The files under `folder` (one level), read; missing folders give nothing.
func filesIn(_ folder: String, suffix: String = "") -> [[UInt8]] {
    listDirectory(folder).filter { $0.hasSuffix(suffix) && !isDirectory(folder + "/" + $0) }.sorted()
        .compactMap { try? readFileBytes(folder + "/" + $0) }
}

/// The files under `folder` and its sub-folders whose names end with `suffix`, read.
func filesUnder(_ folder: String, suffix: String) -> [[UInt8]] {
    var found = filesIn(folder, suffix: suffix)
    for name in listDirectory(folder) where isDirectory(folder + "/" + name) { found += filesUnder(folder + "/" + name, suffix: suffix) }
    return found
}

func file(_ path: String) -> [[UInt8]] { (try? readFileBytes(path)).map { [$0] } ?? [] }

/// `try?` that, with BERTKIT_FUZZ_VERBOSE set, prints what was refused: to see how deep the seeds reach.
func attempt<T>(_ body: () throws -> T) -> T? {
    do { return try body() } catch {
        if verbose { print("refused: \(error)") }
        return nil
    }
}

let verbose = getenv("BERTKIT_FUZZ_VERBOSE") != nil
