// Reading, inspecting and converting checkpoint files.

internal import TensorCore
internal import Checkpoints
internal import HDF5
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

    // The mappings between the public values and the implementation's are switches, not raw values: a case added on
    // either side stops the build here instead of trapping at run time.
    init(_ format: Checkpoints.CheckpointFormat) {
        switch format {
        case .safetensors: self = .safetensors
        case .pytorchZip: self = .pytorchZip
        case .pytorchLegacy: self = .pytorchLegacy
        case .kerasH5: self = .kerasH5
        case .hdf5: self = .hdf5
        case .gguf: self = .gguf
        case .onnx: self = .onnx
        }
    }
}

/// A format a checkpoint can be converted to.
public enum ConversionFormat: String, Sendable, Hashable, CaseIterable {
    /// `model.safetensors`.
    case safetensors
    /// `pytorch_model.bin` (zip), loadable by `torch.load(weights_only=True)`.
    case pytorch
    /// HDF5: `tf_model.h5` in Keras' layout for a model, one dataset per tensor otherwise.
    case hdf5

    var family: Checkpoints.CheckpointFormat.Family {
        switch self { case .safetensors: .safetensors; case .pytorch: .pytorch; case .hdf5: .hdf5 }
    }
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

    /// A float type by any of its usual names: `f32`, `float32`, `fp32`; `f16`, `float16`, `fp16`, `half`; `bf16`,
    /// `bfloat16` (case-insensitive); nil for another.
    public init?(name: String) {
        switch Checkpoints.ConversionOptions.floatDType(name) {
        case .f32?: self = .f32
        case .f16?: self = .f16
        case .bf16?: self = .bf16
        default: return nil
        }
    }
}

/// A GGUF file's number format for the weight matrices (llama.cpp's `--outtype`).
public enum GGUFType: String, Sendable, Hashable, CaseIterable {
    /// Everything in f32.
    case f32
    /// Matrices in f16 (llama.cpp's default).
    case f16
    /// Matrices in llama.cpp's 8-bit blocks.
    case q8_0

    var internalValue: GGUFFileType { switch self { case .f32: .f32; case .f16: .f16; case .q8_0: .q8_0 } }
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
    /// `options.dtype` is given). `output` is a file, or a directory (then Hugging Face's file name for the format is
    /// used). The file appears whole or not at all.
    /// - Parameters:
    ///   - input: A checkpoint file, an index of shards, or a model directory.
    ///   - output: The file to write, or a directory.
    ///   - format: The format to write.
    ///   - options: The float type, shards, metadata, names and HDF5 layout of the output.
    /// - Returns: The files written, with a summary.
    @discardableResult
    public static func convert(_ input: String, to output: String, format: ConversionFormat,
                               options: ConversionOptions = ConversionOptions()) throws(BertKitError) -> ConversionSummary {
        if let maxShardSize = options.maxShardSize, maxShardSize < 1 { throw .invalidArgument("maxShardSize must be at least 1 byte") }
        var settings = Checkpoints.ConversionOptions(family: format.family)
        settings.dtype = options.dtype?.dtype
        settings.maxShardSize = options.maxShardSize
        settings.keepMetadata = options.keepMetadata
        settings.hfNames = options.transformersNames
        settings.hdf5Layout = options.hdf5Layout.internalValue
        let report = try BertKitError.mapping { try Conversion.convert(input: input, output: output, options: settings) }
        return ConversionSummary(files: report.files, description: "\(report.tensorCount) tensors, \(report.format)",
                                 notes: report.droppedDuplicates.map { "'\($0.dropped)' shares storage with '\($0.kept)'; kept '\($0.kept)' only" }
                                     + report.notes)
    }

    /// Writes a model directory as one GGUF file, as llama.cpp's `convert_hf_to_gguf.py` writes a BERT (for
    /// llama.cpp's embedding server). `path` is the file, or a directory to write `model.gguf` in.
    @discardableResult
    public static func exportGGUF(modelDirectory: String, to path: String, type: GGUFType = .f16) throws(BertKitError) -> ConversionSummary {
        try BertKitError.mapping {
            let report = try GGUFModels.export(modelDirectory: modelDirectory, to: try ModelExport.outputFile(path, family: .gguf),
                                               fileType: type.internalValue)
            return ConversionSummary(files: [report.path], description: "\(report.tensorCount) tensors, gguf \(report.fileType.rawValue)",
                                     notes: report.notes)
        }
    }

    /// Writes a model directory (with a PEFT LoRA adapter merged, when given) as an ONNX graph with the inputs and
    /// outputs of transformers' ONNX export, for ONNX Runtime. `path` is the file, or a directory to write `model.onnx`
    /// in. The weights go into the graph, or with `externalData` (and always past 2 GB) into `path.data` beside it.
    @discardableResult
    public static func exportONNX(modelDirectory: String, to path: String, adapter: String? = nil,
                                  externalData: Bool = false) throws(BertKitError) -> ConversionSummary {
        try BertKitError.mapping {
            let report = try ONNXExport.export(modelDirectory: modelDirectory, to: try ModelExport.outputFile(path, family: .onnx),
                                               adapter: adapter, externalDataThreshold: externalData ? 0 : nil)
            return ConversionSummary(files: [report.path],
                                     description: "\(report.architecture), opset 17, \(report.nodeCount) nodes, \(report.initializerCount) "
                                        + "initializers; outputs \(report.outputs.joined(separator: ", "))",
                                     notes: report.notes)
        }
    }

