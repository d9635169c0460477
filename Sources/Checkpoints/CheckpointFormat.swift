// Which codec a file needs, told from its first bytes (never from its name), and the single entry
// points `CheckpointReader` / `CheckpointWriter` that the CLI and the model loader use.

import TensorCore
import Safetensors
import GGUF
import ONNX

package enum CheckpointFormat: String, Sendable, CaseIterable {
    case safetensors
    case pytorchZip = "pytorch-zip"
    case pytorchLegacy = "pytorch-legacy"
    case kerasH5 = "keras-h5"
    case hdf5
    case gguf
    case onnx

    /// The family a user names with `--to` / an extension.
    package enum Family: String, Sendable, CaseIterable { case safetensors, pytorch, hdf5, gguf, onnx }

    package var family: Family {
        switch self {
        case .safetensors: return .safetensors
        case .pytorchZip, .pytorchLegacy: return .pytorch
        case .kerasH5, .hdf5: return .hdf5
        case .gguf: return .gguf
        case .onnx: return .onnx
        }
    }
}

package enum CheckpointError: Error, CustomStringConvertible {
    case unrecognisedFormat(firstBytes: [UInt8])
    case emptyFile
    case noWeightsInDirectory(directory: String, looked: [String])
    case unknownFamily(String)
    case ggufNeedsModelDirectory
    case onnxNeedsModelDirectory

    package var description: String {
        switch self {
        case .unrecognisedFormat(let bytes):
            let hex = bytes.prefix(8).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
                .joined(separator: " ")
            return "not a checkpoint this tool reads (first bytes \(hex)); expected safetensors, a PyTorch zip or legacy pickle, HDF5, GGUF or ONNX"
        case .emptyFile: return "file is empty"
        case .noWeightsInDirectory(let directory, let looked):
            return "no weights in \(directory): looked for \(looked.joined(separator: ", "))"
        case .unknownFamily(let text): return "unknown format '\(text)': use safetensors, pytorch, hdf5, gguf or onnx"
        case .onnxNeedsModelDirectory:
            return "an ONNX graph is built from a model: convert a model directory (config.json and weights)"
        case .ggufNeedsModelDirectory:
            return "GGUF holds the tokenizer and hyperparameters too: convert a model directory (config.json, weights, tokenizer files)"
        }
    }
}

package enum CheckpointDetector {
    /// The format of the file at `path`, from its content.
    package static func detect(path: String) throws -> CheckpointFormat {
        try withFileContext(path) {
            let prefix = try readPrefix(path: path, count: 16)
            guard !prefix.isEmpty else { throw CheckpointError.emptyFile }
            if prefix.starts(with: [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) { return .hdf5 }
            if GGUFFile.looksLikeGGUF(prefix) { return .gguf }
            if prefix.starts(with: [0x50, 0x4B, 0x03, 0x04]) || prefix.starts(with: [0x50, 0x4B, 0x05, 0x06]) { return .pytorchZip }
            // A safetensors header length can start with 0x80 too, so its '{' at byte 8 is checked first.
            if prefix.count > 8 && prefix[8] == UInt8(ascii: "{") { return .safetensors }
            if prefix.count >= 2 && prefix[0] == 0x80 && (2...5).contains(prefix[1]) { return .pytorchLegacy }  // pickle PROTO
            if ONNXFile.looksLikeONNX(prefix) { return .onnx }
            // Too short for any format, or a damaged safetensors: let its reader say exactly what is wrong.
            if SafetensorsReader.looksLikeSafetensors(prefix) || prefix.count < 8 { return .safetensors }
            throw CheckpointError.unrecognisedFormat(firstBytes: prefix)
        }
    }

    static func readPrefix(path: String, count: Int) throws -> [UInt8] {
        let buffer = try ByteBuffer(mappingFileAt: path)
        return Array(UnsafeRawBufferPointer(start: buffer.baseAddress, count: min(count, buffer.count)))
    }
}
