// `bertkit convert IN OUT`: rewrite a checkpoint in another format, dtype or shard layout.

import ArgumentParser
import BertKit

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a checkpoint between formats, float dtypes and shard layouts.")

    @Argument(help: "Input checkpoint file, index file or model directory.")
    var input: String

    @Argument(help: "Output file, or a directory (then Hugging Face file names are used).")
    var output: String

    @Option(help: "Output format: safetensors, pytorch or hdf5 (default: from OUT's extension).")
    var to: String?

    @Option(help: "Cast floating-point tensors to f32, f16 or bf16 (integer tensors are kept).")
    var dtype: String?

    @Option(help: "Split into shards of at most this size (e.g. 500MB, 5GB) plus an index file.")
    var maxShardSize: String?

    @Flag(help: "Keep the input's safetensors metadata instead of writing {\"format\": \"pt\"}.")
    var keepMetadata = false

    @Flag(help: "Rename old LayerNorm.gamma/beta keys to weight/bias, as transformers does on load.")
    var hfNames = false

    @Option(help: "HDF5 output layout: keras (tf_model.h5 of a TF BERT class), plain (one dataset per tensor) or auto (keras when the tensors are a BERT; the default).")
    var layout: String?

    func validate() throws {
        if let to, CheckpointFormat.Family(rawValue: to) == nil {
            throw ValidationError("--to must be safetensors, pytorch or hdf5, not '\(to)'")
        }
        if let dtype, ConversionOptions.floatDType(dtype) == nil {
            throw ValidationError("--dtype must be f32, f16 or bf16, not '\(dtype)'")
        }
        if let layout, HDF5Checkpoint.LayoutChoice(rawValue: layout) == nil {
            throw ValidationError("--layout must be keras, plain or auto, not '\(layout)'")
        }
        if to == nil && CheckpointWriter.family(forExtensionOf: output) == nil && !isDirectory(output) && !output.hasSuffix("/") {
            throw ValidationError("cannot tell the output format from '\(output)': add --to safetensors|pytorch|hdf5")
        }
    }

    func run() throws {
        let family = to.flatMap(CheckpointFormat.Family.init(rawValue:))
            ?? CheckpointWriter.family(forExtensionOf: output) ?? .safetensors
        var options = ConversionOptions(family: family)
        options.dtype = dtype.flatMap(ConversionOptions.floatDType)
        if let maxShardSize { options.maxShardSize = try ShardIndex.parseSize(maxShardSize) }
        options.keepMetadata = keepMetadata
        options.hfNames = hfNames
        if let layout {
            guard family == .hdf5 else { throw ValidationError("--layout applies to HDF5 output only") }
            options.hdf5Layout = HDF5Checkpoint.LayoutChoice(rawValue: layout)!
        }
        let report = try Conversion.convert(input: input, output: output, options: options)
        for (dropped, kept) in report.droppedDuplicates {
            Console.info("note: '\(dropped)' shares storage with '\(kept)'; kept '\(kept)' only")
        }
        for note in report.notes { Console.info("note: \(note)") }
        Console.info("wrote \(report.files.joined(separator: ", ")) (\(report.tensorCount) tensors, \(report.format))")
    }
}
