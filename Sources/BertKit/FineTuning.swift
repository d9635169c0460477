// Fine-tuning as a value: what to train, on what, how; run with a progress callback or as an AsyncSequence.

import Foundation
internal import Bert
internal import Training
internal import Tasks
internal import Pipelines

/// A fine-tuning run: a model directory, training data, and the reference recipe of transformers' `Trainer` (AdamW
/// 2e-5, batch 16, 3 epochs, weight decay 0.01, evaluation every epoch) unless you change it. The output directory is
/// a Hugging Face model directory that `from_pretrained` loads unchanged (a PEFT adapter folder with ``lora``), with
/// `checkpoint-N` folders to ``resume`` from and `trainer_state.json`.
///
/// ```swift
/// var job = FineTuning(model: "all-MiniLM-L6-v2", trainFile: "train.csv", outputDirectory: "sentiment")
/// job.evalFile = "dev.csv"
/// let result = try job.run { progress in
///     if case .evaluated(let evaluation) = progress { print(evaluation.epoch, evaluation.accuracy ?? 0) }
/// }
/// ```
///
/// Data: CSV, TSV or JSON lines with a `text` (and `label`) column for classification; `tokens` / `ner_tags` JSON lines
/// or CoNLL files for entity tagging; SQuAD JSON for question answering; plain text for masked-LM domain adaptation.
public struct FineTuning: Sendable {
    /// What the model learns.
    public enum Task: String, Sendable, Hashable, CaseIterable {
        /// Text classification (`BertForSequenceClassification`).
        case sequenceClassification = "sequence-classification"
        /// Entity tagging (`BertForTokenClassification`, as `run_ner.py`).
        case tokenClassification = "token-classification"
        /// Extractive question answering (`BertForQuestionAnswering`, as `run_qa.py`).
        case questionAnswering = "question-answering"
        /// Masked-LM continued pre-training on domain text (`BertForMaskedLM`, as `run_mlm.py`).
        case maskedLM = "masked-lm"

        init(_ name: TaskName) {
            switch name {
            case .sequenceClassification: self = .sequenceClassification
            case .tokenClassification: self = .tokenClassification
            case .questionAnswering: self = .questionAnswering
            case .maskedLM: self = .maskedLM
            }
        }

        var internalValue: TaskName {
            switch self {
            case .sequenceClassification: .sequenceClassification
            case .tokenClassification: .tokenClassification
            case .questionAnswering: .questionAnswering
            case .maskedLM: .maskedLM
            }
        }
    }

    /// What the best checkpoint and early stopping are judged by.
    public enum Metric: String, Sendable, Hashable, CaseIterable {
        /// The evaluation loss (lower is better).
        case evalLoss = "eval_loss"
        /// Accuracy.
        case accuracy
        /// F1.
        case f1

        var internalValue: TrainingOptions.Metric {
            switch self { case .evalLoss: .evalLoss; case .accuracy: .accuracy; case .f1: .f1 }
        }
    }

    /// When to evaluate or save.
    public enum Schedule: Sendable, Hashable {
        /// At the end of every epoch.
        case everyEpoch
        /// Every this many optimizer steps.
        case everySteps(Int)
        /// Never (saving: only the final model).
        case never

        var internalValue: TrainingOptions.Every {
            switch self { case .everyEpoch: .epoch; case .everySteps(let n): .steps(n); case .never: .never }
        }
    }

    /// A LoRA adapter trained instead of every weight, as PEFT's `LoraConfig`; the output is a PEFT adapter folder.
    public struct LoRA: Sendable, Hashable {
        /// The adapters' rank `r`.
        public var rank = 8
        /// `lora_alpha`.
        public var alpha: Float = 8
        /// `lora_dropout`.
        public var dropout: Float = 0
        /// Module names to adapt (PEFT's matching); nil takes PEFT's default for the model type (query and value).
        public var targetModules: [String]? = nil
        /// rsLoRA's scaling, alpha / √r.
        public var useRSLoRA = false

