// The fine-tuning loop behind `bertkit finetune`, following transformers 5.24's Trainer where it can be
// followed (shared/specs/transformers_training.md): AdamW on the Trainer's decay groups, a linear
// schedule with warmup, global-norm clipping after accumulation, evaluation every epoch or N steps with
// a sample-weighted loss, strict best-metric tracking, the EarlyStoppingCallback's rule, and atomic
// checkpoints from which `resume` reproduces an uninterrupted run exactly.
// One deliberate difference: gradient accumulation averages the loss over every item of the accumulated
// micro-batches (mathematically one larger batch). transformers 5.24 sums the micro-batch means for
// BERT (its heads ignore `num_items_in_batch`), so its gradients are GA times larger; with AdamW that
// mostly cancels, but clipping and the logged loss differ.

import TensorCore
import Safetensors
import Bert
#if canImport(Glibc)
import Glibc
#endif

public struct TrainingOptions: Sendable {
    public enum Every: Sendable, Equatable {
        case epoch
        case steps(Int)
        case never
    }
    public enum Metric: String, Sendable { case evalLoss = "eval_loss", accuracy, f1 }

    public var epochs = 3
    public var maxSteps: Int? = nil
    public var learningRate: Float = 2e-5
    public var batchSize = 16
    public var evalBatchSize: Int? = nil
    public var gradientAccumulation = 1
    public var weightDecay: Float = 0.01
    public var warmupRatio: Double = 0
    public var warmupSteps = 0
    public var maxGradNorm: Float = 1.0
    public var seed: UInt64 = 42
    public var evalEvery: Every = .epoch
    public var saveEvery: Every = .epoch
    public var loggingSteps = 10
    public var earlyStoppingPatience: Int? = nil
    public var earlyStoppingThreshold = 0.0
    public var loadBestAtEnd = false
    public var metric: Metric = .evalLoss
    public var saveTotalLimit: Int? = nil

    public init() {}

    var greaterIsBetter: Bool { metric != .evalLoss }
}

public struct EvaluationResult: Sendable {
    public var loss: Double
    public var count: Int
    /// Single-label and token classification (and masked-LM / QA accuracy); nil for regression.
    public var metrics: ClassificationMetrics?
    public var accuracy: Double? { metrics?.accuracy ?? exactAccuracy }
    public var f1: Double? { metrics?.macroF1 }
    /// Accuracy for tasks without a confusion matrix (multi-label elementwise, QA exact spans).
    public var exactAccuracy: Double? = nil
}

public enum TrainingEvent: Sendable {
    case started(totalSteps: Int, examples: Int, resumedAt: Int?)
    case progress(step: Int, totalSteps: Int, epoch: Double, loss: Double, learningRate: Double, examplesPerSecond: Double)
    case logged(TrainingLogEntry)
    case evaluated(TrainingLogEntry)
    case checkpointSaved(String)
    case stoppedEarly(step: Int)
}

public struct TrainingSummary: Sendable {
    public var state: TrainerState
    public var finalEvaluation: EvaluationResult?
    public var seconds: Double
}

public final class Trainer {
    public let model: BertModel
    public let options: TrainingOptions
    public let train: [EncodedExample]
    public let eval: [EncodedExample]
    public let problemType: ProblemType?
    public let outputDirectory: String
    /// Writes a loadable model directory (weights, config, tokenizer files) into a folder.
    public let exportModel: (BertModel, String) throws -> Void
    public var onEvent: (TrainingEvent) -> Void = { _ in }
    /// LoRA adapters: when set, only they and their `modules_to_save` are trained.
    public let adapters: LoRAAdapters?

    public private(set) var state = TrainerState()
    private var optimizer: AdamW!
    public let trainable: TrainableParameters
    private var workspaceStorage: FloatBuffer?
    private var backwardStorage: FloatBuffer?

    public init(model: BertModel, options: TrainingOptions, train: [EncodedExample], eval: [EncodedExample],
                problemType: ProblemType?, outputDirectory: String, adapters: LoRAAdapters? = nil,
                exportModel: @escaping (BertModel, String) throws -> Void) {
        self.model = model
        self.adapters = adapters
        if let adapters {
            let saved = Set(adapters.savedModuleParameters(of: model).map(\.name))
            trainable = TrainableParameters(model: model, include: { saved.contains($0) }, adapters: adapters)
        } else {
            trainable = TrainableParameters(model: model, include: { _ in true })
        }
        self.options = options
        self.train = train
        self.eval = eval
        self.problemType = problemType
        self.outputDirectory = outputDirectory
        self.exportModel = exportModel
    }

