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

    /// `name`: a folder of Fixtures/training, or of `root` (Fixtures/families: `roberta-seqcls`, whose labels
    /// follow the part after the family).
    init(_ name: String, root: String = "training/") throws {
        let folder = Fixtures.path(root + name)
        let config = try BertConfig(json: JSONReader.parse(try readFileBytes(folder + "/config.json")))
        let head = config.architectures.compactMap { ModelFamily.head(ofArchitecture: $0)?.head }.first!
        model = BertModel(config: config, head: head)
        let report = try BertCheckpointMapping.load(try SafetensorsReader.read(path: folder + "/model.safetensors"), into: model)
        precondition(report.missing.isEmpty)
        expected = try SafetensorsReader.read(path: folder + "/gradients.safetensors")
        batch = try TokenBatch(inputIds: GoldenCase.rows(expected["input_ids"]!), attentionMask: GoldenCase.rows(expected["attention_mask"]!),
                               tokenTypeIds: GoldenCase.rows(expected["token_type_ids"]!))
        let labelTensor = expected["labels"]!
        switch name.split(separator: "-").last.map(String.init) ?? name {
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

func norm(_ values: [Float]) -> Double { values.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }

/// The gradient rule of the golden tests, per parameter tensor, norm-wise: ‖a − e‖ / ‖e‖ ≤ 1e-4.
/// The references are computed in float64 (make_training_fixtures.py), so a gradient that is zero in exact
/// arithmetic (the key biases: softmax ignores a shift shared by all keys; for QA, qa_outputs.bias and the
/// last LayerNorm's bias: each example's softmax − one-hot sums to zero over the tokens) is stored as
/// ~1e-17 of the total norm, while the script asserts that every other one is above 1e-3 of it. Such a
/// tensor is recognised from the reference alone (below 1e-8 of the total) and has only float32 noise to
/// match: its ‖a‖ must stay below 1e-6 of the total norm.
struct GradientCheck {
    static let relativeBound = 1e-4
    static let zeroShare = 1e-8, noiseShare = 1e-6, conditionedShare = 1e-4

    /// Relative error of every tensor checked relatively (the zero-in-theory ones are in `zeros`).
    private(set) var errors: [String: Double] = [:]
    private(set) var zeros: [String] = []
    private(set) var failures: [String] = []

    init(_ grads: FloatBuffer, layout: ParameterLayout, expected: TensorStore) {
        let references = expected.names.filter { $0.hasPrefix("grad.") }
        let total = references.reduce(0.0) { $0 + pow(norm(expected[$1]!.float32Values()!), 2) }.squareRoot()
        for name in references {
            let parameter = String(name.dropFirst(5))
            guard let spec = layout.spec(named: parameter) else { failures.append("no parameter \(parameter)"); continue }
            let actual = grads.array(offset: spec.offset, count: spec.count)
            let reference = expected[name]!.float32Values()!
            let share = norm(reference) / total
            if share < Self.zeroShare {
                zeros.append(parameter)
                if norm(actual) > Self.noiseShare * total {
                    failures.append("\(parameter): zero in exact arithmetic, but ‖grad‖ is \(norm(actual) / total) of the total norm")
                }
                continue
            }
            if share < Self.conditionedShare {
                failures.append("\(parameter): the fixture is ill-conditioned (‖grad‖ is \(share) of the total norm); re-record it")
            }
            let error = relativeError(actual, reference)
            errors[parameter] = error
            if !(error <= Self.relativeBound) { failures.append("\(parameter): relative error \(error) (‖grad‖ \(norm(reference)))") }
        }
        if references.count != layout.specs.count { failures.append("\(references.count) reference gradients for \(layout.specs.count) parameters") }
    }
}

/// Forward + loss + backward of one micro-batch into `gradients`; returns the (normalised) loss. `bf16`: mixed precision
/// (BertWorkspace.bf16Products).
func lossAndGradients(_ model: BertModel, _ batch: TokenBatch, _ labels: Labels, gradients: FloatBuffer, normaliser: Double,
                      bf16: Bool = false) throws -> Double {
    let ws = BertWorkspace(config: model.config, head: model.head, batch: batch.batchSize, sequence: batch.sequenceLength, keepsEveryLayer: true)
    ws.bf16Products = bf16
    let bw = BertBackwardWorkspace(config: model.config, head: model.head, batch: batch.batchSize, sequence: batch.sequenceLength)
    model.forward(batch, workspace: ws)
    let loss = try model.loss(labels, workspace: ws, backward: bw, normaliser: normaliser)
    model.backward(batch, workspace: ws, backward: bw, gradients: gradients)
    return loss / normaliser
}

@Suite struct GoldenTrainingTests {
    @Test(arguments: ["seqcls", "regression", "multilabel", "tokcls", "qa", "mlm"])
    func lossAndEveryGradientMatchPyTorch(_ name: String) throws {
        try Self.expectLossAndGradientsMatch(try GoldenCase(name), name)
    }

    /// The golden's loss within 1e-5 and every parameter's gradient within GradientCheck's bound; at most the key biases
    /// and, for QA, two more are zero in theory, the rest is checked relatively. FamilyGoldenTests uses it too.
    static func expectLossAndGradientsMatch(_ golden: GoldenCase, _ name: String) throws {
        let grads = FloatBuffer(count: golden.model.layout.count)
        let count = golden.labels.itemCount(numLabels: golden.model.config.numLabels, sequence: golden.batch.sequenceLength)
        let loss = try lossAndGradients(golden.model, golden.batch, golden.labels, gradients: grads, normaliser: Double(count))
        let expectedLoss = Double(golden.expected["loss"]!.float32Values()![0])
        #expect(abs(loss - expectedLoss) <= 1e-5 * max(1, abs(expectedLoss)), "\(name): loss \(loss) vs \(expectedLoss)")
        let check = GradientCheck(grads, layout: golden.model.layout, expected: golden.expected)
        for failure in check.failures { Issue.record("\(name): \(failure)") }
        #expect(check.errors.count >= golden.model.layout.specs.count - 4, "\(check.zeros)")
    }

    @Test func theGradientCheckRejectsWrongGradients() throws {
        // PyTorch's own gradients pass; an all-zero, a slightly scaled or a non-zero key-bias gradient does not.
        let golden = try GoldenCase("qa")
        let layout = golden.model.layout
        func buffer(_ edit: (String, inout [Float]) -> Void) -> FloatBuffer {
            let grads = FloatBuffer(count: layout.count)
            for spec in layout.specs {
                var values = golden.expected["grad." + spec.name]!.float32Values()!
                edit(spec.name, &values)
                for (i, v) in values.enumerated() { grads.pointer[spec.offset + i] = v }
            }
            return grads
        }
        #expect(GradientCheck(buffer { _, _ in }, layout: layout, expected: golden.expected).failures.isEmpty)
        let query = "bert.encoder.layer.0.attention.self.query.weight", keyBias = "bert.encoder.layer.1.attention.self.key.bias"
        let zeroed = GradientCheck(buffer { name, v in if name == query { v = v.map { _ in 0 } } }, layout: layout, expected: golden.expected)
        #expect(zeroed.failures.count == 1 && zeroed.failures[0].hasPrefix(query))
        let scaled = GradientCheck(buffer { name, v in if name == query { v = v.map { $0 * (1 + 2e-4) } } }, layout: layout, expected: golden.expected)
        #expect(scaled.failures.count == 1 && scaled.failures[0].hasPrefix(query))
        let shifted = GradientCheck(buffer { name, v in if name == keyBias { v = v.map { _ in 1e-4 } } }, layout: layout, expected: golden.expected)
        #expect(shifted.zeros.contains(keyBias) && shifted.failures.count == 1 && shifted.failures[0].hasPrefix(keyBias))
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
        // …and both equal PyTorch's full-batch gradient, every tensor.
        for failure in GradientCheck(split, layout: golden.model.layout, expected: golden.expected).failures {
            Issue.record("accumulated: \(failure)")
        }
    }

    @Test func decayMaskIsTheTrainersRule() throws {
        let model = try loadBase(Fixtures.path("training/adamw"))
        let expected = try Fixtures.json("training/adamw/decay_parameters.json") as! [String]
        #expect(model.layout.specs.filter(\.decays).map(\.name).sorted() == expected.sorted())
    }

    @Test func threeAdamWStepsWithWarmupDecayAndClippingMatchPyTorch() throws {
        // Its own model at the default init 0.02 (make_training_fixtures.py says why).
        let model = try loadBase(Fixtures.path("training/adamw"))
        let steps = try SafetensorsReader.read(path: Fixtures.path("training/adamw/adamw_steps.safetensors"))
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