        /// PEFT's defaults.
        public init() {}
    }

    /// The model directory (or Hub id in the local cache) to start from.
    public var model: String
    /// The training data.
    public var trainFile: String
    /// Evaluation data (nil: no evaluation).
    public var evalFile: String? = nil
    /// Where the fine-tuned model and checkpoints go.
    public var outputDirectory: String
    /// What to learn; nil tells it from the data and the model (SQuAD → question answering, tagged words → entities,
    /// plain text → masked LM, a table → classification).
    public var task: Task? = nil
    /// Label names in output order (nil: the sorted labels of the training data, or the model's own when they fit).
    public var labels: [String]? = nil
    /// Tokens per example (nil: 128; question answering 384).
    public var maxLength: Int? = nil
    /// Epochs, and an optional cap on optimizer steps.
    public var epochs = 3, maxSteps: Int? = nil
    /// AdamW's peak learning rate and weight decay (biases and LayerNorm weights excluded).
    public var learningRate: Float = 2e-5, weightDecay: Float = 0.01
    /// Examples per micro-batch, and micro-batches per optimizer step.
    public var batchSize = 16, gradientAccumulation = 1
    /// Linear warm-up as a share of all steps (or a step count, which wins when not 0).
    public var warmupRatio = 0.0, warmupSteps = 0
    /// Global gradient-norm clipping (0 disables).
    public var maxGradNorm: Float = 1
    /// The seed of the new head, the data order, dropout and masking.
    public var seed: UInt64 = 42
    /// When to evaluate and when to save checkpoints.
    public var evaluation: Schedule = .everyEpoch, saving: Schedule = .everyEpoch
    /// Stop after this many evaluations without improvement of the evaluation loss.
    public var earlyStoppingPatience: Int? = nil
    /// fp32, or bf16 mixed precision (as `torch.autocast`); int8 cannot train.
    public var precision: Precision = .fp32
    /// A LoRA adapter instead of full fine-tuning.
    public var lora: LoRA? = nil
    /// Continue from the newest checkpoint in ``outputDirectory``.
    public var resume = false

    /// How the data is read and scored: columns, entity tagging, question windows, masking.
    public var data = TaskDataOptions()
    /// The loss of a classifier (nil: from the labels, as transformers infers `problem_type`).
    public var problemType: ProblemType? = nil
    /// Train (evaluate) on a seeded random sample of this many examples.
    public var maxTrainExamples: Int? = nil, maxEvalExamples: Int? = nil
    /// Compute the padding positions of each micro-batch too; by default the encoder runs forward and backward over the
    /// real tokens only (the same gradients, faster; question answering always pads).
    public var padBatches = false
    /// Log the training loss (``TrainingProgress/logged(_:)``) every this many steps.
    public var loggingSteps = 10
    /// What "best" and early stopping look at.
    public var bestMetric: Metric = .evalLoss
    /// The least improvement that counts for early stopping.
    public var earlyStoppingThreshold = 0.0
    /// At the end, load the weights of the best evaluation.
    public var loadBestAtEnd = false
    /// Keep at most this many checkpoints (the best one is always kept).
    public var saveTotalLimit: Int? = nil
    /// Weight files to write beside `model.safetensors` (``ConversionFormat/pytorch``, ``ConversionFormat/hdf5``).
    public var alsoWriting: [ConversionFormat] = []
    /// Continue training an existing PEFT adapter folder (its base is ``model``).
    public var adapter: String? = nil
    /// Train even when none of the checkpoint's encoder weights fit (a randomly initialised encoder): for tests only.
    public var allowRandomInit = false
    /// The data-parallel job this process is a rank of (nil: train alone).
    public var mpiJob: MPIJob? = nil

    /// A run of the reference recipe.
    public init(model: String, trainFile: String, outputDirectory: String) {
        self.model = model
        self.trainFile = trainFile
        self.outputDirectory = outputDirectory
    }