    // MARK: Schedule

    public var batchesPerEpoch: Int { (train.count + options.batchSize - 1) / options.batchSize }
    public var updatesPerEpoch: Int { max(1, (batchesPerEpoch + options.gradientAccumulation - 1) / options.gradientAccumulation) }
    public var totalSteps: Int { options.maxSteps ?? options.epochs * updatesPerEpoch }

    /// What must not change between a run and its resume.
    var fingerprint: String {
        "examples=\(train.count) eval=\(eval.count) batch=\(options.batchSize) accumulation=\(options.gradientAccumulation) "
            + "epochs=\(options.epochs) maxSteps=\(options.maxSteps.map(String.init) ?? "-") seed=\(options.seed) "
            + "lr=\(options.learningRate) head=\(model.head.rawValue) labels=\(model.config.numLabels) "
            + "lora=\(adapters.map { "r\($0.config.rank)/\($0.modules.count)" } ?? "none")"
    }

    // MARK: The loop

    public func run(resume: Bool) throws -> TrainingSummary {
        let start = MonotonicClock.seconds()
        guard options.batchSize > 0, options.gradientAccumulation > 0, options.epochs > 0 || (options.maxSteps ?? 0) > 0 else {
            throw TrainerError.invalidOptions("batch size, accumulation and epochs must be positive")
        }
        // An epoch without batches would never reach the last step.
        guard !train.isEmpty else { throw TrainerError.invalidOptions("no training examples") }
        try makeDirectory(outputDirectory)
        var settings = AdamWSettings()
        settings.weightDecay = options.weightDecay
        optimizer = AdamW(settings: settings, tensors: trainable.tensors)
        state = TrainerState()
        state.fingerprint = fingerprint
        var resumedAt: Int? = nil
        if resume {
            try restoreLatestCheckpoint()
            resumedAt = state.globalStep
        }
        rewriteLog()
        let total = totalSteps
        let warmup = LinearSchedule.warmupSteps(ratio: options.warmupRatio, steps: options.warmupSteps, total: total)
        let schedule = LinearSchedule(peak: options.learningRate, warmupSteps: warmup, totalSteps: total)
        onEvent(.started(totalSteps: total, examples: train.count, resumedAt: resumedAt))

        var windowLoss = 0.0, windowUpdates = 0, windowExamples = 0, windowStart = MonotonicClock.seconds()
        var lastNorm: Float = 0
        training: while state.globalStep < total && !state.stoppedEarly {
            let order = Shuffle.permutation(train.count, seed: SeedStream.epochOrder.seed(options.seed, index: UInt64(state.epoch)))
            let batches = stride(from: 0, to: order.count, by: options.batchSize).map { Array(order[$0..<min($0 + options.batchSize, order.count)]) }
            while state.batchInEpoch < batches.count {
                // One optimizer update: up to `gradientAccumulation` micro-batches, averaged over all their items.
                let group = Array(batches[state.batchInEpoch..<min(state.batchInEpoch + options.gradientAccumulation, batches.count)])
                let prepared = try group.map { indices in
                    try MicroBatch.make(indices.map { train[$0] }, head: model.head, problemType: problemType, padId: model.config.padTokenId ?? 0)
                }
                let items = prepared.reduce(0) { $0 + $1.1.itemCount(numLabels: model.config.numLabels, sequence: $1.0.sequenceLength) }
                trainable.zeroGradients()
                var groupLoss = 0.0
                for (batch, labels) in prepared {
                    groupLoss += try trainMicroBatch(batch, labels, normaliser: Double(max(items, 1)))
                    state.microBatches += 1
                }
                guard groupLoss.isFinite else { throw TrainerError.notFinite(step: state.globalStep + 1) }
                // Clipping folded into the update: AdamW reads each gradient times the coefficient.
                lastNorm = GradientClipping.norm(trainable.tensors)
                let lr = schedule.learningRate(update: state.globalStep)
                optimizer.update(lr: lr, gradientScale: GradientClipping.coefficient(norm: lastNorm, maxNorm: options.maxGradNorm))
                state.globalStep += 1
                state.batchInEpoch += group.count
                windowLoss += groupLoss
                windowUpdates += 1
                windowExamples += group.reduce(0) { $0 + $1.count }
                let epochProgress = Double(state.epoch) + Double(state.batchInEpoch) / Double(batches.count)
                let rate = Double(windowExamples) / max(MonotonicClock.seconds() - windowStart, 1e-9)
                onEvent(.progress(step: state.globalStep, totalSteps: total, epoch: epochProgress, loss: groupLoss,
                                  learningRate: Double(lr), examplesPerSecond: rate))
                if state.globalStep % max(options.loggingSteps, 1) == 0 || state.globalStep == total {
                    var entry = TrainingLogEntry(step: state.globalStep, epoch: epochProgress)
                    entry.loss = windowLoss / Double(windowUpdates)
                    entry.learningRate = Double(lr)
                    entry.gradNorm = Double(lastNorm)
                    entry.examplesPerSecond = rate
                    log(entry)
                    onEvent(.logged(entry))
                    windowLoss = 0; windowUpdates = 0; windowExamples = 0; windowStart = MonotonicClock.seconds()
                }
                let endOfEpoch = state.batchInEpoch >= batches.count
                if endOfEpoch { state.epoch += 1; state.batchInEpoch = 0 }
                let evaluateNow = due(options.evalEvery, endOfEpoch: endOfEpoch) && !eval.isEmpty
                if evaluateNow { try evaluateAndTrack(epoch: epochProgress) }
                if due(options.saveEvery, endOfEpoch: endOfEpoch) || (state.stoppedEarly && options.saveEvery != .never) {
                    try saveCheckpoint()
                }
                if state.stoppedEarly {
                    onEvent(.stoppedEarly(step: state.globalStep))
                    break training
                }
                if state.globalStep >= total { break training }
                if endOfEpoch { continue training }
            }
        }
        if options.loadBestAtEnd, state.bestStep != nil { try restoreTrainedWeights(from: bestFolder) }
        var final: EvaluationResult? = nil
        if !eval.isEmpty { final = try evaluate(eval) }
        try exportModel(model, outputDirectory)
        try writeCurves()
        return TrainingSummary(state: state, finalEvaluation: final, seconds: MonotonicClock.seconds() - start)
    }

