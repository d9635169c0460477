// The forward pass of every head against transformers' outputs on the tiny fixtures (Fixtures/bert,
// made by Tools/fixtures/make_bert_fixtures.py) — each head's model directory in safetensors, PyTorch zip
// and PyTorch legacy form, and in bfloat16 / float16 — and against the real all-MiniLM-L6-v2.

import Testing
import Foundation
import TensorCore
import Safetensors
import Checkpoints
import Bert
import TestSupport

/// A model directory loaded as the CLI loads one: config.json, then whichever weights file transformers
/// would pick (CheckpointReader over ModelDirectory's order), into a fresh model for `head`.
func loadModel(_ directory: String, head: BertHead) throws -> (BertModel, BertLoadReport, CheckpointFormat) {
    let config = try BertConfig(json: JSONReader.parse(try readFileBytes(directory + "/config.json")))
    let model = BertModel(config: config, head: head)
    let weights = try CheckpointReader.load(path: directory)
    let report = try BertCheckpointMapping.load(weights.store, into: model)
    return (model, report, weights.format)
}

/// The inputs and expected outputs of a parity reference file.
struct Reference {
    static let inputNames: Set<String> = ["input_ids", "attention_mask", "token_type_ids"]
    let batch: TokenBatch
    let outputs: TensorStore

    init(_ path: String) throws {
        let store = try SafetensorsReader.read(path: path)
        func rows(_ name: String) throws -> [[Int]] {
            let tensor = try #require(store[name], "\(path) has no \(name)")
            let values = tensor.int64Values()!.map(Int.init)
            return stride(from: 0, to: values.count, by: tensor.shape[1]).map { Array(values[$0..<$0 + tensor.shape[1]]) }
        }
        batch = try TokenBatch(inputIds: rows("input_ids"), attentionMask: rows("attention_mask"),
                               tokenTypeIds: rows("token_type_ids"))
        outputs = store
    }

    func expected(_ name: String) -> [Float]? { outputs[name]?.float32Values() }
    var outputNames: Set<String> { Set(outputs.names).subtracting(Self.inputNames) }
}

func run(_ model: BertModel, _ batch: TokenBatch) -> BertWorkspace {
    let ws = BertWorkspace(config: model.config, head: model.head, batch: batch.batchSize, sequence: batch.sequenceLength,
                           keepsEveryLayer: false)
    model.forward(batch, workspace: ws)
    return ws
}

func array(_ pointer: UnsafeMutablePointer<Float>, _ count: Int) -> [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

/// Every output the head produces, under the names transformers' outputs (and parity references) use.
func allOutputs(_ model: BertModel, _ ws: BertWorkspace) -> [String: [Float]] {
    let outputs = BertOutputs(model: model, workspace: ws)
    var result = ["last_hidden_state": outputs.lastHiddenState.flatMap { $0.flatMap { $0 } }]
    if let pooled = outputs.pooled { result["pooler_output"] = pooled.flatMap { $0 } }
    switch model.head {
    case .base: break
    case .questionAnswering:
        result["start_logits"] = outputs.startLogits.flatMap { $0 }
        result["end_logits"] = outputs.endLogits.flatMap { $0 }
    case .sequenceClassification, .tokenClassification, .maskedLM:
        result["logits"] = outputs.logitsFlat
    }
    return result
}

/// The model's outputs on the reference's inputs equal every output the reference holds, and the
/// reference holds every output the model produces: a missing or extra key fails.
func expectMatchesReference(_ model: BertModel, _ reference: Reference, atol: Double, _ label: String = "",
                            sourceLocation: SourceLocation = #_sourceLocation) {
    let produced = allOutputs(model, run(model, reference.batch))
    #expect(Set(produced.keys) == reference.outputNames, "\(label): model gives \(produced.keys.sorted()), reference holds \(reference.outputNames.sorted())",
            sourceLocation: sourceLocation)
    for (name, values) in produced.sorted(by: { $0.key < $1.key }) {
        guard let expected = reference.expected(name) else { continue }
        assertClose(values, expected, rtol: 0, atol: atol, "\(label) \(name)", sourceLocation: sourceLocation)
    }
}

@Suite struct BertForwardGoldenTests {
    static let heads: [(String, BertHead)] = [("tiny-base", .base), ("tiny-seqcls", .sequenceClassification),
                                               ("tiny-tokcls", .tokenClassification), ("tiny-qa", .questionAnswering),
                                               ("tiny-mlm", .maskedLM)]
    /// The folder suffix of each format make_bert_fixtures.py saves every head in.
    static let formats: [(suffix: String, format: CheckpointFormat)] = [("", .safetensors), ("-pytorch-zip", .pytorchZip),
                                                                        ("-pytorch-legacy", .pytorchLegacy)]

