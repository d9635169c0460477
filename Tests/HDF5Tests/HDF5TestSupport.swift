// Helpers for the HDF5 tests: fixture paths, safetensors expectations, bit-exact store comparison,
// and catching anything libhdf5 might print on stderr.

import Foundation
import Testing
import HDF5
import Safetensors
import TensorCore
import TestSupport

enum H5Fixtures {
    static func path(_ relative: String) -> String { Fixtures.path("hdf5/" + relative) }
    static func json(_ relative: String) throws -> Any { try Fixtures.json("hdf5/" + relative) }
    static func store(_ relative: String) throws -> TensorStore { try SafetensorsReader.read(path: path(relative)) }
    static func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// The genuine folders and the mapped state dict each must give.
    static let genuine: [(folder: String, mapped: String)] = [
        ("tf-h5/tf_bert_model", "mapped/tf_bert_model.safetensors"),
        ("tf-h5/tf_bert_for_sequence_classification", "mapped/tf_bert_for_sequence_classification.safetensors"),
        ("tf-h5/tf_bert_for_sequence_classification_12l", "mapped/tf_bert_for_sequence_classification_12l.safetensors"),
        ("tf-h5/legacy_h5py2/tf_bert_for_sequence_classification", "mapped/tf_bert_for_sequence_classification.safetensors"),
        ("tf-h5/legacy_h5py2/tf_bert_for_sequence_classification_12l", "mapped/tf_bert_for_sequence_classification_12l.safetensors"),
        ("tf_bert_for_masked_lm", "mapped/tf_bert_for_masked_lm.safetensors"),
        ("keras_chunked", "mapped/keras_chunked.safetensors"),
    ]
}

/// Records an issue for every tensor of `expected` that `actual` lacks or holds with other bits, and
/// for every extra tensor of `actual` not in `allowExtra`.
func expectSameTensors(_ actual: TensorStore, _ expected: TensorStore, allowExtra: Set<String> = [],
                       sourceLocation: SourceLocation = #_sourceLocation) {
    for (name, tensor) in expected.entries {
        guard let got = actual[name] else {
            Issue.record("missing tensor '\(name)'", sourceLocation: sourceLocation)
            continue
        }
        if !got.isBitwiseEqual(to: tensor) {
            Issue.record("'\(name)': got \(got.dtype.rawValue) \(got.shape), expected \(tensor.dtype.rawValue) \(tensor.shape) (or other bits)",
                         sourceLocation: sourceLocation)
        }
    }
    for name in actual.names where expected[name] == nil && !allowExtra.contains(name) {
        Issue.record("unexpected tensor '\(name)'", sourceLocation: sourceLocation)
    }
}

private let standardErrorLock = NSLock()

/// How libhdf5's error-stack printout begins. The whole phrase, not just "HDF5-DIAG": a capture also holds the test
/// runner's lines, and an expectation quoting the marker in another failing test must not match.
let libhdf5ErrorPrintout = "HDF5-DIAG: Error detected in HDF5 ("

/// Runs `body` with fd 2 redirected to a file and returns what was written there, then passes it on to
/// the real stderr. Captures never overlap (a lock), and the test runner's own lines written meanwhile
/// by other tests are passed on too, so callers look for libhdf5's printout (`libhdf5ErrorPrintout`), not emptiness.
func capturingStandardError(_ body: () throws -> Void) rethrows -> String {
    standardErrorLock.lock()
    defer { standardErrorLock.unlock() }
    let path = NSTemporaryDirectory() + "bertkit-stderr-\(UUID().uuidString)"
    let file = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let saved = dup(2)
    dup2(file, 2)
    func restore() -> String {
        dup2(saved, 2)
        close(saved)
        close(file)
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        unlink(path)
        if !text.isEmpty { FileHandle.standardError.write(Data(text.utf8)) }
        return text
    }
    do { try body() } catch {
        _ = restore()
        throw error
    }
    return restore()
}