    private func due(_ every: TrainingOptions.Every, endOfEpoch: Bool) -> Bool {
        switch every {
        case .epoch: return endOfEpoch
        case .steps(let n): return n > 0 && state.globalStep % n == 0
        case .never: return false
        }
    }

    /// Forward, loss and backward of one micro-batch; returns its share of the group's mean loss.
    private func trainMicroBatch(_ batch: TokenBatch, _ labels: Labels, normaliser: Double) throws -> Double {
        let c = model.config
        try batch.validate(for: c)
        let (ws, bw) = Trainer.workspaces(model, batch, training: true, storage: &workspaceStorage, backwardStorage: &backwardStorage)
        let dropout = DropoutPlan.training(config: c, seed: options.seed, step: UInt64(state.microBatches))
        model.forward(batch, workspace: ws, dropout: dropout, adapters: adapters)
        let loss = try model.loss(labels, workspace: ws, backward: bw, normaliser: normaliser)
        model.backward(batch, workspace: ws, backward: bw, gradients: trainable.targets, dropout: dropout,
                       adapters: adapters.map { ($0, trainable.adapterGradients!) })
        return loss / normaliser
    }

    // MARK: Evaluation

    /// Loss (sample-weighted mean of batch means, as the Trainer reports it) and metrics on `examples`.
    public func evaluate(_ examples: [EncodedExample]) throws -> EvaluationResult {
        try Trainer.evaluate(model: model, adapters: adapters, examples: examples, batchSize: options.evalBatchSize ?? options.batchSize,
                             problemType: problemType, storage: &workspaceStorage, backwardStorage: &backwardStorage)
    }

    public static func evaluate(model: BertModel, adapters: LoRAAdapters? = nil, examples: [EncodedExample], batchSize: Int,
                                problemType: ProblemType?) throws -> EvaluationResult {
        var a: FloatBuffer? = nil, b: FloatBuffer? = nil
        return try evaluate(model: model, adapters: adapters, examples: examples, batchSize: batchSize, problemType: problemType,
                            storage: &a, backwardStorage: &b)
    }

