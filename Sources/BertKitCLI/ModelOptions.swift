// Options shared by every command that loads a model.

import ArgumentParser
import BertKitInternals

struct ModelOptions: ParsableArguments {
    @Option(help: "A model directory (safetensors, PyTorch or tf_model.h5 weights + config.json) or a Hub id in the local Hugging Face cache.")
    var model: String

    @Option(help: "The head (default: from config.json's architectures).")
    var head: BertHead?

    @OptionGroup var threading: ThreadOptions

    @Option(help: "A PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) to apply to the model.")
    var adapter: String?

    @Flag(help: "Load even when no encoder weight of the checkpoint fits (the encoder is then randomly initialised).")
    var allowRandomInit = false

    @Flag(help: "List every tensor name in the load report (default: grouped, with counts).")
    var verbose = false

    /// Loads the model, printing transformers-style load warnings on stderr; `precision` packs the encoder
    /// for inference in that precision (nil: for training or export).
    func load(quiet: Bool = false, precision: Precision? = nil) throws -> PretrainedBert {
        threading.apply()
        let loaded = try adapter.map { try PretrainedBert.load(model, head: head, adapter: $0, allowRandomInit: allowRandomInit,
                                                               precision: precision) }
            ?? PretrainedBert.load(model, head: head, allowRandomInit: allowRandomInit, precision: precision)
        if !quiet { for line in loaded.loadReport.lines(verbose: verbose) { Console.warning(line) } }
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

    /// The text pipeline for a loaded model, with these options.
    func textInference(_ loaded: PretrainedBert, maxLength: Int? = nil) throws -> TextInference {
        let inference = TextInference(model: loaded.model, tokenizer: try loaded.tokenizer(), adapters: loaded.adapters, maxLength: maxLength)
        inference.skipsPadding = !padBatches
        return inference
    }
}

/// `--threads`, the one place a command sets its thread count: `Parallel` (our loops, the tokenizer's batches)
/// and OpenBLAS follow it.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Threads for matrix work, loops and encoding (default: $BERTKIT_THREADS, else the CPUs this process may use, shared among the MPI ranks on this machine).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    /// Sets the process's thread count when --threads was given; returns the count in force.
    @discardableResult
    func apply() -> Int {
        if let threads { Parallel.setThreadCount(threads) }
        return Parallel.threadCount
    }
}

extension Precision: ExpressibleByArgument {}
extension BertHead: ExpressibleByArgument {}
