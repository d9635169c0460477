// BertConfig against what transformers 5.24's BertConfig.from_pretrained makes of minimal config.json files
// (Fixtures/bert/config-defaults, made by make_bert_fixtures.py): every field bertkit reads, the defaults
// for absent ones, num_labels / id2label, and the files transformers refuses.

import Testing
import Foundation
import TensorCore
import Bert
import TestSupport

@Suite struct BertConfigTests {
    static let folder = Fixtures.path("bert/config-defaults")
    static let caseNames: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
        .filter { $0.hasSuffix(".json") && $0 != "transformers.json" }.map { String($0.dropLast(5)) }.sorted()

    /// Files transformers accepts and bertkit refuses on purpose.
    static let stricterThanTransformers: [String: String] = [
        "num_labels_zero": "a classifier head with no outputs",
        "id2label_with_gap": "label ids must number the classifier's rows 0…n-1",
        "relative_position_embeddings": "transformers 5.24 ignores the key and runs absolute positions, not what the checkpoint was trained with",
        "unknown_problem_type": "no loss is defined for it",
    ]

    /// transformers' ACT2FN: which function each `hidden_act` name computes.
    static let activations: [String: Activation] = ["gelu": .gelu, "gelu_new": .geluTanh, "gelu_pytorch_tanh": .geluTanh,
                                                    "gelu_fast": .geluTanh, "relu": .relu]

    static let fields: Set<String> = ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                                      "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings",
                                      "type_vocab_size", "initializer_range", "layer_norm_eps", "pad_token_id", "classifier_dropout",
                                      "problem_type", "architectures", "tie_word_embeddings", "num_labels", "id2label"]

    static func answers() throws -> [String: [String: Any]] {
        try #require(try Fixtures.json("bert/config-defaults/transformers.json") as? [String: [String: Any]])
    }

    @Test func everyRecordedCaseHasItsFile() throws {
        #expect(Self.caseNames.count > 20)
        #expect(Self.caseNames == (try Self.answers()).keys.sorted())
        #expect(Set(Self.stricterThanTransformers.keys).isSubset(of: Self.caseNames))
    }

    @Test(arguments: caseNames)
    func minimalConfigParsesAsTransformersParsesIt(_ name: String) throws {
        let answer = try #require(try Self.answers()[name], "transformers.json has no '\(name)'")
        let json = try JSONReader.parse(try readFileBytes(Self.folder + "/\(name).json"))
        if let reason = Self.stricterThanTransformers[name] {
            #expect(answer["error"] == nil, "transformers refuses '\(name)' now too: drop it from the list")
            #expect(throws: BertConfigError.self, "bertkit refuses it: \(reason)") { try BertConfig(json: json) }
            return
        }
        if let error = answer["error"] {
            #expect(throws: BertConfigError.self, "transformers: \(error)") { try BertConfig(json: json) }
            return
        }
        #expect(Set(answer.keys) == Self.fields)
        let config = try BertConfig(json: json)
        func int(_ key: String) -> Int? { (answer[key] as? NSNumber)?.intValue }
        func float(_ key: String) -> Float? { (answer[key] as? NSNumber).map { Float($0.doubleValue) } }
        #expect(config.vocabSize == int("vocab_size"))
        #expect(config.hiddenSize == int("hidden_size"))
        #expect(config.numHiddenLayers == int("num_hidden_layers"))
        #expect(config.numAttentionHeads == int("num_attention_heads"))
        #expect(config.intermediateSize == int("intermediate_size"))
        #expect(config.maxPositionEmbeddings == int("max_position_embeddings"))
        #expect(config.typeVocabSize == int("type_vocab_size"))
        #expect(config.padTokenId == int("pad_token_id"), "pad_token_id: transformers \(answer["pad_token_id"]!)")
        #expect(config.hiddenDropoutProb == float("hidden_dropout_prob"))
        #expect(config.attentionProbsDropoutProb == float("attention_probs_dropout_prob"))
        #expect(config.initializerRange == float("initializer_range"))
        #expect(config.layerNormEps == float("layer_norm_eps"))
        #expect(config.classifierDropout == float("classifier_dropout"), "classifier_dropout: transformers \(answer["classifier_dropout"]!)")
        let act = try #require(answer["hidden_act"] as? String)
        #expect(config.hiddenAct == Self.activations[act], "hidden_act \(act)")
        #expect(config.problemType?.rawValue == answer["problem_type"] as? String)
        #expect(config.architectures == (answer["architectures"] as? [String] ?? []))
        #expect(config.tieWordEmbeddings == answer["tie_word_embeddings"] as? Bool)
        let labels = try #require(answer["id2label"] as? [String: String])
        #expect(config.numLabels == int("num_labels") && labels.count == config.numLabels)
        #expect(config.id2label == (0..<labels.count).map { labels[String($0)] ?? "<no label \($0)>" })
    }
}

/// Sizes that would allocate more than the machine holds are refused while reading config.json, before any allocation.
@Suite struct ConfigResourceLimitTests {
    static func config(_ extra: String) throws -> BertConfig {
        try BertConfig(json: JSONReader.parse(#"{"model_type": "bert", "hidden_size": 768, "num_attention_heads": 12, "#
                                              + #""intermediate_size": 3072, "num_hidden_layers": 12, "vocab_size": 30522"# + extra + "}"))
    }

    @Test func bertBaseSizesPass() throws {
        #expect(try Self.config("").maxPositionEmbeddings == 512)
    }

    @Test func hugeSizesAreRefusedNamingTheCostliest() throws {
        var huge = BertConfig()
        huge.maxPositionEmbeddings = 1_000_000_000
        let error = #expect(throws: BertConfigError.self) { try huge.checkParameterMemory(limit: 8e9) }
        guard case .invalid(let key, let reason)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(key == "max_position_embeddings")
        #expect(reason.hasSuffix("more than this machine's memory (8.0 GB)"), "\(reason)")
        #expect(throws: BertConfigError.self) { try Self.config(#", "max_position_embeddings": 1000000000"#) }
        #expect(throws: BertConfigError.self) { try Self.config(#", "vocab_size": 100000000000"#) }
        #expect(throws: BertConfigError.self) { try Self.config(#", "num_hidden_layers": 1000000"#) }
        #expect(throws: BertConfigError.invalid(key: "num_labels", reason: "(1000000000) is more than bertkit supports (1048576)")) {
            try Self.config(#", "num_labels": 1000000000"#)
        }
    }
}