    static func evaluate(model: BertModel, adapters: LoRAAdapters?, examples: [EncodedExample], batchSize: Int, problemType: ProblemType?,
                         storage: inout FloatBuffer?, backwardStorage: inout FloatBuffer?) throws -> EvaluationResult {
        let c = model.config
        var weightedLoss = 0.0
        var truth: [Int] = [], predicted: [Int] = []
        var exactRight = 0, exactTotal = 0
        for start in stride(from: 0, to: examples.count, by: batchSize) {
            let chunk = Array(examples[start..<min(start + batchSize, examples.count)])
            let (batch, labels) = try MicroBatch.make(chunk, head: model.head, problemType: problemType, padId: c.padTokenId ?? 0)
            try batch.validate(for: c)
            let (ws, bw) = workspaces(model, batch, training: false, storage: &storage, backwardStorage: &backwardStorage)
            model.forward(batch, workspace: ws, adapters: adapters)
            let items = max(labels.itemCount(numLabels: c.numLabels, sequence: batch.sequenceLength), 1)
            let loss = try model.loss(labels, workspace: ws, backward: bw, normaliser: Double(items)) / Double(items)
            weightedLoss += loss * Double(chunk.count)
            let T = batch.sequenceLength, L = c.numLabels
            switch (model.head, labels) {
            case (.sequenceClassification, .classes(let targets)):
                for (row, target) in targets.enumerated() where target != Labels.ignoreIndex {
                    truth.append(target)
                    predicted.append(Trainer.argmax(ws.logits + row * L, L))
                }
            case (.sequenceClassification, .multiLabel(let targets)):
                for (i, target) in targets.enumerated() {
                    exactTotal += 1
                    if (ws.logits[i] > 0) == (target > 0.5) { exactRight += 1 }
                }
            case (.tokenClassification, .tokenClasses(let targets)):
                for (i, target) in targets.enumerated() where target != Labels.ignoreIndex {
                    truth.append(target)
                    predicted.append(Trainer.argmax(ws.logits + i * L, L))
                }
            case (.maskedLM, .maskedTokens(let targets)):
                for (i, target) in targets.enumerated() where target != Labels.ignoreIndex {
                    exactTotal += 1
                    if Trainer.argmax(ws.lmLogits + i * c.vocabSize, c.vocabSize) == target { exactRight += 1 }
                }
            case (.questionAnswering, .spans(let starts, let ends)):
                for b in 0..<batch.batchSize {
                    var bestStart = 0, bestEnd = 0
                    for t in 0..<T {
                        if ws.logits[(b * T + t) * 2] > ws.logits[(b * T + bestStart) * 2] { bestStart = t }
                        if ws.logits[(b * T + t) * 2 + 1] > ws.logits[(b * T + bestEnd) * 2 + 1] { bestEnd = t }
                    }
                    exactTotal += 1
                    if bestStart == starts[b] && bestEnd == ends[b] { exactRight += 1 }
                }
            default: break
            }
        }
        let classes = model.head == .tokenClassification || model.head == .sequenceClassification ? c.numLabels : 0
        var result = EvaluationResult(loss: weightedLoss / Double(max(examples.count, 1)), count: examples.count,
                                      metrics: truth.isEmpty ? nil : ClassificationMetrics(truth: truth, predicted: predicted, classes: classes))
        if exactTotal > 0 { result.exactAccuracy = Double(exactRight) / Double(exactTotal) }
        return result
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

    private func evaluateAndTrack(epoch: Double) throws {
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

    static func argmax(_ values: UnsafeMutablePointer<Float>, _ count: Int) -> Int {
        var best = 0
        for i in 1..<max(count, 1) where values[i] > values[best] { best = i }
        return best
    }

    // MARK: Log, curves

    var logPath: String { outputDirectory + "/training_log.jsonl" }
    var bestFolder: String { outputDirectory + "/best-model" }

    private func log(_ entry: TrainingLogEntry) {
        state.logHistory.append(entry)
        appendLine(JSONWriter.compact(entry.json), to: logPath)
    }

    private func rewriteLog() {
        try? AtomicFileWriter.write(state.logHistory.map { JSONWriter.compact($0.json) + "\n" }.joined(), to: logPath)
    }

    private func writeCurves() throws {
        let svg = TrainingCurves.svg(history: state.logHistory, title: "\(model.head.architecture) fine-tuning")
        try AtomicFileWriter.write(svg, to: outputDirectory + "/training_curves.svg")
    }

    // MARK: Checkpoints

    /// `checkpoint-<step>/`: the model directory plus `optimizer.safetensors` and `trainer_state.json`,
    /// written into a temporary folder and renamed into place.
    private func saveCheckpoint() throws {
        let folder = outputDirectory + "/checkpoint-\(state.globalStep)"
        try writeAtomicFolder(folder) { temporary in
            try self.exportModel(self.model, temporary)
            var moments = TensorStore()
            let count = self.optimizer.m.count
            moments["exp_avg"] = Tensor(dtype: .f32, shape: [count], copying: UnsafeRawBufferPointer(start: self.optimizer.m.pointer, count: count * 4))
            moments["exp_avg_sq"] = Tensor(dtype: .f32, shape: [count], copying: UnsafeRawBufferPointer(start: self.optimizer.v.pointer, count: count * 4))
            try SafetensorsWriter.write(moments, to: temporary + "/optimizer.safetensors",
                                        metadata: ["step": String(self.optimizer.step), "format": "bertkit-adamw"])
            try AtomicFileWriter.write(JSONWriter.pretty(self.state.json) + "\n", to: temporary + "/trainer_state.json")
        }
        onEvent(.checkpointSaved(folder))
        try pruneCheckpoints()
    }

    /// transformers 5.24's `rotate_checkpoints`: the newest and the best checkpoint are protected, the oldest
    /// others are deleted until `limit` remain (never fewer than the protected ones, so a limit of 1 keeps 2
    /// while the best is not the newest).
    private func pruneCheckpoints() throws {
        guard let limit = options.saveTotalLimit, limit > 0 else { return }
        let steps = checkpointSteps()
        guard let newest = steps.last else { return }
        let protected = Set([newest] + (state.bestStep.map { steps.contains($0) ? [$0] : [] } ?? []))
        var remaining = steps.count
        for step in steps where remaining > max(limit, protected.count) && !protected.contains(step) {
            removeTree(outputDirectory + "/checkpoint-\(step)")
            remaining -= 1
        }
    }

    func checkpointSteps() -> [Int] {
        listDirectory(outputDirectory).compactMap { name -> Int? in
            guard name.hasPrefix("checkpoint-") else { return nil }
            return Int(name.dropFirst("checkpoint-".count))
        }.filter { fileExists(outputDirectory + "/checkpoint-\($0)/trainer_state.json") }.sorted()
    }

    private func restoreLatestCheckpoint() throws {
        guard let step = checkpointSteps().last else { throw TrainerError.noCheckpoint(outputDirectory) }
        let folder = outputDirectory + "/checkpoint-\(step)"
        let saved = try withFileContext(folder + "/trainer_state.json") { try TrainerState(json: JSONReader.parse(try readFileBytes(folder + "/trainer_state.json"))) }
        guard saved.fingerprint == fingerprint else {
            throw TrainerError.resumeMismatch("the checkpoint was made with [\(saved.fingerprint)], this run is [\(fingerprint)]")
        }
        state = saved
        try restoreTrainedWeights(from: folder)
        let moments = try SafetensorsReader.read(path: folder + "/optimizer.safetensors")
        guard let m = moments["exp_avg"]?.float32Values(), let v = moments["exp_avg_sq"]?.float32Values(),
              m.count == optimizer.m.count, let step = moments.metadata["step"].flatMap(Int.init) else {
            throw TrainerError.badCheckpoint("\(folder)/optimizer.safetensors does not fit this model")
        }
        optimizer.restore(step: step, m: m, v: v)
    }

    /// The trained weights of a checkpoint or of the best model: a model directory's `model.safetensors`,
    /// or a PEFT adapter's `adapter_model.safetensors`.
    private func restoreTrainedWeights(from folder: String) throws {
        if let adapters {
            let path = folder + "/adapter_model.safetensors"
            try withFileContext(path) { try adapters.loadPEFT(try SafetensorsReader.read(path: path), into: model) }
        } else {
            let path = folder + "/model.safetensors"
            let report = try withFileContext(path) { try BertCheckpointMapping.load(try SafetensorsReader.read(path: path), into: model) }
            guard report.missing.isEmpty else { throw TrainerError.badCheckpoint("\(folder) lacks \(report.missing.joined(separator: ", "))") }
        }
    }

    private func writeParameters(into folder: String) throws {
        if let adapters {
            try SafetensorsWriter.write(adapters.peftStateDict(model: model), to: folder + "/adapter_model.safetensors")
        } else {
            try SafetensorsWriter.write(model.stateDict(), to: folder + "/model.safetensors")
        }
    }
}

extension EarlyStopping {
    mutating func restore(counter value: Int) {
        self = EarlyStopping(patience: patience, threshold: threshold, counter: value)
    }
}
