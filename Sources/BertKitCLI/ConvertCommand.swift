// `bertkit convert IN OUT`: rewrite a checkpoint in another format, dtype or shard layout; a model directory to
// GGUF or ONNX, and a GGUF file back to a model directory.

import ArgumentParser
import BertKit
import TensorCore   // argument parsing only: ShardIndex.parseSize, isDirectory

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a checkpoint between formats, float dtypes and shard layouts; a model directory to GGUF or ONNX.")

    @Argument(help: "Input checkpoint file, index file or model directory.")
    var input: String

    @Argument(help: "Output file, or a directory (then Hugging Face file names are used).")
    var output: String

    @Option(help: "Output format (default: from OUT's extension). gguf and onnx take a model directory as input.")
    var to: OutputFormat?

    @Option(help: "Cast floating-point tensors to this type (integer tensors are kept). GGUF: f32, f16 (the default) or q8_0, for the weight matrices.")
    var dtype: OutputDType?

    @Option(help: "Split into shards of at most this size (e.g. 500MB, 5GB) plus an index file.")
    var maxShardSize: String?

    @Option(help: "ONNX output: a PEFT LoRA adapter folder, merged into the weights before the graph is written.")
    var adapter: String?

    @Flag(help: "ONNX output: keep the weights in OUT.data beside the graph (ONNX external data; automatic past 2 GB).")
    var externalData = false

    @Flag(help: "Keep the input's safetensors metadata instead of writing {\"format\": \"pt\"}.")
    var keepMetadata = false

    @Flag(help: "Rename old LayerNorm.gamma/beta keys to weight/bias, as transformers does on load.")
    var hfNames = false

    @Option(help: "HDF5 output layout: keras (tf_model.h5 of a TF BERT class), plain (one dataset per tensor) or auto (keras when the tensors are a BERT; the default).")
    var layout: HDF5Layout?

    func validate() throws {
        if to == nil && Checkpoint.outputFormat(forExtensionOf: output) == nil && !isDirectory(output) && !output.hasSuffix("/") {
            throw ValidationError("cannot tell the output format from '\(output)': add --to safetensors|pytorch|hdf5|gguf|onnx")
        }
    }

    func run() throws {
        let format = to ?? Checkpoint.outputFormat(forExtensionOf: output) ?? .safetensors
        let summary: ConversionSummary
        switch format.conversionFormat {
        case nil where format == .gguf: summary = try writeGGUF()
        case nil: summary = try writeONNX()
        case let tensorFormat?:
            if adapter != nil || externalData {
                throw ValidationError("--adapter and --external-data apply to ONNX output only (`bertkit merge` merges adapters into checkpoints)")
            }
            if Checkpoint.isGGUF(input) && to == nil && (isDirectory(output) || output.hasSuffix("/")) {
                summary = try readGGUF()
                break
            }
            if let dtype, dtype.floatType == nil {
                throw ValidationError("--dtype \(dtype.text) applies to GGUF output only; use f32, f16 or bf16")
            }
            var options = ConversionOptions()
            options.dtype = dtype?.floatType
            if let maxShardSize { options.maxShardSize = try ShardIndex.parseSize(maxShardSize) }
            options.keepMetadata = keepMetadata
            options.transformersNames = hfNames
            if let layout {
                guard tensorFormat == .hdf5 else { throw ValidationError("--layout applies to HDF5 output only") }
                options.hdf5Layout = layout
            }
            summary = try Checkpoint.convert(input, to: output, format: tensorFormat, options: options)
        }
        for note in summary.notes { Console.info("note: \(note)") }
        Console.info("wrote \(summary.files.joined(separator: ", ")) (\(summary.description))")
    }

    /// A model directory to GGUF, as llama.cpp's converter writes it.
    func writeGGUF() throws -> ConversionSummary {
        guard maxShardSize == nil, layout == nil, !keepMetadata, !hfNames, adapter == nil, !externalData else {
            throw ValidationError("--max-shard-size, --layout, --keep-metadata, --hf-names, --adapter and --external-data do not apply to GGUF output")
        }
        var type = GGUFType.f16
        if let dtype {
            guard let chosen = dtype.ggufType else { throw ValidationError("GGUF output takes --dtype f32, f16 or q8_0, not \(dtype.text)") }
            type = chosen
        }
        return try Checkpoint.exportGGUF(modelDirectory: input, to: output, type: type)
    }

    /// A model directory (with a LoRA adapter merged) to an ONNX graph.
    func writeONNX() throws -> ConversionSummary {
        guard dtype == nil, maxShardSize == nil, layout == nil, !keepMetadata, !hfNames else {
            throw ValidationError("--dtype, --max-shard-size, --layout, --keep-metadata and --hf-names do not apply to ONNX output")
        }
        return try Checkpoint.exportONNX(modelDirectory: input, to: output, adapter: adapter, externalData: externalData)
    }

    /// A GGUF BERT to a Hugging Face directory.
    func readGGUF() throws -> ConversionSummary {
        guard dtype == nil, maxShardSize == nil, layout == nil, adapter == nil, !externalData else {
            throw ValidationError("a GGUF file is written back as it is stored: --dtype, --max-shard-size, --layout, --adapter and --external-data do not apply")
        }
        return try Checkpoint.importGGUF(input, toDirectory: trimmingTrailingSlashes(output))
    }
}

/// `--dtype`: a floating-point type a checkpoint can be cast to, by any name FloatType(name:) reads (f32, float32,
/// fp32, f16, half, bf16, bfloat16 …), or a GGUF file type (f32, f16, q8_0).
struct OutputDType: ExpressibleByArgument {
    let text: String
    let floatType: FloatType?
    let ggufType: GGUFType?
    init?(argument: String) {
        text = argument
        floatType = FloatType(name: argument)
        ggufType = GGUFType(rawValue: argument.lowercased())
            ?? floatType.flatMap { $0 == .f32 ? .f32 : $0 == .f16 ? .f16 : nil }
        if floatType == nil && ggufType == nil { return nil }
    }
    static var allValueStrings: [String] { ["f32", "f16", "bf16", "q8_0"] }
}

extension OutputFormat: ExpressibleByArgument {}
extension HDF5Layout: ExpressibleByArgument {}