    /// Why a precision cannot train (int8: dynamic quantisation has no backward pass); nil when it can.
    public static func refusal(ofPrecision precision: Precision) -> String? {
        TrainingOptions.refusal(ofPrecision: precision.internalValue)
    }

    /// The task the run trains: ``task``, or the one the model and data call for (a question-answering or classifier
    /// head; else SQuAD JSON → question answering, tagged words → entities, plain text → masked LM, a table →
    /// classification).
    public var resolvedTask: Task {
        get throws(BertKitError) {
            if let task { return task }
            return Task(try BertKitError.mapping { try FineTuneJob.inferTask(model: model, train: trainFile) })
        }
    }

    func settings() throws -> FineTuneSettings {
        try data.validate()
        if let maxLength, maxLength < 2 { throw BertKitError.invalidArgument("maxLength must be at least 2") }
        for (name, value) in [("maxTrainExamples", maxTrainExamples), ("maxEvalExamples", maxEvalExamples), ("saveTotalLimit", saveTotalLimit)] {
            if let value, value < 1 { throw BertKitError.invalidArgument("\(name) must be at least 1") }
        }
        guard loggingSteps >= 1 else { throw BertKitError.invalidArgument("loggingSteps must be at least 1") }
        if evalFile == nil && (earlyStoppingPatience != nil || loadBestAtEnd) {
            throw BertKitError.invalidArgument("early stopping and loading the best checkpoint need evaluation data")
        }
        var s = FineTuneSettings(model: model, train: trainFile, output: outputDirectory)
        s.task = try resolvedTask.internalValue
        if let column = data.labelColumn, s.task == .tokenClassification, !TaggedSentences.isJSONLines(trainFile), (Int(column) ?? 0) < 2 {
            throw BertKitError.invalidArgument("the label column of a CoNLL file is a 1-based column number of at least 2, not '\(column)'")
        }
        s.eval = evalFile
        s.labels = labels
        s.maxLength = maxLength ?? (s.task == .questionAnswering ? 384 : 128)
        s.taskOptions = data.taskOptions
        s.taskOptions.problemType = problemType?.internalValue
        s.maxTrainExamples = maxTrainExamples
        s.maxEvalExamples = maxEvalExamples
        var t = TrainingOptions()
        t.epochs = epochs; t.maxSteps = maxSteps; t.learningRate = learningRate; t.weightDecay = weightDecay
        t.batchSize = batchSize; t.gradientAccumulation = gradientAccumulation
        t.warmupRatio = warmupRatio; t.warmupSteps = warmupSteps; t.maxGradNorm = maxGradNorm; t.seed = seed
        t.evalEvery = evaluation.internalValue; t.saveEvery = saving.internalValue
        t.earlyStoppingPatience = earlyStoppingPatience; t.earlyStoppingThreshold = earlyStoppingThreshold
        t.loadBestAtEnd = loadBestAtEnd; t.metric = bestMetric.internalValue; t.loggingSteps = loggingSteps
        t.saveTotalLimit = saveTotalLimit
        t.skipsPadding = !padBatches
        t.precision = precision.internalValue
        s.training = t
        s.resume = resume
        s.saveFormats = alsoWriting.map(\.family)
        s.adapter = adapter
        s.allowRandomInit = allowRandomInit
        s.group = mpiJob?.group ?? .single
        if let lora {
            var config = LoRAConfig()
            config.rank = lora.rank
            config.alpha = lora.alpha
            config.dropout = lora.dropout
            config.useRSLoRA = lora.useRSLoRA
            if let names = lora.targetModules { config.targets = .names(names) }
            s.lora = config
        }
        return s
    }

