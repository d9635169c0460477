// llm.c-style golden checks against PyTorch (Fixtures/training, made by
// Tools/fixtures/make_training_fixtures.py): the loss and every parameter's gradient for every head's
// loss, three AdamW updates with warmup, decay exclusion and clipping, and gradient accumulation.

import Testing
import Foundation
import TensorCore
import Safetensors
import Bert
import Training
import TestSupport

struct GoldenCase {
    let model: BertModel
    let batch: TokenBatch
    let labels: Labels
    let expected: TensorStore

    init(_ name: String) throws {
        let folder = Fixtures.path("training/" + name)
        let config = try BertConfig(json: JSONReader.parse(try readFileBytes(folder + "/config.json")))
        let head = config.architectures.compactMap(BertHead.init(architecture:)).first!
        model = BertModel(config: config, head: head)
        let report = try BertCheckpointMapping.load(try SafetensorsReader.read(path: folder + "/model.safetensors"), into: model)
        precondition(report.missing.isEmpty)
        expected = try SafetensorsReader.read(path: folder + "/gradients.safetensors")
        batch = try TokenBatch(inputIds: GoldenCase.rows(expected["input_ids"]!), attentionMask: GoldenCase.rows(expected["attention_mask"]!),
                               tokenTypeIds: GoldenCase.rows(expected["token_type_ids"]!))
        let labelTensor = expected["labels"]!
        switch name {
        case "seqcls": labels = .classes(labelTensor.int64Values()!.map(Int.init))
        case "regression": labels = .regression(labelTensor.float32Values()!)
        case "multilabel": labels = .multiLabel(labelTensor.float32Values()!)
        case "tokcls": labels = .tokenClasses(labelTensor.int64Values()!.map(Int.init))
        case "mlm": labels = .maskedTokens(labelTensor.int64Values()!.map(Int.init))
        default:
            let values: [Int] = labelTensor.int64Values()!.map(Int.init)
            let half: Int = values.count / 2
            let starts: [Int] = Array(values[0..<half])
            let ends: [Int] = Array(values[half...])
            labels = .spans(start: starts, end: ends)
        }
    }

    static func rows(_ tensor: Tensor) -> [[Int]] {
        let values = tensor.int64Values()!.map(Int.init), width = tensor.shape[1]
        return stride(from: 0, to: values.count, by: width).map { Array(values[$0..<$0 + width]) }
    }
}

/// ‖a − e‖ / ‖e‖ (or ‖a‖ when e is all zeros).
func relativeError(_ a: [Float], _ e: [Float]) -> Double {
    var diff = 0.0, norm = 0.0
    for (x, y) in zip(a, e) { diff += Double(x - y) * Double(x - y); norm += Double(y) * Double(y) }
    return norm == 0 ? diff.squareRoot() : (diff / norm).squareRoot()
}

/// Forward + loss + backward of one micro-batch into `gradients`; returns the (normalised) loss.
func lossAndGradients(_ model: BertModel, _ batch: TokenBatch, _ labels: Labels, gradients: FloatBuffer, normaliser: Double) throws -> Double {
    let ws = BertWorkspace(config: model.config, head: model.head, batch: batch.batchSize, sequence: batch.sequenceLength, keepsEveryLayer: true)
    let bw = BertBackwardWorkspace(config: model.config, head: model.head, batch: batch.batchSize, sequence: batch.sequenceLength)
    model.forward(batch, workspace: ws)
    let loss = try model.loss(labels, workspace: ws, backward: bw, normaliser: normaliser)
    model.backward(batch, workspace: ws, backward: bw, gradients: gradients)
    return loss / normaliser
}

@Suite struct GoldenTrainingTests {
    @Test(arguments: ["seqcls", "regression", "multilabel", "tokcls", "qa", "mlm"])
    func lossAndEveryGradientMatchPyTorch(_ name: String) throws {
        let golden = try GoldenCase(name)
        let grads = FloatBuffer(count: golden.model.layout.count)
        let count = golden.labels.itemCount(numLabels: golden.model.config.numLabels, sequence: golden.batch.sequenceLength)
        let loss = try lossAndGradients(golden.model, golden.batch, golden.labels, gradients: grads, normaliser: Double(count))
        let expectedLoss = Double(golden.expected["loss"]!.float32Values()![0])
        #expect(abs(loss - expectedLoss) <= 1e-5 * max(1, abs(expectedLoss)), "loss \(loss) vs \(expectedLoss)")
        var checked = 0
        for name in golden.expected.names where name.hasPrefix("grad.") {
            let parameter = String(name.dropFirst(5))
            let spec = try #require(golden.model.layout.spec(named: parameter), "no parameter \(parameter)")
            let actual = grads.array(offset: spec.offset, count: spec.count)
            let expected = golden.expected[name]!.float32Values()!
            // Some gradients are exactly zero in exact arithmetic (the key bias: softmax ignores a shift
            // shared by all keys; the QA output bias: each row of softmax − one-hot sums to zero); both
            // sides then hold float noise, so an absolute floor of 1e-7 per element applies.
            let error = relativeError(actual, expected)
            let scale = expected.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            let allowed = 1e-4 + 1e-7 * Double(expected.count).squareRoot() / max(scale, 1e-30)
            #expect(error <= allowed, "\(parameter): relative error \(error) (gradient norm \(scale))")
            checked += 1
        }
        #expect(checked == golden.model.layout.specs.count, "every parameter's gradient is checked")
    }

