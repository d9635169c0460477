// The genuine tf_model.h5 files (TensorFlow 2.19 + transformers 4.57.6, Fixtures/hdf5/tf-h5, including the
// h5py-2 fixed-length-string variants and the 12-layer file) run through the Swift BERT: logits and hidden
// states equal the TensorFlow outputs recorded beside them within 1e-5.

import Testing
import Foundation
import TensorCore
import Checkpoints
import Bert
import TestSupport

@Suite struct TensorFlowGoldenTests {
    static let cases: [(folder: String, reference: String, head: BertHead)] = [
        ("tf-h5/tf_bert_model", "tf-h5/tf_bert_model", .base),
        ("tf-h5/tf_bert_for_sequence_classification", "tf-h5/tf_bert_for_sequence_classification", .sequenceClassification),
        ("tf-h5/tf_bert_for_sequence_classification_12l", "tf-h5/tf_bert_for_sequence_classification_12l", .sequenceClassification),
        ("tf-h5/legacy_h5py2/tf_bert_for_sequence_classification", "tf-h5/tf_bert_for_sequence_classification", .sequenceClassification),
        ("tf-h5/legacy_h5py2/tf_bert_for_sequence_classification_12l", "tf-h5/tf_bert_for_sequence_classification_12l", .sequenceClassification),
    ]

    @Test(arguments: cases.map(\.folder))
    func genuineTensorFlowFileMatchesTensorFlowOutputs(_ folder: String) throws {
        let item = Self.cases.first { $0.folder == folder }!
        let directory = Fixtures.path("hdf5/" + item.folder)
        let config = try BertConfig(json: JSONReader.parse(try readFileBytes(directory + "/config.json")))
        let model = BertModel(config: config, head: item.head)
        let loaded = try CheckpointReader.load(path: directory + "/tf_model.h5")
        #expect(loaded.format == .kerasH5)
        let report = try BertCheckpointMapping.load(loaded.store, into: model)
        #expect(report.isClean, "missing \(report.missing) unexpected \(report.unexpected)")
        let referenceFolder = Fixtures.path("hdf5/" + item.reference)
        let file = FileManager.default.fileExists(atPath: referenceFolder + "/reference_outputs.json") ? "reference_outputs.json" : "reference_logits.json"
        let json = try Fixtures.json("hdf5/\(item.reference)/\(file)") as! [String: Any]
        let inputs = json["inputs"] as! [String: [[Int]]]
        let batch = try TokenBatch(inputIds: inputs["input_ids"]!, attentionMask: inputs["attention_mask"]!, tokenTypeIds: inputs["token_type_ids"]!)
        let ws = BertWorkspace(config: config, head: item.head, batch: batch.batchSize, sequence: batch.sequenceLength, keepsEveryLayer: false)
        model.forward(batch, workspace: ws)
        func flat(_ value: Any?) -> [Double] {
            if let number = value as? NSNumber { return [number.doubleValue] }
            return (value as? [Any] ?? []).flatMap(flat)
        }
        let B = batch.batchSize, T = batch.sequenceLength, H = config.hiddenSize
        if let logits = json["logits"] {
            assertClose(array(ws.logits, B * config.numLabels), flat(logits), rtol: 0, atol: 1e-5, "logits")
        }
        if let hidden = json["last_hidden_state"] {
            assertClose(array(ws.lastHiddenState, B * T * H), flat(hidden), rtol: 0, atol: 1e-5, "last_hidden_state")
            assertClose(array(ws.pooled, B * H), flat(json["pooler_output"]), rtol: 0, atol: 1e-5, "pooler_output")
        }
    }
}
