// Evaluation during and after training: the loss as the Trainer reports it (a sample-weighted mean of batch
// means) and the task's metrics, from its `MetricAccumulator`.

import TensorCore
import Bert

package struct EvaluationResult: Sendable {
    package var loss: Double
    /// Examples evaluated (windows, for a task that cuts long inputs).
    package var count: Int
    /// What the task measured.
    package var task: TaskMetrics
    /// Sequence classification's accuracy, macro-F1 and confusion matrix; nil for other tasks and regression.
    package var metrics: ClassificationMetrics? { task.classification }
    package var accuracy: Double? { task.accuracy }
    package var f1: Double? { task.f1 }

    package init(loss: Double, count: Int, task: TaskMetrics) {
        self.loss = loss
        self.count = count
        self.task = task
    }
}

extension Trainer {
    /// Loss (sample-weighted mean of batch means, as the Trainer reports it) and metrics on `examples`.
    package func evaluate(_ examples: [EncodedExample]) throws -> EvaluationResult {
        try Trainer.evaluate(model: model, adapters: adapters, examples: examples, batchSize: options.evalBatchSize ?? options.batchSize,
                             task: task, group: group, skipsPadding: options.skipsPadding, bf16: options.precision == .bf16,
                             storage: &workspaceStorage,
                             backwardStorage: &backwardStorage)
    }

    package static func evaluate(model: BertModel, adapters: LoRAAdapters? = nil, examples: [EncodedExample], batchSize: Int,
                                task: any TrainingTask) throws -> EvaluationResult {
        var a: FloatBuffer? = nil, b: FloatBuffer? = nil
        return try evaluate(model: model, adapters: adapters, examples: examples, batchSize: batchSize, task: task,
                            storage: &a, backwardStorage: &b)
    }

    /// The model's own head with `problemType` (`HeadTask`).
    package static func evaluate(model: BertModel, adapters: LoRAAdapters? = nil, examples: [EncodedExample], batchSize: Int,
                                problemType: ProblemType?) throws -> EvaluationResult {
        try evaluate(model: model, adapters: adapters, examples: examples, batchSize: batchSize,
                     task: HeadTask(head: model.head, problemType: problemType))
    }

    static func evaluate(model: BertModel, adapters: LoRAAdapters?, examples: [EncodedExample], batchSize: Int, task: any TrainingTask,
                         group: ProcessGroup = .single, skipsPadding: Bool = false, bf16: Bool = false, storage: inout FloatBuffer?,
                         backwardStorage: inout FloatBuffer?) throws -> EvaluationResult {
        let c = model.config
        var weightedLoss = 0.0
        var metrics = task.makeMetrics()
        var gathered: FloatBuffer? = nil
        for start in stride(from: 0, to: examples.count, by: batchSize) {
            let chunk = Array(examples[start..<min(start + batchSize, examples.count)])
            let (batch, labels) = try task.collate(chunk, padId: c.padTokenId ?? 0, pass: .evaluation)
            try batch.validate(for: c)
            if group.isDistributed {
                weightedLoss += try evaluateShard(model: model, adapters: adapters, batch: batch, labels: labels, group: group,
                                                  skipsPadding: skipsPadding, bf16: bf16, storage: &storage, backwardStorage: &backwardStorage,
                                                  gathered: &gathered) {
                    metrics.add(examples: chunk, labels: labels, batch: batch, outputs: $0, config: c)
                } * Double(chunk.count)
                continue
            }
            let (ws, bw) = workspaces(model, batch, training: false, skipsPadding: skipsPadding, bf16: bf16, storage: &storage,
                                      backwardStorage: &backwardStorage)
            ws.lmRows = labels.maskedRows
            model.forward(batch, workspace: ws, adapters: adapters)
            let items = max(labels.itemCount(numLabels: c.numLabels, sequence: batch.sequenceLength), 1)
            let loss = try model.loss(labels, workspace: ws, backward: bw, normaliser: Double(items)) / Double(items)
            weightedLoss += loss * Double(chunk.count)
            metrics.add(examples: chunk, labels: labels, batch: batch, outputs: ws, config: c)
        }
        return EvaluationResult(loss: weightedLoss / Double(max(examples.count, 1)), count: examples.count, task: metrics.result())
    }