    @Test func accumulatingTwoMicroBatchesEqualsOneBatchOfTwiceTheSize() throws {
        let golden = try GoldenCase("seqcls")
        guard case .classes(let targets) = golden.labels else { Issue.record("labels"); return }
        let whole = FloatBuffer(count: golden.model.layout.count), split = FloatBuffer(count: golden.model.layout.count)
        _ = try lossAndGradients(golden.model, golden.batch, golden.labels, gradients: whole, normaliser: 8)
        for half in [0..<4, 4..<8] {
            let rows = Array(half)
            let part = try TokenBatch(inputIds: rows.map { Array(golden.batch.inputIds[$0 * 7..<($0 + 1) * 7]).map(Int.init) },
                                      attentionMask: rows.map { Array(golden.batch.attentionMask[$0 * 7..<($0 + 1) * 7]).map { Int($0) } },
                                      tokenTypeIds: rows.map { Array(golden.batch.tokenTypeIds[$0 * 7..<($0 + 1) * 7]).map(Int.init) })
            _ = try lossAndGradients(golden.model, part, .classes(Array(targets[half])), gradients: split, normaliser: 8)
        }
        #expect(relativeError(split.array(), whole.array()) < 1e-6)
        // …and both equal PyTorch's full-batch gradient.
        let spec = golden.model.layout.spec(named: "classifier.weight")!
        #expect(relativeError(split.array(offset: spec.offset, count: spec.count), golden.expected["grad.classifier.weight"]!.float32Values()!) < 1e-4)
    }

    @Test func decayMaskIsTheTrainersRule() throws {
        let golden = try GoldenCase("seqcls")
        let expected = try Fixtures.json("training/seqcls/decay_parameters.json") as! [String]
        #expect(golden.model.layout.specs.filter(\.decays).map(\.name).sorted() == expected.sorted())
    }

    @Test func threeAdamWStepsWithWarmupDecayAndClippingMatchPyTorch() throws {
        let golden = try GoldenCase("seqcls")
        let model = golden.model
        let steps = try SafetensorsReader.read(path: Fixtures.path("training/seqcls/adamw_steps.safetensors"))
        let trainable = TrainableParameters(model: model, include: { _ in true })
        let grads = trainable.modelGradients   // every parameter: the same layout as the model
        let optimizer = AdamW(settings: AdamWSettings(), tensors: trainable.tensors)
        let schedule = LinearSchedule(peak: 1e-3, warmupSteps: 1, totalSteps: 3)
        for step in 0..<3 {
            grads.zero()
            let ids = GoldenCase.rows(steps["step\(step).input_ids"]!)
            let labels = steps["step\(step).labels"]!.int64Values()!.map(Int.init)
            let batch = try TokenBatch(inputIds: ids)
            let loss = try lossAndGradients(model, batch, .classes(labels), gradients: grads, normaliser: Double(labels.count))
            #expect(abs(loss - Double(steps["step\(step).loss"]!.float32Values()![0])) < 1e-5)
            let norm = GradientClipping.clip(trainable.tensors, maxNorm: 0.5)
            #expect(abs(Double(norm) - Double(steps["step\(step).grad_norm"]!.float32Values()![0])) < 1e-4 * Double(norm))
            let lr = schedule.learningRate(update: step)
            #expect(abs(Double(lr) - Double(steps["step\(step).lr"]!.float32Values()![0])) < 1e-9)
            optimizer.update(lr: lr)
        }
        for spec in model.layout.specs {
            let expected = try #require(steps["after." + spec.name]).float32Values()!
            assertClose(model.parameters.array(offset: spec.offset, count: spec.count), expected, rtol: 1e-5, atol: 1e-6, spec.name)
        }
    }

    @Test func linearScheduleStartsAtZeroWhenWarmingUp() {
        let schedule = LinearSchedule(peak: 1e-3, warmupSteps: 2, totalSteps: 5)
        // The values transformers_training.md §4 reports for T=5, W=2, lr=1e-3.
        let observed = (0..<5).map { schedule.learningRate(update: $0) }
        assertClose(observed, [0, 5e-4, 1e-3, 6.667e-4, 3.333e-4] as [Float], rtol: 1e-3, atol: 1e-9)
        #expect(LinearSchedule.warmupSteps(ratio: 0.1, steps: nil, total: 25) == 3)
    }
}
