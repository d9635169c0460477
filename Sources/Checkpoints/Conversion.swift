// The `convert` job as a library call: load, adjust (dtype, tied duplicates), write.

import TensorCore
import Safetensors
import HDF5
import ModelCatalog

package struct ConversionOptions: Sendable {
    package var family: CheckpointFormat.Family
    package var dtype: DType?
    package var maxShardSize: Int?
    package var keepMetadata = false
    /// Rename old `LayerNorm.gamma/beta` (and the other transformers "legacy" keys) as transformers does on load.
    package var hfNames = false

    /// HDF5 output: which layout (`--layout`).
    package var hdf5Layout: HDF5Checkpoint.LayoutChoice = .automatic

    package init(family: CheckpointFormat.Family) { self.family = family }

    package static func floatDType(_ text: String) -> DType? {
        switch text.lowercased() {
        case "f32", "float32", "fp32": return .f32
        case "f16", "float16", "fp16", "half": return .f16
        case "bf16", "bfloat16": return .bf16
        default: return nil
        }
    }
}

package struct ConversionReport: Sendable {
    package var files: [String]
    package var tensorCount: Int
    package var format: String
    package var droppedDuplicates: [(dropped: String, kept: String)]
    /// Remarks for the user (e.g. which TF class a tf_model.h5 was written as).
    package var notes: [String] = []
}

package enum Conversion {
    package static func convert(input: String, output: String, options: ConversionOptions) throws -> ConversionReport {
        let loaded = try CheckpointReader.load(path: input)
        var store = loaded.store
        if let dtype = options.dtype { store = castFloatingTensors(store, to: dtype) }
        if options.hfNames { store = LegacyNames.renamed(store) }
        var dropped: [(String, String)] = []
        if options.family == .safetensors {
            (store, dropped) = TiedWeights.removeSharedDuplicates(store)
        }
        var writeOptions = CheckpointWriteOptions(family: options.family, maxShardSize: options.maxShardSize)
        if options.keepMetadata && loaded.format == .safetensors {
            writeOptions.metadata = loaded.hasMetadata ? loaded.store.metadata : nil
        }
        var format = options.family.rawValue, notes: [String] = []
        if options.family == .hdf5 {   // HDF5: settle the layout first, to report it
            writeOptions.architecture = isDirectory(input) ? ModelDirectory.architecture(in: input) : nil
            let (layout, note) = try withFileContext(output) {
                try HDF5Checkpoint.resolveLayout(store, choice: options.hdf5Layout, architecture: writeOptions.architecture)
            }
            writeOptions.hdf5Layout = layout == .keras ? .keras : .plain
            format = layout.rawValue
            notes.append(note)
        }
        let files = try CheckpointWriter.write(store, to: output, options: writeOptions)
        var report = ConversionReport(files: files, tensorCount: store.count, format: format,
                                      droppedDuplicates: dropped)
        report.notes = notes
        return report
    }

    /// Casts every F32/F16/BF16/F64 tensor to `dtype`; integer, bool and exotic tensors are kept.
    /// Tensors that share their bytes (tied weights from a PyTorch file) still share them afterwards.
    package static func castFloatingTensors(_ store: TensorStore, to dtype: DType) -> TensorStore {
        var result = TensorStore()
        var converted: [ObjectIdentifier: [(view: ByteView, tensor: Tensor)]] = [:]
        for (name, tensor) in store.entries {
            let key = ObjectIdentifier(tensor.data.buffer)
            if tensor.byteCount > 0, let done = converted[key]?.first(where: { $0.view.isSameStorage(as: tensor.data) && $0.tensor.shape == tensor.shape }) {
                result[name] = done.tensor
                continue
            }
            let cast = tensor.converted(to: dtype) ?? tensor
            converted[key, default: []].append((tensor.data, cast))
            result[name] = cast
        }
        result.metadata = store.metadata
        return result
    }
}
