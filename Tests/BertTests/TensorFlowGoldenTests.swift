// The genuine tf_model.h5 files (TensorFlow 2.19 + transformers 4.57.6, Fixtures/hdf5/tf-h5, including the
// h5py-2 fixed-length-string variants and the 12-layer file) run through the Swift BERT: logits and hidden
// states equal the TensorFlow outputs recorded beside them within 1e-5. The masked-LM and token-classification
// tf_model.h5 files were written with Keras' h5py calls but never run by TensorFlow: their references are
// transformers' PyTorch classes with the weights read back from the file (make_hdf5_fixtures.py).

import Testing
import Foundation
import TensorCore
import Checkpoints
import Bert
import TestSupport

@Suite struct TensorFlowGoldenTests {
    /// Every output a reference JSON may hold; each case names the ones its file must hold.
    static let outputNames: Set<String> = ["logits", "last_hidden_state", "pooler_output", "start_logits", "end_logits"]

    static let cases: [(folder: String, reference: String, head: BertHead, outputs: Set<String>)] = [
        ("tf-h5/tf_bert_model", "tf-h5/tf_bert_model", .base, ["last_hidden_state", "pooler_output"]),
        ("tf-h5/tf_bert_for_sequence_classification", "tf-h5/tf_bert_for_sequence_classification", .sequenceClassification, ["logits"]),
        ("tf-h5/tf_bert_for_sequence_classification_12l", "tf-h5/tf_bert_for_sequence_classification_12l", .sequenceClassification, ["logits"]),
        ("tf-h5/legacy_h5py2/tf_bert_for_sequence_classification", "tf-h5/tf_bert_for_sequence_classification", .sequenceClassification, ["logits"]),
        ("tf-h5/legacy_h5py2/tf_bert_for_sequence_classification_12l", "tf-h5/tf_bert_for_sequence_classification_12l", .sequenceClassification, ["logits"]),
    ]

    /// Loads a Keras file into a model for `head`; nothing may be missing or left over.
    static func load(configFolder: String, weights: String, head: BertHead) throws -> BertModel {
        let config = try BertConfig(json: JSONReader.parse(try readFileBytes(Fixtures.path("hdf5/\(configFolder)/config.json"))))
        let model = BertModel(config: config, head: head)
        let loaded = try CheckpointReader.load(path: Fixtures.path("hdf5/" + weights))
        #expect(loaded.format == .kerasH5)
        let report = try BertCheckpointMapping.load(loaded.store, into: model)
        #expect(report.isClean, "missing \(report.missing) unexpected \(report.unexpected)")
        return model
    }

    @Test(arguments: cases.map(\.folder))
    func genuineTensorFlowFileMatchesTensorFlowOutputs(_ folder: String) throws {
        let item = Self.cases.first { $0.folder == folder }!
        let model = try Self.load(configFolder: item.folder, weights: item.folder + "/tf_model.h5", head: item.head)
        let referenceFolder = Fixtures.path("hdf5/" + item.reference)
        let file = FileManager.default.fileExists(atPath: referenceFolder + "/reference_outputs.json") ? "reference_outputs.json" : "reference_logits.json"
        let json = try #require(try Fixtures.json("hdf5/\(item.reference)/\(file)") as? [String: Any])
        #expect(Set(json.keys).intersection(Self.outputNames) == item.outputs, "\(file) holds \(json.keys.sorted())")
        let inputs = try #require(json["inputs"] as? [String: [[Int]]], "\(file) has no inputs")
        let ids: [[Int]] = try #require(inputs["input_ids"]), mask: [[Int]] = try #require(inputs["attention_mask"])
        let types: [[Int]] = try #require(inputs["token_type_ids"])
        let batch = try TokenBatch(inputIds: ids, attentionMask: mask, tokenTypeIds: types)
        func flat(_ value: Any?) -> [Double] {
            if let number = value as? NSNumber { return [number.doubleValue] }
            return (value as? [Any] ?? []).flatMap(flat)
        }
        let produced = allOutputs(model, run(model, batch))
        for name in item.outputs.sorted() {
            let value: Any = try #require(json[name], "\(file) has no '\(name)'")
            let expected = flat(value)
            let actual = try #require(produced[name], "a \(item.head.rawValue) model does not produce '\(name)'")
            #expect(!expected.isEmpty)
            assertClose(actual, expected, rtol: 0, atol: 1e-5, name)
        }
    }

    /// (config folder, tf_model.h5, head); the reference.safetensors sits beside the tf_model.h5.
    static let transformersCases: [(config: String, weights: String, head: BertHead)] = [
        ("tf_bert_for_masked_lm", "tf_bert_for_masked_lm/tf_model.h5", .maskedLM),
        ("token_classification", "token_classification_tf/tf_model.h5", .tokenClassification),
    ]

    @Test(arguments: transformersCases.map(\.weights))
    func kerasFileWithoutTensorFlowOutputsMatchesTransformers(_ weights: String) throws {
        let item = Self.transformersCases.first { $0.weights == weights }!
        let model = try Self.load(configFolder: item.config, weights: item.weights, head: item.head)
        let folder = String(item.weights.prefix { $0 != "/" })
        let reference = try Reference(Fixtures.path("hdf5/\(folder)/reference.safetensors"))
        #expect(reference.outputNames == ["logits", "last_hidden_state"])
        expectMatchesReference(model, reference, atol: 1e-5, weights)
    }
}
