// Evaluation during and after training: the loss as the Trainer reports it (a sample-weighted mean of batch
// means) and the task's metrics, from its `MetricAccumulator`.

import TensorCore
import Bert

public struct EvaluationResult: Sendable {
    public var loss: Double
    /// Examples evaluated (windows, for a task that cuts long inputs).
    public var count: Int
    /// What the task measured.
    public var task: TaskMetrics
    /// Sequence classification's accuracy, macro-F1 and confusion matrix; nil for other tasks and regression.
    public var metrics: ClassificationMetrics? { task.classification }
    public var accuracy: Double? { task.accuracy }
    public var f1: Double? { task.f1 }

    public init(loss: Double, count: Int, task: TaskMetrics) {
        self.loss = loss
        self.count = count
        self.task = task
    }
}

extension Trainer {
    /// Loss (sample-weighted mean of batch means, as the Trainer reports it) and metrics on `examples`.
    public func evaluate(_ examples: [EncodedExample]) throws -> EvaluationResult {
        try Trainer.evaluate(model: model, adapters: adapters, examples: examples, batchSize: options.evalBatchSize ?? options.batchSize,
                             task: task, storage: &workspaceStorage, backwardStorage: &backwardStorage)
    }

    public static func evaluate(model: BertModel, adapters: LoRAAdapters? = nil, examples: [EncodedExample], batchSize: Int,
                                task: any TrainingTask) throws -> EvaluationResult {
        var a: FloatBuffer? = nil, b: FloatBuffer? = nil
        return try evaluate(model: model, adapters: adapters, examples: examples, batchSize: batchSize, task: task,
                            storage: &a, backwardStorage: &b)
    }

    /// The model's own head with `problemType` (`HeadTask`).
    public static func evaluate(model: BertModel, adapters: LoRAAdapters? = nil, examples: [EncodedExample], batchSize: Int,
                                problemType: ProblemType?) throws -> EvaluationResult {
        try evaluate(model: model, adapters: adapters, examples: examples, batchSize: batchSize,
                     task: HeadTask(head: model.head, problemType: problemType))
    }

    static func evaluate(model: BertModel, adapters: LoRAAdapters?, examples: [EncodedExample], batchSize: Int, task: any TrainingTask,
                         storage: inout FloatBuffer?, backwardStorage: inout FloatBuffer?) throws -> EvaluationResult {
        let c = model.config
        var weightedLoss = 0.0
        var metrics = task.makeMetrics()
        for start in stride(from: 0, to: examples.count, by: batchSize) {
            let chunk = Array(examples[start..<min(start + batchSize, examples.count)])
            let (batch, labels) = try task.collate(chunk, padId: c.padTokenId ?? 0, pass: .evaluation)
            try batch.validate(for: c)
            let (ws, bw) = workspaces(model, batch, training: false, storage: &storage, backwardStorage: &backwardStorage)
            ws.lmRows = labels.maskedRows
            model.forward(batch, workspace: ws, adapters: adapters)
            let items = max(labels.itemCount(numLabels: c.numLabels, sequence: batch.sequenceLength), 1)
            let loss = try model.loss(labels, workspace: ws, backward: bw, normaliser: Double(items)) / Double(items)
            weightedLoss += loss * Double(chunk.count)
            metrics.add(examples: chunk, labels: labels, batch: batch, outputs: ws, config: c)
        }
        return EvaluationResult(loss: weightedLoss / Double(max(examples.count, 1)), count: examples.count, task: metrics.result())
    }

    /// Workspaces for `batch`, carved from the buffers of earlier batches when those are large enough
    /// (every batch is padded to its own length; the buffers grow to the longest and stay).
    static func workspaces(_ model: BertModel, _ batch: TokenBatch, training: Bool, storage: inout FloatBuffer?,
                           backwardStorage: inout FloatBuffer?) -> (BertWorkspace, BertBackwardWorkspace) {
        let ws = BertWorkspace(config: model.config, head: model.head, batch: batch.batchSize, sequence: batch.sequenceLength,
                               keepsEveryLayer: training, storage: storage)
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
            if options.loadBestAtEnd { try writeAtomicFolder(bestFolder) { try self.writeParameters(into: $0) } }
        }
    }

}
