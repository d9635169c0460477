// Reading, inspecting and converting checkpoint files.

internal import TensorCore
internal import Checkpoints
internal import Pipelines

/// How a checkpoint file stores its tensors; BertKit tells it from the file's content, not its name.
public enum CheckpointFormat: String, Sendable, Hashable, CaseIterable {
    /// Hugging Face's safetensors (`model.safetensors`, sharded with an index).
    case safetensors
    /// `torch.save`'s zip archive (`pytorch_model.bin` since PyTorch 1.6).
    case pytorchZip = "pytorch-zip"
    /// `torch.save`'s legacy pickle format (before PyTorch 1.6).
    case pytorchLegacy = "pytorch-legacy"
    /// Keras' `tf_model.h5`, as transformers' TensorFlow classes save it.
    case kerasH5 = "keras-h5"
    /// HDF5 with one dataset per tensor.
    case hdf5
    /// llama.cpp's GGUF.
    case gguf
    /// An ONNX graph's initializers.
    case onnx

    init(_ format: Checkpoints.CheckpointFormat) { self = CheckpointFormat(rawValue: format.rawValue)! }
}

/// A format a checkpoint can be converted to.
public enum ConversionFormat: String, Sendable, Hashable, CaseIterable {
    /// `model.safetensors`.
    case safetensors
    /// `pytorch_model.bin` (zip), loadable by `torch.load(weights_only=True)`.
    case pytorch
    /// HDF5: `tf_model.h5` in Keras' layout for a model, one dataset per tensor otherwise.
    case hdf5

    var family: Checkpoints.CheckpointFormat.Family { .init(rawValue: rawValue)! }
}

/// A floating-point type tensors can be cast to.
public enum FloatType: String, Sendable, Hashable, CaseIterable {
    /// IEEE single precision.
    case f32
    /// IEEE half precision.
    case f16
    /// bfloat16 (round to nearest even, as `.to(torch.bfloat16)`).
    case bf16

    var dtype: DType { switch self { case .f32: .f32; case .f16: .f16; case .bf16: .bf16 } }
}

/// A GGUF file's number format for the weight matrices (llama.cpp's `--outtype`).
public enum GGUFType: String, Sendable, Hashable, CaseIterable {
    /// Everything in f32.
    case f32
    /// Matrices in f16 (llama.cpp's default).
    case f16
    /// Matrices in llama.cpp's 8-bit blocks.
    case q8_0

    var internalValue: GGUFFileType { GGUFFileType(rawValue: rawValue)! }
}

/// What a checkpoint file (or model directory) holds: its format, tensors and metadata.
///
/// ```swift
/// let checkpoint = try Checkpoint(contentsOf: "bert/pytorch_model.bin")
/// print(checkpoint.format, checkpoint.tensors.count)
/// try Checkpoint.convert("bert/pytorch_model.bin", to: "bert/model.safetensors", format: .safetensors)
/// ```
public struct Checkpoint: Sendable, Hashable {
    /// One tensor's description.
    public struct TensorInfo: Sendable, Hashable {
        /// Its name in the file.
        public var name: String
        /// Its element type, in safetensors' spelling (`F32`, `BF16`, `I64`…).
        public var dtype: String
        /// Its shape.
        public var shape: [Int]
        /// Its number of elements.
        public var elementCount: Int
        /// Its size in bytes.
        public var byteCount: Int
        /// The CRC-32 of its bytes as 8 hex digits, when read with `checksums` (two files with equal checksums hold
        /// identical data).
        public var crc32: String?
    }

    /// The format the content says.
    public var format: CheckpointFormat
    /// The files read (one, or a sharded checkpoint's shards).
    public var files: [String]
    /// The tensors, sorted by name.
    public var tensors: [TensorInfo]
    /// The file's string metadata (safetensors' `__metadata__`, GGUF's keys…); nil for a format that has none.
    public var metadata: [String: String]?
    /// Remarks on the file (which class a `tf_model.h5` was saved as, storage shared by two tensors).
    public var notes: [String]

