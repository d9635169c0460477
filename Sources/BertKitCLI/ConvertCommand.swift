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

    @Option(help: "Output format (default: from OUT's extension).")
    var to: CheckpointFormat.Family?

    @Option(help: "Cast floating-point tensors to this type (integer tensors are kept).")
    var dtype: FloatCast?

    @Option(help: "Split into shards of at most this size (e.g. 500MB, 5GB) plus an index file.")
    var maxShardSize: String?

    @Flag(help: "Keep the input's safetensors metadata instead of writing {\"format\": \"pt\"}.")
    var keepMetadata = false

    @Flag(help: "Rename old LayerNorm.gamma/beta keys to weight/bias, as transformers does on load.")
    var hfNames = false

    @Option(help: "HDF5 output layout: keras (tf_model.h5 of a TF BERT class), plain (one dataset per tensor) or auto (keras when the tensors are a BERT; the default).")
    var layout: HDF5Checkpoint.LayoutChoice?

    func validate() throws {
        if to == nil && CheckpointWriter.family(forExtensionOf: output) == nil && !isDirectory(output) && !output.hasSuffix("/") {
            throw ValidationError("cannot tell the output format from '\(output)': add --to safetensors|pytorch|hdf5")
        }
    }

    func run() throws {
        let family = to ?? CheckpointWriter.family(forExtensionOf: output) ?? .safetensors
        var options = ConversionOptions(family: family)
        options.dtype = dtype?.dtype
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
}

/// `--dtype`: a floating-point type a checkpoint can be cast to, by any name ConversionOptions.floatDType reads
/// (f32, float32, fp32, f16, half, bf16, bfloat16 …).
struct FloatCast: ExpressibleByArgument {
    let dtype: DType
    init?(argument: String) {
        guard let dtype = ConversionOptions.floatDType(argument) else { return nil }
        self.dtype = dtype
    }
    static var allValueStrings: [String] { ["f32", "f16", "bf16"] }
}

extension CheckpointFormat.Family: ExpressibleByArgument {}
extension HDF5Checkpoint.LayoutChoice: ExpressibleByArgument {}
