// The forward pass of every head against transformers' outputs on the tiny fixtures (Fixtures/bert,
// made by Tools/fixtures/make_bert_fixtures.py), and against the real all-MiniLM-L6-v2.

import Testing
import Foundation
import TensorCore
import Safetensors
import Bert
import TestSupport

/// A model directory's config and weights, loaded into a fresh model for `head`.
func loadModel(_ directory: String, head: BertHead, weights: String = "model.safetensors") throws -> (BertModel, BertLoadReport) {
    let config = try BertConfig(json: JSONReader.parse(try readFileBytes(directory + "/config.json")))
    let model = BertModel(config: config, head: head)
    let store = try SafetensorsReader.read(path: directory + "/" + weights)
    let report = try BertCheckpointMapping.load(store, into: model)
    return (model, report)
}

/// The inputs and expected outputs of a parity reference file.
struct Reference {
    let batch: TokenBatch
    let outputs: TensorStore

    init(_ path: String) throws {
        let store = try SafetensorsReader.read(path: path)
        func rows(_ name: String) -> [[Int]] {
            let tensor = store[name]!
            let values = tensor.int64Values()!.map(Int.init)
            return stride(from: 0, to: values.count, by: tensor.shape[1]).map { Array(values[$0..<$0 + tensor.shape[1]]) }
        }
        batch = try TokenBatch(inputIds: rows("input_ids"), attentionMask: rows("attention_mask"),
                               tokenTypeIds: rows("token_type_ids"))
        outputs = store
    }

    func expected(_ name: String) -> [Float]? { outputs[name]?.float32Values() }
}

func run(_ model: BertModel, _ batch: TokenBatch) -> BertWorkspace {
    let ws = BertWorkspace(config: model.config, head: model.head, batch: batch.batchSize, sequence: batch.sequenceLength,
                           keepsEveryLayer: false)
    model.forward(batch, workspace: ws)
    return ws
}

func array(_ pointer: UnsafeMutablePointer<Float>, _ count: Int) -> [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

@Suite struct BertForwardGoldenTests {
    static let heads: [(String, BertHead)] = [("tiny-base", .base), ("tiny-seqcls", .sequenceClassification),
                                               ("tiny-tokcls", .tokenClassification), ("tiny-qa", .questionAnswering),
                                               ("tiny-mlm", .maskedLM)]

    @Test(arguments: heads.map(\.0))
    func everyHeadMatchesTransformers(_ fixture: String) throws {
        let head = Self.heads.first { $0.0 == fixture }!.1
        let directory = Fixtures.path("bert/" + fixture)
        let (model, report) = try loadModel(directory, head: head)
        #expect(report.isClean, "missing \(report.missing), unexpected \(report.unexpected)")
        let reference = try Reference(directory + "/reference.safetensors")
        let ws = run(model, reference.batch)
        let B = reference.batch.batchSize, T = reference.batch.sequenceLength, H = model.config.hiddenSize
        assertClose(array(ws.lastHiddenState, B * T * H), reference.expected("last_hidden_state")!, rtol: 0, atol: 1e-5, "last_hidden_state")
        if let pooled = reference.expected("pooler_output") { assertClose(array(ws.pooled, B * H), pooled, rtol: 0, atol: 1e-5, "pooler_output") }
        let outputs = BertOutputs(model: model, workspace: ws)
        switch head {
        case .questionAnswering:
            assertClose(outputs.startLogits.flatMap { $0 }, reference.expected("start_logits")!, rtol: 0, atol: 1e-5, "start_logits")
            assertClose(outputs.endLogits.flatMap { $0 }, reference.expected("end_logits")!, rtol: 0, atol: 1e-5, "end_logits")
        case .base: break
        default:
            assertClose(outputs.logitsFlat, reference.expected("logits")!, rtol: 0, atol: 1e-5, "logits")
        }
    }

    @Test func bertBaseUncasedLayoutLoadsWithNothingMissing() throws {
        let directory = Fixtures.path("bert/tiny-bert-base-uncased-layout")
        let (model, report) = try loadModel(directory, head: .maskedLM)
        let info = try Fixtures.json("bert/tiny-bert-base-uncased-layout/loading_info.json") as! [String: Any]
        #expect(report.missing == info["missing_keys"] as! [String])
        #expect(report.unexpected.sorted() == info["unexpected_keys"] as! [String])
        #expect(report.renamed.contains { $0.from == "bert.embeddings.LayerNorm.gamma" && $0.to == "bert.embeddings.LayerNorm.weight" })
        let reference = try Reference(directory + "/reference.safetensors")
        let ws = run(model, reference.batch)
        let B = reference.batch.batchSize, T = reference.batch.sequenceLength, H = model.config.hiddenSize
        assertClose(array(ws.lastHiddenState, B * T * H), reference.expected("last_hidden_state")!, rtol: 0, atol: 1e-5)
        assertClose(BertOutputs(model: model, workspace: ws).logitsFlat, reference.expected("logits")!, rtol: 0, atol: 1e-5)
    }

    @Test func headlessCheckpointIntoClassifierInitialisesOnlyTheHead() throws {
        let (model, report) = try loadModel(Fixtures.path("bert/tiny-base"), head: .sequenceClassification)
        #expect(Set(report.missing) == ["classifier.weight", "classifier.bias"])
        #expect(report.unexpected.isEmpty)
        let weights = model.values(of: "classifier.weight")!
        let mean = weights.reduce(0, +) / Float(weights.count)
        let std = (weights.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(weights.count)).squareRoot()
        #expect(abs(std - 0.02) < 0.01 && model.values(of: "classifier.bias")!.allSatisfy { $0 == 0 })
        // The encoder came from the checkpoint: same hidden states as the base model's reference.
        let reference = try Reference(Fixtures.path("bert/tiny-base/reference.safetensors"))
        let ws = run(model, reference.batch)
        let B = reference.batch.batchSize, T = reference.batch.sequenceLength, H = model.config.hiddenSize
        assertClose(array(ws.lastHiddenState, B * T * H), reference.expected("last_hidden_state")!, rtol: 0, atol: 1e-5)
    }

    @Test func classifierCheckpointIntoBaseModelStripsThePrefix() throws {
        let (_, report) = try loadModel(Fixtures.path("bert/tiny-seqcls"), head: .base)
        #expect(report.missing.isEmpty)
        #expect(Set(report.unexpected) == ["classifier.weight", "classifier.bias"])
    }

    @Test func realMiniLMMatchesTransformers() throws {
        let directory = Fixtures.cacheDirectory + "/models/all-MiniLM-L6-v2"
        try #require(FileManager.default.fileExists(atPath: directory + "/model.safetensors"),
                     "run Tools/fetch first: \(directory) is missing")
        let (model, report) = try loadModel(directory, head: .base)
        #expect(report.isClean)
        let reference = try Reference(Fixtures.path("bert/minilm-reference.safetensors"))
        let ws = run(model, reference.batch)
        let B = reference.batch.batchSize, T = reference.batch.sequenceLength, H = model.config.hiddenSize
        assertClose(array(ws.lastHiddenState, B * T * H), reference.expected("last_hidden_state")!, rtol: 0, atol: 1e-4)
        assertClose(array(ws.pooled, B * H), reference.expected("pooler_output")!, rtol: 0, atol: 1e-4)
    }
}
