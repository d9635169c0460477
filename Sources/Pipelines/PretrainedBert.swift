// A model directory (or Hub id) loaded for inference or fine-tuning: config.json, the weights in any
// supported format (transformers' order of preference), key repair and the load report.

import TensorCore
import Safetensors
import Checkpoints
import Tokenizer
import Bert

package struct PretrainedBert {
    package let directory: String
    package let config: BertConfig
    package let model: BertModel
    package let report: BertLoadReport
    /// Where the weights came from. (The tensors themselves are not kept: they were copied into the
    /// model, and holding the mapped file would double the memory.)
    package let weightsFormat: CheckpointFormat
    package let weightsFiles: [String]
    /// A PEFT LoRA adapter attached with `adapter:`.
    package var adapters: LoRAAdapters? = nil

    /// A model directory's config.json, after checking that bertkit runs its `model_type` (so another
    /// architecture is refused before a weight is read, naming the file and the type).
    package static func readConfig(directory: String) throws -> BertConfig {
        let configPath = directory + "/config.json"
        return try withFileContext(configPath) {
            let json = try JSONReader.parse(try readFileBytes(configPath))
            _ = try ModelFamily.identify(config: json)
            return try BertConfig(json: json)
        }
    }

    /// `argument` is a directory or a Hub id in the local cache. `head` nil → from config.json's
    /// `architectures` (BertModel when it names none we know). A checkpoint from which no encoder weight
    /// loads is an error unless `allowRandomInit`.
    /// `precision` (fp32, bf16 or int8) packs the encoder's linear weights as they are read for inference in that
    /// precision (BertModel.beginPacking): their plain fp32 copy never takes memory, and the model is then for
    /// inference only. nil (training, export): the weights go into `parameters`.
    package static func load(_ argument: String, head: BertHead? = nil, configOverride: ((inout BertConfig) -> Void)? = nil,
                            seed: UInt64 = 42, reinitialiseMismatched: Bool = false, allowRandomInit: Bool = false,
                            precision: Precision? = nil) throws -> PretrainedBert {
        let directory = try ModelDirectory.resolve(argument)
        var config = try readConfig(directory: directory)
        configOverride?(&config)
        let chosenHead = head ?? config.architectures.lazy.compactMap { ModelFamily.head(ofArchitecture: $0)?.head }.first ?? .base
        let model = BertModel(config: config, head: chosenHead)
        model.beginPacking(precision: precision)
        let (report, format, files) = try { () throws -> (BertLoadReport, CheckpointFormat, [String]) in
            let weights = try CheckpointReader.load(path: directory)
            let report = try withFileContext(weights.files.first ?? directory) {
                try BertCheckpointMapping.load(weights.store, into: model, seed: seed, reinitialiseMismatched: reinitialiseMismatched,
                                               allowRandomEncoder: allowRandomInit)
            }
            return (report, weights.format, weights.files)
        }()
        model.finishPacking()
        return PretrainedBert(directory: directory, config: config, model: model, report: report, weightsFormat: format, weightsFiles: files)
    }

    /// Loads a base model and attaches the PEFT adapter in `adapter`. The head follows the adapter's task
    /// (a SEQ_CLS adapter on a plain BertModel makes a sequence classifier, as PeftModel does), and the
    /// label count follows the adapter's saved classifier; label names come from the adapter folder's
    /// config.json when bertkit wrote one.
    package static func load(_ argument: String, head: BertHead?, adapter: String, allowRandomInit: Bool = false,
                            precision: Precision? = nil) throws -> PretrainedBert {
        let family = try readConfig(directory: ModelDirectory.resolve(argument)).family   // the base's type before the adapter's files
        let adapterConfig = try PEFTAdapter.readConfig(folder: adapter)
        let taskHead = BertHead(peftTaskType: adapterConfig.taskType)
        let weightsPath = adapter + "/adapter_model.safetensors"
        let weights = try withFileContext(weightsPath) { try SafetensorsReader.read(path: weightsPath) }
        var labelNames: [String]? = nil
        // The saved classifier (`classifier`, RoBERTa's `classifier.out_proj`), plain or under PEFT's in-memory name.
        let classifiers = Set([family.names.sequenceClassifier, family.names.tokenClassifier]).sorted().flatMap { module in
            [PEFTNames.saved(module + ".weight"), PEFTNames.savedInMemory(module + ".weight")]
        }
        if let classifier = classifiers.lazy.compactMap({ weights[$0] }).first {
            let count = classifier.shape.first ?? 2
            labelNames = (0..<count).map { "LABEL_\($0)" }
            if fileExists(adapter + "/config.json"), let named = try? readConfig(directory: adapter), named.numLabels == count {
                labelNames = named.id2label
            }
        }
        var loaded = try load(argument, head: head ?? taskHead, configOverride: { config in
            if let labelNames, config.numLabels != labelNames.count || config.id2label.starts(with: ["LABEL_0"]) {
                config.id2label = labelNames
            }
        }, reinitialiseMismatched: true, allowRandomInit: allowRandomInit, precision: precision)
        let adapters = try withFileContext(adapter + "/adapter_config.json") { try LoRAAdapters(model: loaded.model, config: adapterConfig.lora) }
        try withFileContext(weightsPath) { try adapters.loadPEFT(weights, into: loaded.model) }
        loaded.adapters = adapters
        return loaded
    }

    /// The directory's tokenizer.
    package func tokenizer() throws -> any TextTokenizer { try AutoTokenizer.load(directory: directory) }

    /// What loading did, for the CLI to print (`loadReport.lines(verbose:)`).
    package var loadReport: LoadReportText {
        let replacedByAdapter = Set(adapters.map { $0.savedModuleParameters(of: model).map(\.name) } ?? [])
        return LoadReportText(directory: directory, className: model.architecture, report: report, replacedByAdapter: replacedByAdapter)
    }
}

/// The load report in transformers' words. Long lists of names are summarised (`bert.encoder.layer.{0..11}.* (192)`)
/// with their count unless `verbose`, which lists every name.
package struct LoadReportText: Sendable {
    package var directory: String
    package var className: String
    package var unexpected: [String]
    package var missing: [String]
    package var mismatched: [BertShapeMismatch]

    init(directory: String, className: String, report: BertLoadReport, replacedByAdapter: Set<String>) {
        self.directory = directory
        self.className = className
        unexpected = report.unexpected.sorted()
        missing = report.missing.filter { !replacedByAdapter.contains($0) }
        mismatched = report.mismatched.filter { !replacedByAdapter.contains($0.name) }
    }

    package func lines(verbose: Bool) -> [String] {
        func names(_ list: [String]) -> String {
            verbose ? list.joined(separator: ", ") : NameGroups.summarise(list).joined(separator: ", ")
        }
        func count(_ list: [String]) -> String { list.count == 1 ? "1 tensor" : "\(list.count) tensors" }
        var lines: [String] = []
        if !unexpected.isEmpty {
            lines.append("Some weights of the model checkpoint at \(directory) were not used when initializing \(className) "
                         + "(\(count(unexpected))): " + names(unexpected))
        }
        if !missing.isEmpty {
            lines.append("Some weights of \(className) were not initialized from the model checkpoint at \(directory) and are newly initialized "
                         + "(\(count(missing))): " + names(missing)
                         + ". You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.")
        }
        for item in mismatched {
            lines.append("\(item.name) has shape \(Shape.describe(item.checkpoint)) in the checkpoint but \(Shape.describe(item.model)) in the model: newly initialized")
        }
        return lines
    }
}