    /// Trains, reporting progress to `progress` on the training thread, and writes the fine-tuned model.
    /// - Throws: ``BertKitError/file(path:message:)`` for bad data (naming the file and line),
    ///   ``BertKitError/invalidArgument(_:)`` for settings out of range.
    @discardableResult
    public func run(progress: (TrainingProgress) -> Void = { _ in }) throws(BertKitError) -> FineTuningResult {
        try BertKitError.mapping {
            try withoutActuallyEscaping(progress) { progress in
                let settings = try settings()   // the task inferred once, here
                return FineTuningResult(try FineTuneJob.run(settings) { event in progress(TrainingProgress(event)) },
                                        task: Task(settings.task), outputDirectory: outputDirectory)
            }
        }
    }

    /// Trains on a thread of its own; the sequence yields the progress and ends with ``TrainingProgress/finished(_:)``,
    /// or throws the run's ``BertKitError``. The run cannot be cancelled: it goes on to the end (and writes its output)
    /// even when the loop stops early.
    ///
    /// ```swift
    /// for try await progress in job.progress() { print(progress) }
    /// ```
    public func progress() -> AsyncThrowingStream<TrainingProgress, any Error> {
        AsyncThrowingStream { continuation in
            let job = self
            let thread = Thread {
                do {
                    let result = try job.run { continuation.yield($0) }
                    continuation.yield(.finished(result))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            thread.stackSize = 8 << 20   // a main thread's: a secondary thread's default may be as small as 512 KB
            thread.start()
        }
    }
}

/// What a fine-tuning run reports while it trains.
public enum TrainingProgress: Sendable {
    /// Training began: the optimizer steps it will take, the training examples, and the step it resumed from.
    case started(totalSteps: Int, examples: Int, resumedAt: Int?)
    /// An optimizer step was taken; `loss` is the step's mean training loss, `examplesPerSecond` the run's rate so far.
    case step(step: Int, totalSteps: Int, epoch: Double, loss: Double, learningRate: Double, examplesPerSecond: Double)
    /// The training log every ``FineTuning/loggingSteps`` steps: the mean loss since the last entry, the learning rate,
    /// the gradient norm before clipping, the rate.
    case logged(LogEntry)
    /// An evaluation finished.
    case evaluated(Evaluation)
    /// A checkpoint folder was written.
    case checkpointSaved(path: String)
    /// Early stopping ended the run after this step.
    case stoppedEarly(step: Int)
    /// The run finished (``FineTuning/progress()`` only).
    case finished(FineTuningResult)

    init(_ event: TrainingEvent) {
        switch event {
        case .started(let total, let examples, let resumedAt): self = .started(totalSteps: total, examples: examples, resumedAt: resumedAt)
        case .progress(let step, let total, let epoch, let loss, let learningRate, let rate):
            self = .step(step: step, totalSteps: total, epoch: epoch, loss: loss, learningRate: learningRate, examplesPerSecond: rate)
        case .logged(let entry): self = .logged(LogEntry(entry))
        case .evaluated(let entry): self = .evaluated(Evaluation(entry))
        case .checkpointSaved(let path): self = .checkpointSaved(path: path)
        case .stoppedEarly(let step): self = .stoppedEarly(step: step)
        }
    }
}

/// One entry of the training log (`trainer_state.json`'s `log_history`).
public struct LogEntry: Sendable, Hashable {
    /// The optimizer step and epoch.
    public var step: Int, epoch: Double
    /// The mean training loss since the previous entry, the learning rate, the gradient norm before clipping.
    public var loss: Double?, learningRate: Double?, gradientNorm: Double?
    /// Training examples per second.
    public var examplesPerSecond: Double?

    init(_ entry: TrainingLogEntry) {
        step = entry.step
        epoch = entry.epoch
        loss = entry.loss
        learningRate = entry.learningRate
        gradientNorm = entry.gradNorm
        examplesPerSecond = entry.examplesPerSecond
    }
}

/// The loss a classifier is trained with (`problem_type`).
public enum ProblemType: String, Sendable, Hashable, CaseIterable {
    /// Mean squared error on one or more real outputs.
    case regression
    /// Cross-entropy over the labels, one label per text.
    case singleLabelClassification = "single_label_classification"
    /// Binary cross-entropy per label, any number of labels per text.
    case multiLabelClassification = "multi_label_classification"

    init(_ type: Bert.ProblemType) {
        switch type {
        case .regression: self = .regression
        case .singleLabelClassification: self = .singleLabelClassification
        case .multiLabelClassification: self = .multiLabelClassification
        }
    }

    var internalValue: Bert.ProblemType {
        switch self {
        case .regression: .regression
        case .singleLabelClassification: .singleLabelClassification
        case .multiLabelClassification: .multiLabelClassification
        }
    }
}

/// One evaluation's figures: the loss, and the task's metric (accuracy for classification, seqeval's F1 for entities,
/// SQuAD's F1 for question answering).
public struct Evaluation: Sendable, Hashable {
    /// The optimizer step and epoch it was made at.
    public var step: Int, epoch: Double
    /// The mean evaluation loss.
    public var loss: Double?
    /// Accuracy (classification, exact match for question answering).
    public var accuracy: Double?
    /// F1 (macro for classification, seqeval's micro for entities, SQuAD's for question answering).
    public var f1: Double?

    init(_ entry: TrainingLogEntry) {
        step = entry.step
        epoch = entry.epoch
        loss = entry.evalLoss
        accuracy = entry.evalAccuracy
        f1 = entry.evalF1
    }
}

/// What a fine-tuning run did.
public struct FineTuningResult: Sendable, Hashable {
    /// The task trained.
    public var task: FineTuning.Task
    /// The optimizer steps taken, and the epochs begun.
    public var steps: Int, epochs: Int
    /// Whether early stopping ended it.
    public var stoppedEarly: Bool
    /// The last evaluation, if any.
    public var finalEvaluation: Evaluation? { evaluations.last }
    /// Every evaluation, in order.
    public var evaluations: [Evaluation]
    /// The final evaluation's full report: the task's metrics as ``PretrainedModel/evaluate(_:options:)`` gives them.
    public var finalReport: EvaluationReport?
    /// The best value of ``FineTuning/bestMetric`` and the step it was reached at.
    public var bestMetric: Double?, bestStep: Int?
    /// The label names, in output order, and the classifier's loss.
    public var labels: [String], problemType: ProblemType
    /// Remarks on the data (texts truncated, sentences windowed) and transformers' load warnings for the model.
    public var notes: [String], loadWarnings: [String]
    /// The load warnings with every tensor name listed (``loadWarnings`` groups them).
    public var loadWarningsListingEveryName: [String]
    /// Training and evaluation examples read.
    public var trainExamples: Int, evalExamples: Int
    /// Wall-clock seconds of training.
    public var seconds: Double
    /// The output directory, and the files in it.
    public var outputDirectory: String, outputFiles: [String]

    init(_ result: FineTuneResult, task: FineTuning.Task, outputDirectory: String) {
        let state = result.summary.state
        self.task = task
        bestMetric = state.bestMetric
        bestStep = state.bestStep
        problemType = ProblemType(result.labels.problemType)
        notes = result.notes
        loadWarnings = result.loadReport.lines(verbose: false)
        loadWarningsListingEveryName = result.loadReport.lines(verbose: true)
        finalReport = result.summary.finalEvaluation.map {
            EvaluationReport(task: task, result: $0, labels: result.labels, sourceCount: result.evalExamples)
        }
        steps = state.globalStep
        epochs = state.epoch
        stoppedEarly = state.stoppedEarly
        evaluations = state.logHistory.filter { $0.evalLoss != nil || $0.evalAccuracy != nil || $0.evalF1 != nil }.map(Evaluation.init)
        labels = result.labels.names
        trainExamples = result.trainExamples
        evalExamples = result.evalExamples
        seconds = result.summary.seconds
        self.outputDirectory = outputDirectory
        self.outputFiles = result.outputFiles
    }
}