    /// A data-parallel rank's part of evaluating one batch: the forward and loss of its rows, then the head's outputs of
    /// every row gathered (each rank's rows summed into zeros) into a workspace of the whole batch, which `collect`
    /// hands to the task's metrics exactly as one process would. Returns the batch's mean loss, summed over ranks.
    static func evaluateShard(model: BertModel, adapters: LoRAAdapters?, batch: TokenBatch, labels: Labels, group: ProcessGroup,
                              skipsPadding: Bool, bf16: Bool, storage: inout FloatBuffer?, backwardStorage: inout FloatBuffer?,
                              gathered: inout FloatBuffer?,
                              collect: (BertWorkspace) -> Void) throws -> Double {
        let c = model.config, T = batch.sequenceLength
        let items = Double(max(labels.itemCount(numLabels: c.numLabels, sequence: T), 1))
        let rows = group.share(of: batch.batchSize)
        let whole = BertWorkspace(config: c, head: model.head, batch: batch.batchSize, sequence: T, keepsEveryLayer: false, storage: gathered)
        gathered = whole.buffer
        whole.lmRows = labels.maskedRows
        let perExample = BertWorkspace.logitsPerExample(config: c, head: model.head, sequence: T)
        let masked = labels.maskedRows ?? []
        // Where this rank's outputs go among the whole batch's: its rows of `logits`, or its masked rows of `lmLogits`.
        let lmFirst = masked.firstIndex { $0 >= rows.lowerBound * T } ?? masked.count
        let lmEnd = masked.firstIndex { $0 >= rows.upperBound * T } ?? masked.count
        whole.logits.update(repeating: 0, count: batch.batchSize * perExample)
        whole.lmLogits.update(repeating: 0, count: masked.count * c.vocabSize)
        var loss = [0.0]
        if !rows.isEmpty {
            let part = batch.rows(rows), partLabels = labels.rows(rows, sequence: T, numLabels: c.numLabels)
            let (ws, bw) = workspaces(model, part, training: false, skipsPadding: skipsPadding, bf16: bf16, storage: &storage,
                                      backwardStorage: &backwardStorage)
            ws.lmRows = partLabels.maskedRows
            model.forward(part, workspace: ws, adapters: adapters)
            loss[0] = try model.loss(partLabels, workspace: ws, backward: bw, normaliser: items, wholeBatch: labels) / items
            (whole.logits + rows.lowerBound * perExample).update(from: ws.logits, count: rows.count * perExample)
            (whole.lmLogits + lmFirst * c.vocabSize).update(from: ws.lmLogits, count: (lmEnd - lmFirst) * c.vocabSize)
        }
        try group.sum(whole.logits, count: batch.batchSize * perExample)
        try group.sum(whole.lmLogits, count: masked.count * c.vocabSize)
        try group.sum(&loss)
        collect(whole)
        return loss[0]
    }

    /// Workspaces for `batch`, carved from the buffers of earlier batches when those are large enough
    /// (every batch is padded to its own length; the buffers grow to the longest and stay). `skipsPadding`: packed
    /// batches (TrainingOptions.skipsPadding), where the head allows them; `bf16`: mixed precision (TrainingOptions.precision).
    static func workspaces(_ model: BertModel, _ batch: TokenBatch, training: Bool, skipsPadding: Bool = false, bf16: Bool = false,
                           storage: inout FloatBuffer?,
                           backwardStorage: inout FloatBuffer?) -> (BertWorkspace, BertBackwardWorkspace) {
        let ws = BertWorkspace(config: model.config, head: model.head, batch: batch.batchSize, sequence: batch.sequenceLength,
                               keepsEveryLayer: training, storage: storage)
        ws.skipsPadding = skipsPadding && !model.head.lossReadsPadding
        ws.bf16Products = bf16
        storage = ws.buffer
        let bw = BertBackwardWorkspace(config: model.config, head: model.head, batch: batch.batchSize, sequence: batch.sequenceLength,
                                       storage: backwardStorage)
        backwardStorage = bw.buffer
        return (ws, bw)
    }

    func evaluateAndTrack(epoch: Double) throws {
        let result = try evaluate(eval)
        var entry = TrainingLogEntry(step: state.globalStep, epoch: epoch)
        entry.evalLoss = result.loss
        entry.evalAccuracy = result.accuracy
        entry.evalF1 = result.f1
        entry.evalCount = result.count
        log(entry)
        onEvent(.evaluated(entry))
        let value: Double?
        switch options.metric {
        case .evalLoss: value = result.loss
        case .accuracy: value = result.accuracy
        case .f1: value = result.f1
        }
        guard let value else { return }
        let previousBest = state.bestMetric
        if let patience = options.earlyStoppingPatience {
            var stopper = EarlyStopping(patience: patience, threshold: options.earlyStoppingThreshold)
            stopper.restore(counter: state.earlyStoppingCounter)
            state.stoppedEarly = stopper.update(value: value, previousBest: previousBest, greaterIsBetter: options.greaterIsBetter)
            state.earlyStoppingCounter = stopper.counter
        }
        let improved = previousBest.map { options.greaterIsBetter ? value > $0 : value < $0 } ?? true
        if improved {
            state.bestMetric = value
            state.bestStep = state.globalStep
            if options.loadBestAtEnd && group.isLeader { try writeAtomicFolder(bestFolder) { try self.writeParameters(into: $0) } }
        }
    }

}
