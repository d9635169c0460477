// A model directory (or Hub id) loaded for inference or fine-tuning: config.json, the weights in any
// supported format (transformers' order of preference), key repair and the load report.

import TensorCore
import Checkpoints
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

    /// Warnings in transformers' words, for the CLI to print.
    public var loadWarnings: [String] {
        var lines: [String] = []
        let className = model.head.architecture
        if !report.unexpected.isEmpty {
            lines.append("Some weights of the model checkpoint at \(directory) were not used when initializing \(className): "
                         + report.unexpected.sorted().joined(separator: ", "))
        }
        if !report.missing.isEmpty {
            lines.append("Some weights of \(className) were not initialized from the model checkpoint at \(directory) and are newly initialized: "
                         + report.missing.joined(separator: ", ")
                         + ". You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.")
        }
        for item in report.mismatched {
            lines.append("\(item.name) has shape \(Shape.describe(item.checkpoint)) in the checkpoint but \(Shape.describe(item.model)) in the model: newly initialized")
        }
        return lines
    }
}
