// Data-parallel training (Sources/Training/ProcessGroup.swift) rests on one identity: the rows of a micro-batch
// split among ranks, each computed with its own part of the whole micro-batch's dropout masks and normalised by the
// whole micro-batch's item count, give losses and gradients that sum to the whole micro-batch's. Checked here for
// every head of every family and for LoRA, with every dropout site on, without MPI; Tests/Distributed runs the same
// thing across processes.

import Testing
import Foundation
import TensorCore
import Safetensors
import Bert
import Training
import TestSupport

/// Loss and every gradient (model parameters, then adapters) of rows `rows` of `batch`, with a training run's dropout
/// masks drawn from `dropoutConfig` for those rows' place in the whole micro-batch (or, with `offsets` false, as if
/// they were a micro-batch of their own: what a rank would draw without the masks' row offsets).
func shardLossAndGradients(_ model: BertModel, adapters: LoRAAdapters? = nil, dropoutConfig: BertConfig, batch: TokenBatch,
                           labels: Labels, rows: Range<Int>, normaliser: Double, offsets: Bool = true,
                           packed: Bool = false) throws -> (loss: Double, gradients: [Float]) {
    let T = batch.sequenceLength
    let part = batch.rows(rows), partLabels = labels.rows(rows, sequence: T, numLabels: model.config.numLabels)
    let trainable = TrainableParameters(model: model, include: { _ in true }, adapters: adapters)
    trainable.zeroGradients()
    let ws = BertWorkspace(config: model.config, head: model.head, batch: part.batchSize, sequence: T, keepsEveryLayer: true)
    ws.skipsPadding = packed
    let bw = BertBackwardWorkspace(config: model.config, head: model.head, batch: part.batchSize, sequence: T)
    let plan = DropoutPlan.training(config: dropoutConfig, head: model.head, seed: 11, step: 5,
                                    firstRow: offsets ? rows.lowerBound : 0, sequence: T)
    ws.lmRows = partLabels.maskedRows
    model.forward(part, workspace: ws, dropout: plan, adapters: adapters)
    let loss = try model.loss(partLabels, workspace: ws, backward: bw, normaliser: normaliser, wholeBatch: labels)
    model.backward(part, workspace: ws, backward: bw, gradients: trainable.targets, dropout: plan,
                   adapters: adapters.map { ($0, trainable.adapterGradients!) })
    return (loss / normaliser, trainable.tensors.flatMap { Array(UnsafeBufferPointer(start: $0.gradient, count: $0.count)) })
}

/// `config` with every dropout probability at 0.3, so that every site draws a mask.
func everyDropoutOn(_ config: BertConfig) -> BertConfig {
    var c = config
    c.hiddenDropoutProb = 0.3; c.attentionProbsDropoutProb = 0.3; c.classifierDropout = 0.3
    c.qaDropout = 0.3; c.sequenceClassifierDropout = 0.3
    return c
}

@Suite struct ShardedGradientTests {
    static let cases: [(String, String)] = ["seqcls", "regression", "multilabel", "tokcls", "qa", "mlm"].map { ($0, "training/") }
        + ["distilbert", "roberta"].flatMap { family in ["seqcls", "tokcls", "qa", "mlm"].map { ("\(family)-\($0)", "families/") } }

    @Test(arguments: cases)
    func ranksSharesSumToTheWholeMicroBatch(_ name: String, _ root: String) throws {
        let golden = try GoldenCase(name, root: root)
        let model = golden.model, batch = golden.batch, B = batch.batchSize
        let dropout = everyDropoutOn(model.config)
        let items = Double(golden.labels.itemCount(numLabels: model.config.numLabels, sequence: batch.sequenceLength))
        let whole = try shardLossAndGradients(model, dropoutConfig: dropout, batch: batch, labels: golden.labels, rows: 0..<B, normaliser: items)
        for ranks in [2, 3] {
            var loss = 0.0, sum = [Float](repeating: 0, count: whole.gradients.count), unshifted = sum
            for rank in 0..<ranks {
                let rows = ProcessGroup.share(of: B, rank: rank, size: ranks)
                guard !rows.isEmpty else { continue }
                let part = try shardLossAndGradients(model, dropoutConfig: dropout, batch: batch, labels: golden.labels, rows: rows, normaliser: items)
                loss += part.loss
                for i in sum.indices { sum[i] += part.gradients[i] }
                // Without the masks' row offsets every rank would draw row 0's masks: the check below must see that.
                let wrong = try shardLossAndGradients(model, dropoutConfig: dropout, batch: batch, labels: golden.labels, rows: rows,
                                                      normaliser: items, offsets: false)
                for i in unshifted.indices { unshifted[i] += wrong.gradients[i] }
            }
            #expect(abs(loss - whole.loss) <= 1e-6 * max(1, abs(whole.loss)), "\(name), \(ranks) ranks: loss \(loss) vs \(whole.loss)")
            #expect(relativeError(sum, whole.gradients) <= 1e-5, "\(name), \(ranks) ranks: gradients \(relativeError(sum, whole.gradients))")
            #expect(relativeError(unshifted, whole.gradients) > 1e-3, "\(name): masks without row offsets went unnoticed")
        }
    }

