// Loads any supported checkpoint file (or a model directory's weights) into a `TensorStore`.

import TensorCore
import Safetensors
import PyTorch
import HDF5
import GGUF
import ONNX

/// What was loaded and from where.
package struct LoadedCheckpoint {
    package var format: CheckpointFormat
    package var store: TensorStore
    /// Files the tensors came from (several for a sharded checkpoint).
    package var files: [String]
    /// Codec-specific remarks for `inspect` (e.g. which entry of a nested dict held the state dict).
    package var notes: [String] = []
    /// safetensors only: whether the header had `__metadata__` at all (`safe_open().metadata()` is None
    /// when it had not).
    package var hasMetadata = true
}

package enum CheckpointReader {
    /// Where libhdf5 runs (IsolatedHDF5.swift): in this process by default; the `bertkit` command sets a child
    /// process, so that a damaged file cannot crash or hang it.
    nonisolated(unsafe) package static var hdf5Reading: HDF5Reading = .inProcess

    /// Loads a checkpoint file, an `*.index.json` of shards, or a model directory.
    package static func load(path: String) throws -> LoadedCheckpoint {
        if isDirectory(path) {
            return try load(path: try ModelDirectory.weightsFile(in: path))
        }
        if path.hasSuffix(".index.json") { return try loadIndex(path: path) }
        let format = try CheckpointDetector.detect(path: path)
        switch format {
        case .safetensors:
            let header = try SafetensorsReader.header(path: path)
            let store = try SafetensorsReader.read(path: path)
            var loaded = LoadedCheckpoint(format: .safetensors, store: store, files: [path])
            loaded.hasMetadata = header.metadata != nil
            return loaded
        case .pytorchZip, .pytorchLegacy:
            let checkpoint = try PyTorchReader.read(path: path)
            var loaded = LoadedCheckpoint(format: format, store: checkpoint.store, files: [path], notes: checkpoint.notes)
            loaded.hasMetadata = false
            return loaded
        case .hdf5, .kerasH5:   // Keras tf_model.h5 or the plain HDF5 layout
            let contents: HDF5Checkpoint.Contents
            switch hdf5Reading {
            case .inProcess: contents = try HDF5Checkpoint.read(path: path)
            case .childProcess(let executable): contents = try IsolatedHDF5.read(path: path, executable: executable)
            }
            return LoadedCheckpoint(format: contents.layout == .keras ? .kerasH5 : .hdf5, store: contents.store,
                                    files: [path], notes: contents.notes)
        case .gguf:
            let file = try GGUFFile.read(path: path)
            var store = try withFileContext(path) { try GGUFBertReader.stateDict(file) }
            // The metadata shown as text (`inspect`); the vocabulary arrays shortened.
            store.metadata = Dictionary(file.metadata.map { ($0.key, $0.value.description) }, uniquingKeysWith: { a, _ in a })
            var notes = ["tensors under their Hugging Face names (llama.cpp's in Formats/GGUF/SPEC.md)"]
            if file.tensors.contains(where: { $0.type == .q8_0 }) { notes.append("Q8_0 tensors dequantized to F32") }
            return LoadedCheckpoint(format: .gguf, store: store, files: [path], notes: notes)
        case .onnx:
            let file = try ONNXFile.read(path: path)
            // bertkit's own graph constants (`const::…`) are not weights; everything else is returned as stored.
            let store = TensorStore(file.initializers.entries.filter { !$0.name.hasPrefix("const::") }.map { ($0.name, $0.tensor) })
            func describe(_ values: [ONNXValueInfo]) -> String {
                values.map { "\($0.name) \($0.elementType?.name ?? "?") [\($0.dimensions.map(\.description).joined(separator: ", "))]" }
                    .joined(separator: "; ")
            }
            let opsets = file.opsets.map { ($0.domain.isEmpty ? "ai.onnx" : $0.domain) + " \($0.version)" }.joined(separator: ", ")
            var loaded = LoadedCheckpoint(format: .onnx, store: store, files: [path], notes: [
                "opset \(opsets), IR version \(file.irVersion), producer '\(file.producer)', \(file.nodeCount) nodes",
                "inputs: " + describe(file.inputs), "outputs: " + describe(file.outputs)])
            loaded.hasMetadata = false
            return loaded
        }
    }

    static func loadIndex(path: String) throws -> LoadedCheckpoint {
        let weightMap = try ShardIndex.readWeightMap(indexPath: path)
        let folder = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        var format: CheckpointFormat = .safetensors
        var notes: [String] = []
        let store = try ShardIndex.read(indexPath: path) { shardPath in
            let shard = try load(path: shardPath)
            format = shard.format
            notes += shard.notes
            return shard.store
        }
        var files: [String] = []
        for (_, file) in weightMap where !files.contains(folder + "/" + file) { files.append(folder + "/" + file) }
        var loaded = LoadedCheckpoint(format: format, store: store, files: files, notes: notes)
        loaded.hasMetadata = format == .safetensors   // PyTorch shards have no metadata
        return loaded
    }
}