    /// Writes a GGUF BERT back as a Hugging Face model directory (safetensors, config.json, tokenizer files).
    @discardableResult
    public static func importGGUF(_ path: String, toDirectory directory: String) throws(BertKitError) -> ConversionSummary {
        try BertKitError.mapping {
            let report = try GGUFModels.importModel(from: path, to: directory)
            return ConversionSummary(files: report.files, description: "\(report.tensorCount) tensors, \(report.architecture)",
                                     notes: report.notes)
        }
    }

    /// Folds a PEFT LoRA adapter into its base model (W + s·B·A, as PEFT's `merge_and_unload`) and writes the merged
    /// model as a model directory that transformers loads without PEFT.
    /// - Parameters:
    ///   - adapter: The adapter folder (`adapter_config.json` + `adapter_model.safetensors`).
    ///   - model: The base model directory, or Hub id in the local cache.
    ///   - directory: The output directory.
    ///   - head: The head to load the base with; nil follows the adapter's task type, as `PeftModel` does.
    ///   - alsoWriting: Weight files to write beside `model.safetensors` (``ConversionFormat/pytorch``, ``ConversionFormat/hdf5``).
    ///   - listingEveryName: List every tensor name in the load warnings (see ``PretrainedModel/loadReport(listingEveryName:)``).
    /// - Returns: The directory written; its notes are transformers' load warnings for the base and adapter.
    @discardableResult
    public static func mergeAdapter(_ adapter: String, into model: String, toDirectory directory: String, head: Head? = nil,
                                    alsoWriting: [ConversionFormat] = [],
                                    listingEveryName: Bool = false) throws(BertKitError) -> ConversionSummary {
        try BertKitError.mapping {
            let merged = try ModelExport.mergeAdapter(base: model, head: head?.internalValue, adapter: adapter, to: directory,
                                                      extraFormats: alsoWriting.map(\.family))
            return ConversionSummary(files: [directory], description: "\(merged.layers) adapted layers merged",
                                     notes: merged.loadReport.lines(verbose: listingEveryName))
        }
    }

    /// Whether a file is a GGUF file (by its magic bytes).
    public static func isGGUF(_ path: String) -> Bool { GGUFModels.isGGUF(path) }

    /// The format a file name's extension suggests (`.safetensors`, `.bin` / `.pt` / `.pth`, `.h5` / `.hdf5`,
    /// `.gguf`, `.onnx`), nil for another.
    public static func outputFormat(forExtensionOf path: String) -> OutputFormat? {
        CheckpointWriter.family(forExtensionOf: path).map { family -> OutputFormat in
            switch family { case .safetensors: .safetensors; case .pytorch: .pytorch; case .hdf5: .hdf5; case .gguf: .gguf; case .onnx: .onnx }
        }
    }
}

/// A format BertKit writes: the three tensor formats of ``ConversionFormat``, and the two deployment formats a model
/// directory is exported to.
public enum OutputFormat: String, Sendable, Hashable, CaseIterable {
    /// `model.safetensors`.
    case safetensors
    /// `pytorch_model.bin`.
    case pytorch
    /// `tf_model.h5`, or plain HDF5.
    case hdf5
    /// llama.cpp's GGUF (``Checkpoint/exportGGUF(modelDirectory:to:type:)``).
    case gguf
    /// An ONNX graph (``Checkpoint/exportONNX(modelDirectory:to:adapter:externalData:)``).
    case onnx

    /// The tensor format of the same name; nil for GGUF and ONNX, which are exported from model directories.
    public var conversionFormat: ConversionFormat? { ConversionFormat(rawValue: rawValue) }
}

/// How ``Checkpoint/convert(_:to:format:options:)`` writes.
public struct ConversionOptions: Sendable, Hashable {
    /// Cast floating-point tensors to this type (integer tensors are kept); nil keeps each tensor's own.
    public var dtype: FloatType? = nil
    /// Split into shards of at most this many bytes, with an index, as `save_pretrained(max_shard_size=…)`.
    public var maxShardSize: Int? = nil
    /// Keep the input's safetensors metadata instead of writing `{"format": "pt"}`.
    public var keepMetadata = false
    /// Rename old `LayerNorm.gamma` / `beta` keys to `weight` / `bias`, as transformers does on load.
    public var transformersNames = false
    /// HDF5 output's layout.
    public var hdf5Layout: HDF5Layout = .automatic

    /// Tensors as they are, one file, transformers' metadata.
    public init() {}
}

/// The layout of an HDF5 output.
public enum HDF5Layout: String, Sendable, Hashable, CaseIterable {
    /// Keras' when the tensors are a BERT that transformers' TF classes hold, plain otherwise.
    case automatic = "auto"
    /// A `tf_model.h5` of a TF BERT class.
    case keras
    /// One dataset per tensor.
    case plain

    var internalValue: HDF5Checkpoint.LayoutChoice { switch self { case .automatic: .automatic; case .keras: .keras; case .plain: .plain } }
}

/// What a conversion or export wrote.
public struct ConversionSummary: Sendable, Hashable {
    /// The files written.
    public var files: [String]
    /// What they hold, in a few words (`199 tensors, safetensors`; `BertModel, opset 17, 812 nodes, …`).
    public var description: String
    /// Remarks (tensors dropped because they shared storage, the class a `tf_model.h5` was written as).
    public var notes: [String]
}
