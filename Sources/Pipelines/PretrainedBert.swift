// A model directory (or Hub id) loaded for inference or fine-tuning: config.json, the weights in any
// supported format (transformers' order of preference), key repair and the load report.

import TensorCore
import Safetensors
import Checkpoints
import Tokenizer
import Bert

public struct PretrainedBert {
    public let directory: String
    public let config: BertConfig
    public let model: BertModel
    public let report: BertLoadReport
    /// Where the weights came from. (The tensors themselves are not kept: they were copied into the
    /// model, and holding the mapped file would double the memory.)
    public let weightsFormat: CheckpointFormat
    public let weightsFiles: [String]
    /// A PEFT LoRA adapter attached with `adapter:`.
    public var adapters: LoRAAdapters? = nil

    /// `argument` is a directory or a Hub id in the local cache. `head` nil → from config.json's
    /// `architectures` (BertModel when it names none we know).
    public static func load(_ argument: String, head: BertHead? = nil, configOverride: ((inout BertConfig) -> Void)? = nil,
                            seed: UInt64 = 42, reinitialiseMismatched: Bool = false) throws -> PretrainedBert {
        let directory = try ModelDirectory.resolve(argument)
        let configPath = directory + "/config.json"
        var config = try withFileContext(configPath) { try BertConfig(json: JSONReader.parse(try readFileBytes(configPath))) }
        configOverride?(&config)
        let chosenHead = head ?? config.architectures.lazy.compactMap(BertHead.init(architecture:)).first ?? .base
        let model = BertModel(config: config, head: chosenHead)
        let (report, format, files) = try { () throws -> (BertLoadReport, CheckpointFormat, [String]) in
            let weights = try CheckpointReader.load(path: directory)
            let report = try withFileContext(weights.files.first ?? directory) {
                try BertCheckpointMapping.load(weights.store, into: model, seed: seed, reinitialiseMismatched: reinitialiseMismatched)
            }
            return (report, weights.format, weights.files)
        }()
        return PretrainedBert(directory: directory, config: config, model: model, report: report, weightsFormat: format, weightsFiles: files)
    }

    /// Loads a base model and attaches the PEFT adapter in `adapter`. The head follows the adapter's task
    /// (a SEQ_CLS adapter on a plain BertModel makes a sequence classifier, as PeftModel does), and the
    /// label count follows the adapter's saved classifier; label names come from the adapter folder's
    /// config.json when bertkit wrote one.
    public static func load(_ argument: String, head: BertHead?, adapter: String) throws -> PretrainedBert {
        let adapterConfig = try PEFTAdapter.readConfig(folder: adapter)
        let taskHead: BertHead? = ["SEQ_CLS": .sequenceClassification, "TOKEN_CLS": .tokenClassification,
                                   "QUESTION_ANS": .questionAnswering][adapterConfig.taskType]
        let weightsPath = adapter + "/adapter_model.safetensors"
        let weights = try withFileContext(weightsPath) { try SafetensorsReader.read(path: weightsPath) }
        var labelNames: [String]? = nil
        if let classifier = weights["base_model.model.classifier.weight"] ?? weights["base_model.model.classifier.modules_to_save.default.weight"] {
            let count = classifier.shape.first ?? 2
            labelNames = (0..<count).map { "LABEL_\($0)" }
            if fileExists(adapter + "/config.json"),
               let named = try? BertConfig(json: JSONReader.parse(try readFileBytes(adapter + "/config.json"))), named.numLabels == count {
                labelNames = named.id2label
            }
        }
        var loaded = try load(argument, head: head ?? taskHead, configOverride: { config in
            if let labelNames, config.numLabels != labelNames.count || config.id2label.starts(with: ["LABEL_0"]) {
                config.id2label = labelNames
            }
        }, reinitialiseMismatched: true)
        let adapters = try withFileContext(adapter + "/adapter_config.json") { try LoRAAdapters(model: loaded.model, config: adapterConfig.lora) }
        try withFileContext(weightsPath) { try adapters.loadPEFT(weights, into: loaded.model) }
        loaded.adapters = adapters
        return loaded
    }

    /// The directory's tokenizer.
    public func tokenizer() throws -> BertTokenizer { try BertTokenizer.load(directory: directory) }

    /// Warnings in transformers' words, for the CLI to print.
    public var loadWarnings: [String] {
        var lines: [String] = []
        let className = model.head.architecture
        if !report.unexpected.isEmpty {
            lines.append("Some weights of the model checkpoint at \(directory) were not used when initializing \(className): "
                         + report.unexpected.sorted().joined(separator: ", "))
        }
        let replacedByAdapter = Set(adapters.map { $0.savedModuleParameters(of: model).map(\.name) } ?? [])
        let missing = report.missing.filter { !replacedByAdapter.contains($0) }
        if !missing.isEmpty {
            lines.append("Some weights of \(className) were not initialized from the model checkpoint at \(directory) and are newly initialized: "
                         + missing.joined(separator: ", ")
                         + ". You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.")
        }
        for item in report.mismatched where !replacedByAdapter.contains(item.name) {
            lines.append("\(item.name) has shape \(Shape.describe(item.checkpoint)) in the checkpoint but \(Shape.describe(item.model)) in the model: newly initialized")
        }
        return lines
    }
}