    @Test(arguments: heads.map(\.0), formats.map(\.format.rawValue))
    func everyHeadInEveryFormatMatchesTransformers(_ fixture: String, _ formatName: String) throws {
        let head = Self.heads.first { $0.0 == fixture }!.1
        let format = Self.formats.first { $0.format.rawValue == formatName }!
        let directory = Fixtures.path("bert/" + fixture + format.suffix)
        let (model, report, loadedFormat) = try loadModel(directory, head: head)
        #expect(loadedFormat == format.format)
        #expect(report.isClean, "missing \(report.missing), unexpected \(report.unexpected)")
        #expect(report.convertedFrom.isEmpty)
        // The PyTorch folders hold only weights and config; the inputs and outputs are the head's reference.
        let reference = try Reference(Fixtures.path("bert/\(fixture)/reference.safetensors"))
        expectMatchesReference(model, reference, atol: 1e-5, "\(fixture) \(formatName)")
    }

    /// bfloat16 / float16 checkpoints are converted to float32 on load; transformers ran the same weights
    /// upcast to float32. The references differ from the float32 fixture's by more than the tolerance, so
    /// the rounded weights are really what is compared.
    @Test(arguments: [("tiny-seqcls-bf16", "tiny-seqcls", "BF16"), ("tiny-mlm-f16", "tiny-mlm", "F16")])
    func halfPrecisionCheckpointsMatchTransformersUpcast(_ fixture: String, _ source: String, _ dtype: String) throws {
        let head = Self.heads.first { $0.0 == source }!.1
        let directory = Fixtures.path("bert/" + fixture)
        let (model, report, format) = try loadModel(directory, head: head)
        #expect(format == .safetensors)
        #expect(report.isClean, "missing \(report.missing), unexpected \(report.unexpected)")
        #expect(Set(report.convertedFrom.keys) == Set(model.layout.specs.map(\.name)), "not every parameter was converted")
        #expect(Set(report.convertedFrom.values) == [dtype], "\(report.convertedFrom)")
        let reference = try Reference(directory + "/reference.safetensors")
        expectMatchesReference(model, reference, atol: 1e-5, fixture)
        let fullPrecision = try Reference(Fixtures.path("bert/\(source)/reference.safetensors"))
        #expect(fullPrecision.batch.inputIds == reference.batch.inputIds)
        // At the 1e-5 tolerance the float32 weights' outputs would fail this check.
        let moved = reference.outputNames.map { maxAbsDifference(reference.expected($0)!, fullPrecision.expected($0)!) }.max() ?? 0
        #expect(moved > 1e-5, "the half-precision reference is within 1e-5 of the float32 one (\(moved))")
    }

    @Test func bertBaseUncasedLayoutLoadsWithNothingMissing() throws {
        let directory = Fixtures.path("bert/tiny-bert-base-uncased-layout")
        let (model, report, _) = try loadModel(directory, head: .maskedLM)
        let info = try Fixtures.json("bert/tiny-bert-base-uncased-layout/loading_info.json") as! [String: Any]
        #expect(report.missing == info["missing_keys"] as! [String])
        #expect(report.unexpected.sorted() == info["unexpected_keys"] as! [String])
        #expect(report.renamed.contains { $0.from == "bert.embeddings.LayerNorm.gamma" && $0.to == "bert.embeddings.LayerNorm.weight" })
        expectMatchesReference(model, try Reference(directory + "/reference.safetensors"), atol: 1e-5)
    }

    @Test func headlessCheckpointIntoClassifierInitialisesOnlyTheHead() throws {
        let (model, report, _) = try loadModel(Fixtures.path("bert/tiny-base"), head: .sequenceClassification)
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
        let (_, report, _) = try loadModel(Fixtures.path("bert/tiny-seqcls"), head: .base)
        #expect(report.missing.isEmpty)
        #expect(Set(report.unexpected) == ["classifier.weight", "classifier.bias"])
    }

    @Test func realMiniLMMatchesTransformers() throws {
        let directory = Fixtures.cacheDirectory + "/models/all-MiniLM-L6-v2"
        try #require(FileManager.default.fileExists(atPath: directory + "/model.safetensors"),
                     "run Tools/fetch first: \(directory) is missing")
        let (model, report, _) = try loadModel(directory, head: .base)
        #expect(report.isClean)
        let reference = try Reference(Fixtures.path("bert/minilm-reference.safetensors"))
        #expect(reference.outputNames == ["last_hidden_state", "pooler_output"])
        expectMatchesReference(model, reference, atol: 1e-4)
    }
}
