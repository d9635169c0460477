// `bertkit convert IN OUT`: rewrite a checkpoint in another format, dtype or shard layout; a model directory to
// GGUF or ONNX, and a GGUF file back to a model directory.

import ArgumentParser
import BertKitInternals

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a checkpoint between formats, float dtypes and shard layouts; a model directory to GGUF or ONNX.")

    @Argument(help: "Input checkpoint file, index file or model directory.")
    var input: String

    @Argument(help: "Output file, or a directory (then Hugging Face file names are used).")
    var output: String

    @Option(help: "Output format (default: from OUT's extension). gguf and onnx take a model directory as input.")
    var to: CheckpointFormat.Family?

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
    var layout: HDF5Checkpoint.LayoutChoice?

    func validate() throws {
        if to == nil && CheckpointWriter.family(forExtensionOf: output) == nil && !isDirectory(output) && !output.hasSuffix("/") {
            throw ValidationError("cannot tell the output format from '\(output)': add --to safetensors|pytorch|hdf5|gguf|onnx")
        }
    }

    func run() throws {
        let family = to ?? CheckpointWriter.family(forExtensionOf: output) ?? .safetensors
        if family == .gguf { return try writeGGUF() }
        if family == .onnx { return try writeONNX() }
        if adapter != nil || externalData {
            throw ValidationError("--adapter and --external-data apply to ONNX output only (`bertkit merge` merges adapters into checkpoints)")
        }
        if GGUFModels.isGGUF(input) && to == nil && (isDirectory(output) || output.hasSuffix("/")) { return try readGGUF() }
        if let dtype, dtype.floatDType == nil {
            throw ValidationError("--dtype \(dtype.text) applies to GGUF output only; use f32, f16 or bf16")
        }
        var options = ConversionOptions(family: family)
        options.dtype = dtype?.floatDType
        if let maxShardSize { options.maxShardSize = try ShardIndex.parseSize(maxShardSize) }
        options.keepMetadata = keepMetadata
        options.hfNames = hfNames
        if let layout {
            guard family == .hdf5 else { throw ValidationError("--layout applies to HDF5 output only") }
            options.hdf5Layout = layout
        }
        let report = try Conversion.convert(input: input, output: output, options: options)
        for (dropped, kept) in report.droppedDuplicates {
            Console.info("note: '\(dropped)' shares storage with '\(kept)'; kept '\(kept)' only")
        }
        for note in report.notes { Console.info("note: \(note)") }
        Console.info("wrote \(report.files.joined(separator: ", ")) (\(report.tensorCount) tensors, \(report.format))")
    }

    /// OUT for a one-file format: the file, or the Hugging Face-style name inside OUT when it is a directory.
    /// A path ending in `/` is a folder, made if missing (as for the other formats).
    func outputFile(_ family: CheckpointFormat.Family) throws -> String {
        guard isDirectory(output) || output.hasSuffix("/") else { return output }
        let folder = trimmingTrailingSlashes(output)
        try makeDirectory(folder)
        return folder + "/" + CheckpointWriter.directoryFileName(for: family)
    }

    /// A model directory to GGUF, as llama.cpp's converter writes it.
    func writeGGUF() throws {
        guard isDirectory(input) else { throw FileError(path: input, cause: CheckpointError.ggufNeedsModelDirectory) }
        guard maxShardSize == nil, layout == nil, !keepMetadata, !hfNames, adapter == nil, !externalData else {
            throw ValidationError("--max-shard-size, --layout, --keep-metadata, --hf-names, --adapter and --external-data do not apply to GGUF output")
        }
        var fileType = GGUFFileType.f16
        if let dtype {
            guard let chosen = dtype.ggufType else { throw ValidationError("GGUF output takes --dtype f32, f16 or q8_0, not \(dtype.text)") }
            fileType = chosen
        }
        let report = try GGUFModels.export(modelDirectory: input, to: try outputFile(.gguf), fileType: fileType)
        for note in report.notes { Console.info("note: \(note)") }
        Console.info("wrote \(report.path) (\(report.tensorCount) tensors, gguf \(report.fileType.rawValue))")
    }

    /// A model directory (with a LoRA adapter merged) to an ONNX graph.
    func writeONNX() throws {
        guard isDirectory(input) else { throw FileError(path: input, cause: CheckpointError.onnxNeedsModelDirectory) }
        guard dtype == nil, maxShardSize == nil, layout == nil, !keepMetadata, !hfNames else {
            throw ValidationError("--dtype, --max-shard-size, --layout, --keep-metadata and --hf-names do not apply to ONNX output")
        }
        let report = try ONNXExport.export(modelDirectory: input, to: try outputFile(.onnx), adapter: adapter,
                                           externalDataThreshold: externalData ? 0 : nil)
        for note in report.notes { Console.info("note: \(note)") }
        Console.info("wrote \(report.path) (\(report.architecture), opset 17, \(report.nodeCount) nodes, "
                     + "\(report.initializerCount) initializers; outputs \(report.outputs.joined(separator: ", ")))")
    }

    /// A GGUF BERT to a Hugging Face directory.
    func readGGUF() throws {
        guard dtype == nil, maxShardSize == nil, layout == nil, adapter == nil, !externalData else {
            throw ValidationError("a GGUF file is written back as it is stored: --dtype, --max-shard-size, --layout, --adapter and --external-data do not apply")
        }
        let report = try GGUFModels.importModel(from: input, to: trimmingTrailingSlashes(output))
        for note in report.notes { Console.info("note: \(note)") }
        Console.info("wrote \(report.files.joined(separator: ", ")) (\(report.tensorCount) tensors, \(report.architecture))")
    }
}

/// `--dtype`: a floating-point type a checkpoint can be cast to, by any name ConversionOptions.floatDType reads
/// (f32, float32, fp32, f16, half, bf16, bfloat16 …), or a GGUF file type (f32, f16, q8_0).
struct OutputDType: ExpressibleByArgument {
    let text: String
    let floatDType: DType?
    let ggufType: GGUFFileType?
    init?(argument: String) {
        text = argument
        floatDType = ConversionOptions.floatDType(argument)
        ggufType = GGUFFileType(rawValue: argument.lowercased())
            ?? floatDType.flatMap { $0 == .f32 ? .f32 : $0 == .f16 ? .f16 : nil }
        if floatDType == nil && ggufType == nil { return nil }
    }
    static var allValueStrings: [String] { ["f32", "f16", "bf16", "q8_0"] }
}

extension CheckpointFormat.Family: ExpressibleByArgument {}
extension HDF5Checkpoint.LayoutChoice: ExpressibleByArgument {}
