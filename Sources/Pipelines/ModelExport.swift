// Writing a model as a Hugging Face directory: model.safetensors ({"format": "pt"}), config.json (the
// architecture, labels and problem type), the tokenizer files, and optionally pytorch_model.bin /
// tf_model.h5 through the codecs — so `AutoModelFor….from_pretrained(dir)` gives the same logits.

import TensorCore
import Safetensors
import Checkpoints
import Bert

package enum ModelExport {
    package static let tokenizerFileNames = ["vocab.txt", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
                                            "special_tokens_map.json"]

    /// Writes `model` into `folder` (created if needed). `extraFormats` adds PyTorch / HDF5 weight files.
    package static func write(_ model: BertModel, to folder: String, tokenizerFrom source: String?,
                             extraFormats: [CheckpointFormat.Family] = []) throws {
        try makeDirectory(folder)
        let store = model.stateDict()
        try SafetensorsWriter.write(store, to: folder + "/model.safetensors")
        try withFileContext(folder + "/config.json") {
            try AtomicFileWriter.write(model.config.jsonText(architecture: model.architecture), to: folder + "/config.json")
        }
        if let source { try copyTokenizerFiles(from: source, to: folder) }
        for family in extraFormats where family != .safetensors {
            var options = CheckpointWriteOptions(family: family)
            options.architecture = model.architecture
            try CheckpointWriter.write(store, to: folder + "/" + CheckpointWriter.directoryFileName(for: family), options: options)
        }
    }

    /// Copies whichever tokenizer files `source` has (atomically each).
    package static func copyTokenizerFiles(from source: String, to folder: String) throws {
        for name in tokenizerFileNames where fileExists(source + "/" + name) {
            let bytes = try withFileContext(source + "/" + name) { try readFileBytes(source + "/" + name) }
            try withFileContext(folder + "/" + name) { try AtomicFileWriter.write(bytes, to: folder + "/" + name) }
        }
    }

    /// A one-file format's output path: `path` itself, or the Hugging Face-style name inside it when it is a directory
    /// (a path ending in `/` is a directory, made if missing, as for the other formats).
    package static func outputFile(_ path: String, family: CheckpointFormat.Family) throws -> String {
        guard isDirectory(path) || path.hasSuffix("/") else { return path }
        let folder = trimmingTrailingSlashes(path)
        try makeDirectory(folder)
        return folder + "/" + CheckpointWriter.directoryFileName(for: family)
    }

    /// Folds the PEFT LoRA adapter in `adapter` into its base model (W + s·B·A, as PEFT's `merge_and_unload`) and writes
    /// the merged model as a model directory; returns the number of adapted layers merged and what loading did.
    package static func mergeAdapter(base: String, head: BertHead? = nil, adapter: String, to folder: String,
                                     extraFormats: [CheckpointFormat.Family] = []) throws -> (layers: Int, loadReport: LoadReportText) {
        let loaded = try PretrainedBert.load(base, head: head, adapter: adapter)
        guard let adapters = loaded.adapters else { return (0, loaded.loadReport) }
        adapters.merge(into: loaded.model)
        try write(loaded.model, to: folder, tokenizerFrom: loaded.directory, extraFormats: extraFormats)
        return (adapters.modules.count, loaded.loadReport)
    }
}
