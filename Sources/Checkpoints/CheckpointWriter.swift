// Writes a `TensorStore` in any supported format, to a file or into a model directory.

import TensorCore
import Safetensors
import PyTorch
import HDF5

package struct CheckpointWriteOptions: Sendable {
    package var family: CheckpointFormat.Family
    /// Split into shards plus an index when set.
    package var maxShardSize: Int?
    /// safetensors `__metadata__`; nil omits it. (Also the plain HDF5 layout's root attributes.)
    package var metadata: [String: String]?
    /// HDF5 only: Keras tf_model.h5, plain, or Keras when the tensors are a BERT; and config.json's
    /// first `architectures` entry, which picks the TF class where the names leave a choice.
    package var hdf5Layout: HDF5Checkpoint.LayoutChoice = .automatic
    package var architecture: String?

    package init(family: CheckpointFormat.Family, maxShardSize: Int? = nil,
                metadata: [String: String]? = SafetensorsWriter.defaultMetadata) {
        self.family = family
        self.maxShardSize = maxShardSize
        self.metadata = metadata
    }
}

package enum CheckpointWriter {
    /// The family an output path implies by its extension, if any.
    package static func family(forExtensionOf path: String) -> CheckpointFormat.Family? {
        let lower = path.lowercased()
        if lower.hasSuffix(".safetensors") { return .safetensors }
        if lower.hasSuffix(".bin") || lower.hasSuffix(".pt") || lower.hasSuffix(".pth") { return .pytorch }
        if lower.hasSuffix(".h5") || lower.hasSuffix(".hdf5") { return .hdf5 }
        if lower.hasSuffix(".gguf") { return .gguf }
        if lower.hasSuffix(".onnx") { return .onnx }
        return nil
    }

    /// The Hugging Face file name for a family inside a model directory.
    package static func directoryFileName(for family: CheckpointFormat.Family) -> String {
        switch family {
        case .safetensors: return "model.safetensors"
        case .pytorch: return "pytorch_model.bin"
        case .hdf5: return "tf_model.h5"
        case .gguf: return "model.gguf"
        case .onnx: return "model.onnx"
        }
    }

    /// Writes `store` to `path` (a file) or, when `path` is a directory or ends in `/`, under the Hugging Face
    /// name in it (a missing folder is made, as `save_pretrained` makes it, and removed again if the write
    /// fails). Returns the paths written.
    @discardableResult
    package static func write(_ store: TensorStore, to path: String, options: CheckpointWriteOptions) throws -> [String] {
        let trimmed = trimmingTrailingSlashes(path)
        guard path.hasSuffix("/") && !isDirectory(trimmed) else { return try writeFiles(store, to: trimmed, options: options) }
        try makeDirectory(trimmed)
        do {
            return try writeFiles(store, to: trimmed, options: options)
        } catch {
            removeTree(trimmed)   // the folder this call made: nothing was written into it but our own output
            throw error
        }
    }

    private static func writeFiles(_ store: TensorStore, to path: String, options: CheckpointWriteOptions) throws -> [String] {
        let fileName = directoryFileName(for: options.family)
        let (folder, target): (String, String) = isDirectory(path)
            ? (path, path + "/" + fileName)
            : (path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ".", path)
        switch options.family {
        case .safetensors:
            if let maxShardSize = options.maxShardSize {
                let stem = String(target.split(separator: "/").last!.split(separator: ".").first ?? "model")
                return try ShardedSafetensors.write(store, directory: folder, stem: stem, maxShardSize: maxShardSize,
                                                    metadata: options.metadata).map { folder + "/" + $0 }
            }
            try SafetensorsWriter.write(store, to: target, metadata: options.metadata)
            return [target]
        case .pytorch:
            if let maxShardSize = options.maxShardSize {
                let stem = String(target.split(separator: "/").last!.split(separator: ".").first ?? "pytorch_model")
                return try PyTorchWriter.writeSharded(store, directory: folder, stem: stem, maxShardSize: maxShardSize)
                    .map { folder + "/" + $0 }
            }
            try PyTorchWriter.write(store, to: target)
            return [target]
        case .hdf5:
            try HDF5Checkpoint.write(store, to: target, layout: options.hdf5Layout, architecture: options.architecture,
                                     metadata: options.metadata)
            return [target]
        case .gguf:
            throw FileError(path: target, cause: CheckpointError.ggufNeedsModelDirectory)
        case .onnx:
            throw FileError(path: target, cause: CheckpointError.onnxNeedsModelDirectory)
        }
    }
}
