// bf16 mixed-precision training (BertWorkspace.bf16Products, `finetune --precision bf16`) against PyTorch's fp32
// golden gradients (Fixtures/training, Fixtures/families: computed in float64 by make_training_fixtures.py).
//
// The tolerance, and why. bf16 keeps 8 significant bits: rounding an operand errs by at most u = 2⁻⁹ ≈ 0.2 %
// relative, so one product of two rounded operands by at most 2u, and a sum of such products by 2u of the sum of
// their magnitudes — more than 2u of the sum itself where terms cancel, and a gradient is full of cancelling terms.
// Backpropagation passes the error on through every layer below (two in these models) and the forward's error
// into the loss. So the rule is norm-wise per tensor, as the fp32 golden rule (GradientCheck), with the bound
// 64u = 12.5 % — loose enough for the cancellation the small random models show (largest seen 5.8 %: seqcls's
// classifier.bias, Σ(p − y) over the batch; most tensors 1–2 %), tight enough that a packing with the pair's halves
// swapped (seen: errors of 1.0–1.5) or a missing transpose fails. The
// loss, whose error comes from the forward alone, is held to 8u. That the error is bf16's and not zero is checked too:
// at least one tensor must differ from fp32 by more than fp32's bound (1e-4), or bf16 was never used.

import Testing
import Foundation
import TensorCore
import Bert
import Training
import TestSupport

@Suite struct BF16TrainingTests {
    static let u: Double = 0x1p-9
    static let gradientBound = 64 * u, lossBound = 8 * u

    static let cases: [(String, String)] = ["seqcls", "regression", "multilabel", "tokcls", "qa", "mlm"].map { ($0, "training/") }
        + ["distilbert", "roberta"].flatMap { family in ["seqcls", "tokcls", "qa", "mlm"].map { ("\(family)-\($0)", "families/") } }

    @Test(arguments: cases)
    func bf16GradientsMatchTheFP32GoldenWithinBF16Rounding(_ name: String, _ root: String) throws {
        let golden = try GoldenCase(name, root: root)
        let model = golden.model
        let grads = FloatBuffer(count: model.layout.count)
        let count = golden.labels.itemCount(numLabels: model.config.numLabels, sequence: golden.batch.sequenceLength)
        let loss = try lossAndGradients(model, golden.batch, golden.labels, gradients: grads, normaliser: Double(count), bf16: true)
        let expectedLoss = Double(golden.expected["loss"]!.float32Values()![0])
        #expect(abs(loss - expectedLoss) <= Self.lossBound * max(1, abs(expectedLoss)), "\(name): loss \(loss) vs \(expectedLoss)")

        let references = golden.expected.names.filter { $0.hasPrefix("grad.") }
        let total = references.reduce(0.0) { $0 + pow(norm(golden.expected[$1]!.float32Values()!), 2) }.squareRoot()
        var largest = 0.0
        for reference in references {
            let parameter = String(reference.dropFirst(5))
            let spec = try #require(model.layout.spec(named: parameter))
            let actual = grads.array(offset: spec.offset, count: spec.count)
            let expected = golden.expected[reference]!.float32Values()!
            // Zero in exact arithmetic (GradientCheck): only noise, now bf16's, relative to the whole gradient.
            let error = norm(expected) < GradientCheck.zeroShare * total
                ? norm(actual) / total : relativeError(actual, expected)
            largest = max(largest, error)
            #expect(error <= Self.gradientBound, "\(name): \(parameter) relative error \(error)")
        }
        #expect(largest > GradientCheck.relativeBound, "\(name): no gradient differs from fp32's beyond fp32's rounding — bf16 unused?")
    }

    /// Packed batches and LoRA adapters in bf16: the same rule against the fp32 computation of the same batch (whose own
    /// agreement with PyTorch the golden and packed tests hold), with every dropout site on.
    @Test func bf16PackedAndLoRAGradientsStayWithinBF16RoundingOfFP32() throws {
        let golden = try GoldenCase("seqcls")
        let model = golden.model
        let adapters = try everyLoRAKind(on: model)
        let (batch, labels) = try raggedBatch(golden.batch, golden.labels, padId: 0)
        let dropout = everyDropoutOn(model.config)
        for lora in [nil, adapters] {
            let fp32 = try lossAndGradients(model, adapters: lora, dropoutConfig: dropout, batch: batch, labels: labels, packed: false)
            let bf16 = try lossAndGradients(model, adapters: lora, dropoutConfig: dropout, batch: batch, labels: labels, packed: true, bf16: true)
            let error = relativeError(bf16.gradients, fp32.gradients)
            #expect(abs(bf16.loss - fp32.loss) <= Self.lossBound * max(1, abs(fp32.loss)))
            #expect(error <= Self.gradientBound && error > GradientCheck.relativeBound, "LoRA \(lora != nil): \(error)")
        }
    }
}
