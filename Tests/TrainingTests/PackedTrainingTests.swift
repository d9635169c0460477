// Padding-free (packed) training: with BertWorkspace.skipsPadding the encoder runs forward and backward over the real
// tokens only, with the padded layout's dropout masks; its loss and gradients must be the padded computation's, up to
// the summation order of the products (1e-6 relative), for every head whose loss ignores the padding positions, in
// every family, with LoRA, and with every dropout site on.

import Testing
import Foundation
import TensorCore
import Safetensors
import Bert
import Training
import TestSupport

/// `batch` with row b cut to a different length (the rest padding, at the end), and its labels cut alike: the
/// batch packing must skip.
func raggedBatch(_ batch: TokenBatch, _ labels: Labels, padId: Int) throws -> (TokenBatch, Labels) {
    let B = batch.batchSize, T = batch.sequenceLength
    let lengths = (0..<B).map { b in max(2, T - (b * 5) % (T - 1)) }
    var ids: [[Int]] = [], mask: [[Int]] = [], types: [[Int]] = []
    for b in 0..<B {
        let n = min(lengths[b], (0..<T).filter { batch.attentionMask[b * T + $0] != 0 }.count)
        ids.append((0..<T).map { $0 < n ? Int(batch.inputIds[b * T + $0]) : padId })
        mask.append((0..<T).map { $0 < n ? 1 : 0 })
        types.append((0..<T).map { $0 < n ? Int(batch.tokenTypeIds[b * T + $0]) : 0 })
    }
    let cut = try TokenBatch(inputIds: ids, attentionMask: mask, tokenTypeIds: types)
    func cutTokens(_ targets: [Int]) -> [Int] { targets.indices.map { mask[$0 / T][$0 % T] == 1 ? targets[$0] : Labels.ignoreIndex } }
    switch labels {
    case .tokenClasses(let t): return (cut, .tokenClasses(cutTokens(t)))
    case .maskedTokens(let t): return (cut, .maskedTokens(cutTokens(t)))
    default: return (cut, labels)
    }
}

/// Loss and every gradient of one micro-batch with the training dropout of `dropoutConfig`, padded or packed, in fp32 or
/// bf16 mixed precision.
func lossAndGradients(_ model: BertModel, adapters: LoRAAdapters? = nil, dropoutConfig: BertConfig, batch: TokenBatch,
                      labels: Labels, packed: Bool, bf16: Bool = false, step: UInt64 = 5) throws -> (loss: Double, gradients: [Float]) {
    let T = batch.sequenceLength, items = Double(max(labels.itemCount(numLabels: model.config.numLabels, sequence: T), 1))
    let trainable = TrainableParameters(model: model, include: { _ in true }, adapters: adapters)
    trainable.zeroGradients()
    let ws = BertWorkspace(config: model.config, head: model.head, batch: batch.batchSize, sequence: T, keepsEveryLayer: true)
    ws.skipsPadding = packed
    ws.bf16Products = bf16
    let bw = BertBackwardWorkspace(config: model.config, head: model.head, batch: batch.batchSize, sequence: T)
    let plan = DropoutPlan.training(config: dropoutConfig, head: model.head, seed: 11, step: step)
    ws.lmRows = labels.maskedRows
    model.forward(batch, workspace: ws, dropout: plan, adapters: adapters)
    let loss = try model.loss(labels, workspace: ws, backward: bw, normaliser: items)
    model.backward(batch, workspace: ws, backward: bw, gradients: trainable.targets, dropout: plan,
                   adapters: adapters.map { ($0, trainable.adapterGradients!) })
    return (loss / items, trainable.tensors.flatMap { Array(UnsafeBufferPointer(start: $0.gradient, count: $0.count)) })
}

/// Adapters of all seven kinds (Fixtures/lora/grad_all_kinds) on `model`, lora_dropout 0.3, with B non-zero (as after
/// some training) so that every adapter passes a gradient down.
func everyLoRAKind(on model: BertModel) throws -> LoRAAdapters {
    var config = try loraConfig(Fixtures.path("lora/grad_all_kinds"))
    config.dropout = 0.3
    let adapters = try LoRAAdapters(model: model, config: config)
    adapters.initialise(seed: 3)
    for i in 0..<adapters.parameters.count { adapters.parameters.pointer[i] += Float((i % 7) - 3) * 0.01 }
    return adapters
}

@Suite struct PackedTrainingTests {
    static let cases: [(String, String)] = ["seqcls", "regression", "multilabel", "tokcls", "mlm"].map { ($0, "training/") }
        + ["distilbert", "roberta"].flatMap { family in ["seqcls", "tokcls", "mlm"].map { ("\(family)-\($0)", "families/") } }

    @Test(arguments: cases)
    func packedGradientsAreThePaddedOnes(_ name: String, _ root: String) throws {
        let golden = try GoldenCase(name, root: root)
        let model = golden.model
        let (batch, labels) = try raggedBatch(golden.batch, golden.labels, padId: model.config.padTokenId ?? 0)
        let rows = try #require(batch.packedRows)
        #expect(rows.count < batch.batchSize * batch.sequenceLength)
        let dropout = everyDropoutOn(model.config)
        let padded = try lossAndGradients(model, dropoutConfig: dropout, batch: batch, labels: labels, packed: false)
        let packed = try lossAndGradients(model, dropoutConfig: dropout, batch: batch, labels: labels, packed: true)
        #expect(abs(packed.loss - padded.loss) <= 1e-6 * max(1, abs(padded.loss)), "\(name): loss \(packed.loss) vs \(padded.loss)")
        #expect(relativeError(packed.gradients, padded.gradients) <= 1e-6, "\(name): gradients \(relativeError(packed.gradients, padded.gradients))")
        // The check can see a wrong mask: another step's masks give other gradients.
        let other = try lossAndGradients(model, dropoutConfig: dropout, batch: batch, labels: labels, packed: true, step: 6)
        #expect(relativeError(other.gradients, padded.gradients) > 1e-3)
    }

    @Test func packedLoRAGradientsAreThePaddedOnes() throws {
        let golden = try GoldenCase("seqcls")
        let model = golden.model
        let adapters = try everyLoRAKind(on: model)
        let (batch, labels) = try raggedBatch(golden.batch, golden.labels, padId: 0)
        let dropout = everyDropoutOn(model.config)
        let padded = try lossAndGradients(model, adapters: adapters, dropoutConfig: dropout, batch: batch, labels: labels, packed: false)
        let packed = try lossAndGradients(model, adapters: adapters, dropoutConfig: dropout, batch: batch, labels: labels, packed: true)
        #expect(abs(packed.loss - padded.loss) <= 1e-6 * max(1, abs(padded.loss)))
        #expect(relativeError(packed.gradients, padded.gradients) <= 1e-6, "\(relativeError(packed.gradients, padded.gradients))")
    }
}