    /// Reads a checkpoint file, an index of shards, or a model directory's weights (the file transformers would load).
    /// - Parameters:
    ///   - path: The file, index or directory.
    ///   - checksums: Also read every tensor's bytes for its ``TensorInfo/crc32`` (the listing alone reads headers only).
    /// - Throws: ``BertKitError/file(path:message:)`` naming the file and what is wrong with it.
    public init(contentsOf path: String, checksums: Bool = false) throws(BertKitError) {
        let loaded = try BertKitError.mapping { try CheckpointReader.load(path: path) }
        format = CheckpointFormat(loaded.format)
        files = loaded.files
        let entries = loaded.store.entries.sorted { $0.name.unicodeScalars.lexicographicallyPrecedes($1.name.unicodeScalars) }
        let crcs = checksums ? CRC32.checksums(of: entries.map(\.tensor)).map(CRC32.hex) : []
        tensors = entries.enumerated().map { index, entry in
            TensorInfo(name: entry.name, dtype: entry.tensor.dtype.rawValue, shape: entry.tensor.shape,
                       elementCount: entry.tensor.elementCount, byteCount: entry.tensor.byteCount, crc32: checksums ? crcs[index] : nil)
        }
        metadata = loaded.hasMetadata ? loaded.store.metadata : nil
        notes = loaded.notes
    }

    /// Writes a checkpoint in another format or float type: every tensor with its name, shape and values (cast when
    /// `dtype` is given). `output` is a file, or a directory (then Hugging Face's file name for the format is used).
    /// The file appears whole or not at all.
    /// - Parameters:
    ///   - input: A checkpoint file, an index of shards, or a model directory.
    ///   - output: The file to write, or a directory.
    ///   - format: The format to write.
    ///   - dtype: The float type to cast floating-point tensors to; nil keeps each tensor's own.
    ///   - maxShardSize: Splits the output into shards of at most this many bytes, with an index, as
    ///     `save_pretrained(max_shard_size=…)`.
    /// - Returns: the files written.
    @discardableResult
    public static func convert(_ input: String, to output: String, format: ConversionFormat, dtype: FloatType? = nil,
                               maxShardSize: Int? = nil) throws(BertKitError) -> [String] {
        if let maxShardSize, maxShardSize < 1 { throw .invalidArgument("maxShardSize must be at least 1 byte") }
        var options = ConversionOptions(family: format.family)
        options.dtype = dtype?.dtype
        options.maxShardSize = maxShardSize
        return try BertKitError.mapping { try Conversion.convert(input: input, output: output, options: options).files }
    }

    /// Writes a model directory as one GGUF file, as llama.cpp's `convert_hf_to_gguf.py` writes a BERT (for
    /// llama.cpp's embedding server).
    public static func exportGGUF(modelDirectory: String, to path: String, type: GGUFType = .f16) throws(BertKitError) {
        _ = try BertKitError.mapping { try GGUFModels.export(modelDirectory: modelDirectory, to: path, fileType: type.internalValue) }
    }

    /// Writes a model directory (with a PEFT LoRA adapter merged, when given) as an ONNX graph with the inputs and
    /// outputs of transformers' ONNX export, for ONNX Runtime.
    public static func exportONNX(modelDirectory: String, to path: String, adapter: String? = nil) throws(BertKitError) {
        _ = try BertKitError.mapping { try ONNXExport.export(modelDirectory: modelDirectory, to: path, adapter: adapter) }
    }

    /// Writes a GGUF BERT back as a Hugging Face model directory (safetensors, config.json, tokenizer files).
    /// - Returns: the files written.
    @discardableResult
    public static func importGGUF(_ path: String, toDirectory directory: String) throws(BertKitError) -> [String] {
        try BertKitError.mapping { try GGUFModels.importModel(from: path, to: directory).files }
    }
}