    /// Padding-free batches (the default in training) on each rank: each rank packs its own rows, its masks still the
    /// whole padded micro-batch's.
    @Test(arguments: [("seqcls", "training/"), ("tokcls", "training/"), ("mlm", "training/"), ("roberta-seqcls", "families/")])
    func packedSharesSumToTheWholePaddedMicroBatch(_ name: String, _ root: String) throws {
        let golden = try GoldenCase(name, root: root)
        let model = golden.model
        let (batch, labels) = try raggedBatch(golden.batch, golden.labels, padId: model.config.padTokenId ?? 0)
        let dropout = everyDropoutOn(model.config), B = batch.batchSize
        let items = Double(labels.itemCount(numLabels: model.config.numLabels, sequence: batch.sequenceLength))
        let whole = try shardLossAndGradients(model, dropoutConfig: dropout, batch: batch, labels: labels, rows: 0..<B, normaliser: items)
        var loss = 0.0, sum = [Float](repeating: 0, count: whole.gradients.count)
        for rank in 0..<2 {
            let rows = ProcessGroup.share(of: B, rank: rank, size: 2)
            let part = try shardLossAndGradients(model, dropoutConfig: dropout, batch: batch, labels: labels, rows: rows,
                                                 normaliser: items, packed: true)
            loss += part.loss
            for i in sum.indices { sum[i] += part.gradients[i] }
        }
        #expect(abs(loss - whole.loss) <= 1e-6 * max(1, abs(whole.loss)), "\(name): loss \(loss) vs \(whole.loss)")
        #expect(relativeError(sum, whole.gradients) <= 1e-5, "\(name): gradients \(relativeError(sum, whole.gradients))")
    }

    @Test func loraSharesSumToTheWholeMicroBatch() throws {
        let golden = try GoldenCase("seqcls")
        let model = golden.model, batch = golden.batch, B = batch.batchSize
        var config = try loraConfig(Fixtures.path("lora/grad_all_kinds"))
        config.dropout = 0.3
        let adapters = try LoRAAdapters(model: model, config: config)
        adapters.initialise(seed: 3)
        // Non-zero B matrices, so that every adapter's dropout reaches the loss.
        for i in 0..<adapters.parameters.count { adapters.parameters.pointer[i] += Float((i % 7) - 3) * 0.01 }
        let dropout = everyDropoutOn(model.config)
        let items = Double(golden.labels.itemCount(numLabels: model.config.numLabels, sequence: batch.sequenceLength))
        let whole = try shardLossAndGradients(model, adapters: adapters, dropoutConfig: dropout, batch: batch, labels: golden.labels,
                                              rows: 0..<B, normaliser: items)
        var sum = [Float](repeating: 0, count: whole.gradients.count), unshifted = sum
        for rank in 0..<2 {
            let rows = ProcessGroup.share(of: B, rank: rank, size: 2)
            let part = try shardLossAndGradients(model, adapters: adapters, dropoutConfig: dropout, batch: batch, labels: golden.labels,
                                                 rows: rows, normaliser: items)
            for i in sum.indices { sum[i] += part.gradients[i] }
            let wrong = try shardLossAndGradients(model, adapters: adapters, dropoutConfig: dropout, batch: batch, labels: golden.labels,
                                                  rows: rows, normaliser: items, offsets: false)
            for i in unshifted.indices { unshifted[i] += wrong.gradients[i] }
        }
        // The adapters' own gradients (the tail) and everything together.
        let adapterCount = adapters.parameters.count
        #expect(relativeError(Array(sum.suffix(adapterCount)), Array(whole.gradients.suffix(adapterCount))) <= 1e-5)
        #expect(relativeError(sum, whole.gradients) <= 1e-5)
        #expect(relativeError(unshifted, whole.gradients) > 1e-3)
    }

    @Test func sharesCoverEveryRowOnce() {
        for count in 0..<20 {
            for size in 1..<6 {
                let shares = (0..<size).map { ProcessGroup.share(of: count, rank: $0, size: size) }
                #expect(shares.flatMap { Array($0) } == Array(0..<count))
                #expect((shares.map(\.count).max() ?? 0) - (shares.map(\.count).min() ?? 0) <= 1)
            }
        }
    }
}
