// Options shared by every command that loads a model.

import ArgumentParser
import BertKit

struct ModelOptions: ParsableArguments {
    @Option(help: "A model directory (safetensors, PyTorch or tf_model.h5 weights + config.json) or a Hub id in the local Hugging Face cache.")
    var model: String

    @Option(help: "The head (default: from config.json's architectures).")
    var head: Head?

    @OptionGroup var threading: ThreadOptions

    @Option(help: "A PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) to apply to the model.")
    var adapter: String?

    @Flag(help: "Load even when no encoder weight of the checkpoint fits (the encoder is then randomly initialised).")
    var allowRandomInit = false

    @Flag(help: "List every tensor name in the load report (default: grouped, with counts).")
    var verbose = false

    /// The library's load options for these flags.
    func options(precision: Precision = .fp32) -> PretrainedModel.Options {
        var options = PretrainedModel.Options()
        options.precision = precision
        options.head = head
        options.adapter = adapter
        options.allowRandomInit = allowRandomInit
        return options
    }

    /// Loads the model for inference, printing transformers-style load warnings on stderr unless `quiet`.
    func load(quiet: Bool = false, precision: Precision = .fp32, batch: BatchOptions? = nil, maxLength: Int? = nil,
              batchSize: Int? = nil) throws -> PretrainedModel {
        try threading.apply()
        var options = options(precision: precision)
        options.padBatches = batch?.padBatches ?? false
        options.maxLength = maxLength
        if let batchSize { options.batchSize = batchSize }
        let loaded = try PretrainedModel(model, options: options)
        if !quiet { for line in loaded.loadReport(listingEveryName: verbose) { Console.warning(line) } }
        return loaded
    }
}

/// `--precision`, for the commands that run the model without training it.
struct InferenceOptions: ParsableArguments {
    @Option(help: "The encoder's linear layers in fp32, bf16 (bf16 products, fp32 sums) or int8 (dynamic quantisation: int8 weights per channel, u8 activations per token).")
    var precision: Precision = .fp32
}

/// `--pad-batches`, for the commands that run batches of texts.
struct BatchOptions: ParsableArguments {
    @Flag(help: "Compute the padding positions of each batch too, as transformers does (default: the encoder runs over real tokens only; the same results, faster).")
    var padBatches = false
}

/// `--threads`, the one place a command sets its thread count: BertKit's loops, the tokenizer's batches and OpenBLAS
/// follow it (Threads).
struct ThreadOptions: ParsableArguments {
    @Option(help: "Threads for matrix work, loops and encoding (default: $BERTKIT_THREADS, else the CPUs this process may use, shared among the MPI ranks on this machine).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    /// Sets the process's thread count when --threads was given; returns the count in force.
    @discardableResult
    func apply() throws -> Int {
        if let threads { try Threads.set(threads) }
        return Threads.count
    }
}

extension Precision: ExpressibleByArgument {}
extension Head: ExpressibleByArgument {}
