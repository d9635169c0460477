// What is not on BertKit's public API — the benchmark (it times the kernels themselves), the hidden internal-read-hdf5
// child and the executable's process set-up (BertKitCommand.swift) — reaches the
// implementation modules through these helpers. Both modules are imported here, so the names they share (Precision)
// are spelled with their module.

import ArgumentParser
import BertKit
import BertKitInternals

extension Bert.Precision: ExpressibleByArgument {}

/// The benchmark's data-parallel step runs on the implementation's process group (nil when no launcher started it).
extension ProcessGroup: JobRank {
    var launched: ProcessGroup? { usesMPI ? self : nil }
}

extension BertKit.Precision {
    /// The implementation's precision of the same name.
    var internalValue: Bert.Precision { Bert.Precision(rawValue: rawValue)! }
}

extension ModelOptions {
    /// Loads the model as the implementation holds it, printing the load warnings unless `quiet`; `precision` packs
    /// the encoder for inference in it (nil: for training or export).
    func loadInternal(quiet: Bool = false, precision: BertKit.Precision? = nil) throws -> PretrainedBert {
        try threading.apply()
        let head = head.map { BertHead(rawValue: $0.rawValue)! }
        let loaded = try adapter.map { try PretrainedBert.load(model, head: head, adapter: $0, allowRandomInit: allowRandomInit,
                                                               precision: precision?.internalValue) }
            ?? PretrainedBert.load(model, head: head, allowRandomInit: allowRandomInit, precision: precision?.internalValue)
        if !quiet { for line in loaded.loadReport.lines(verbose: verbose) { Console.warning(line) } }
        return loaded
    }
}

extension BatchOptions {
    /// The text pipeline for a model loaded with `loadInternal`, with these options.
    func textInference(_ loaded: PretrainedBert, maxLength: Int? = nil) throws -> TextInference {
        let inference = TextInference(model: loaded.model, tokenizer: try loaded.tokenizer(), adapters: loaded.adapters, maxLength: maxLength)
        inference.skipsPadding = !padBatches
        return inference
    }
}
