// The fine-tuning loop behind `bertkit finetune`, following transformers 5.24's Trainer where it can be
// followed (Docs/specs/transformers_training.md): AdamW on the Trainer's decay groups, a linear
// schedule with warmup, global-norm clipping after accumulation, evaluation every epoch or N steps with
// a sample-weighted loss, strict best-metric tracking, the EarlyStoppingCallback's rule, and atomic
// checkpoints from which `resume` reproduces an uninterrupted run exactly. Evaluation is in
// TrainerEvaluation.swift, checkpoints and their rotation in TrainerCheckpoints.swift; what a task's batches and
// metrics are comes from its `TrainingTask` (TrainingTask.swift).
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

package struct TrainingOptions: Sendable {
    package enum Every: Sendable, Equatable {
        case epoch
        case steps(Int)
        case never
    }
    package enum Metric: String, Sendable, CaseIterable { case evalLoss = "eval_loss", accuracy, f1 }

    package var epochs = 3
    package var maxSteps: Int? = nil
    package var learningRate: Float = 2e-5
    package var batchSize = 16
    package var evalBatchSize: Int? = nil
    package var gradientAccumulation = 1
    package var weightDecay: Float = 0.01
    package var warmupRatio: Double = 0
    package var warmupSteps = 0
    package var maxGradNorm: Float = 1.0
    package var seed: UInt64 = 42
    package var evalEvery: Every = .epoch
    package var saveEvery: Every = .epoch
    package var loggingSteps = 10
    package var earlyStoppingPatience: Int? = nil
    package var earlyStoppingThreshold = 0.0
    package var loadBestAtEnd = false
    package var metric: Metric = .evalLoss
    package var saveTotalLimit: Int? = nil
    /// Padding-free batches: the encoder runs forward and backward over each micro-batch's real tokens only
    /// (BertWorkspace.skipsPadding), with the padded layout's dropout masks — the padded computation's gradients, less
    /// work. Not for heads whose loss reads the padding positions (question answering).
    package var skipsPadding = true
    /// The number format of the encoder's products: fp32, or bf16 mixed precision as `torch.autocast(dtype=bfloat16)`
    /// on CPU — products in bf16 with fp32 sums, forward and backward; fp32 weights, AdamW, loss, LayerNorm and
    /// softmax; no loss scaling (BertWorkspace.bf16Products, Kernels/MixedPrecision.swift). Evaluation runs in it too,
    /// as the Trainer's evaluation does under `bf16=True`. int8 is for inference only.
    package var precision: Precision = .fp32
    /// Why a precision cannot train (int8: dynamic quantisation has no backward here), nil when it can; the CLI's
    /// options and the Trainer both ask.
    package static func refusal(ofPrecision precision: Precision) -> String? {
        precision == .int8 ? "int8 is for inference; training runs in fp32 or bf16" : nil
    }

    package init() {}

    var greaterIsBetter: Bool { metric != .evalLoss }
}


package enum TrainingEvent: Sendable {
    case started(totalSteps: Int, examples: Int, resumedAt: Int?)
    case progress(step: Int, totalSteps: Int, epoch: Double, loss: Double, learningRate: Double, examplesPerSecond: Double)
    case logged(TrainingLogEntry)
    case evaluated(TrainingLogEntry)
    case checkpointSaved(String)
    case stoppedEarly(step: Int)
}

package struct TrainingSummary: Sendable {
    package var state: TrainerState
    package var finalEvaluation: EvaluationResult?
    package var seconds: Double
}

package final class Trainer {
    package let model: BertModel
    package let options: TrainingOptions
    package let train: [EncodedExample]
    package let eval: [EncodedExample]
    /// How examples become micro-batches and evaluations become metrics.
    package let task: any TrainingTask
    package let outputDirectory: String
    /// Writes a loadable model directory (weights, config, tokenizer files) into a folder.
    package let exportModel: (BertModel, String) throws -> Void
    package var onEvent: (TrainingEvent) -> Void = { _ in }
    /// LoRA adapters: when set, only they and their `modules_to_save` are trained.
    package let adapters: LoRAAdapters?
    /// The ranks of a data-parallel run (`mpirun`); `.single` otherwise. Every rank runs this loop on the same data;
    /// each computes its share of every micro-batch, the gradients are summed, and only rank 0 writes files.
    package var group: ProcessGroup = .single

    package internal(set) var state = TrainerState()
    var optimizer: AdamW!
    package let trainable: TrainableParameters
    var workspaceStorage: FloatBuffer?
    var backwardStorage: FloatBuffer?

    package init(model: BertModel, options: TrainingOptions, train: [EncodedExample], eval: [EncodedExample],
                task: any TrainingTask, outputDirectory: String, adapters: LoRAAdapters? = nil,
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
        self.task = task
        self.outputDirectory = outputDirectory
        self.exportModel = exportModel
    }

    // MARK: Schedule

    package var batchesPerEpoch: Int { (train.count + options.batchSize - 1) / options.batchSize }
    package var updatesPerEpoch: Int { max(1, (batchesPerEpoch + options.gradientAccumulation - 1) / options.gradientAccumulation) }
    package var totalSteps: Int { options.maxSteps ?? options.epochs * updatesPerEpoch }

    /// What must not change between a run and its resume.
    var fingerprint: String {
        "examples=\(train.count) eval=\(eval.count) batch=\(options.batchSize) accumulation=\(options.gradientAccumulation) "
            + "epochs=\(options.epochs) maxSteps=\(options.maxSteps.map(String.init) ?? "-") seed=\(options.seed) "
            + "lr=\(options.learningRate) head=\(model.head.rawValue) labels=\(model.config.numLabels) "
            + "lora=\(adapters.map { "r\($0.config.rank)/\($0.modules.count)" } ?? "none")"
            // Named only when not the default, so that checkpoints written before the option existed still resume.
            + (options.precision == .fp32 ? "" : " precision=\(options.precision)")
    }

    // MARK: The loop

    package func run(resume: Bool) throws -> TrainingSummary {
        let start = MonotonicClock.seconds()
        guard options.batchSize > 0, options.gradientAccumulation > 0, options.epochs > 0 || (options.maxSteps ?? 0) > 0 else {
            throw TrainerError.invalidOptions("batch size, accumulation and epochs must be positive")
        }
        // An epoch without batches would never reach the last step.
        guard !train.isEmpty else { throw TrainerError.invalidOptions("no training examples") }
        if let refusal = TrainingOptions.refusal(ofPrecision: options.precision) { throw TrainerError.invalidOptions(refusal) }
        if group.isDistributed {
            // Every option (not only the resume fingerprint's): one that changes when ranks evaluate, save or stop would
            // make them wait in different collective calls.
            try group.checkAgreement(on: Array("\(options) \(adapters.map { "\($0.config)" } ?? "")".utf8)
                                         + model.config.jsonText(architecture: model.architecture).utf8,
                                     what: "options and model")
            var data = ProcessGroup.FNV1a()
            Self.addContent(of: train, to: &data)
            Self.addContent(of: eval, to: &data)
            try group.checkAgreement(hash: data, what: "training and evaluation data")
        }
        if group.isLeader { try makeDirectory(outputDirectory) }
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
                let accumulated = Array(batches[state.batchInEpoch..<min(state.batchInEpoch + options.gradientAccumulation, batches.count)])
                let prepared = try accumulated.map { indices in
                    try task.collate(indices.map { train[$0] }, padId: model.config.padTokenId ?? 0, pass: .training(epoch: state.epoch))
                }
                let items = prepared.reduce(0) { $0 + $1.1.itemCount(numLabels: model.config.numLabels, sequence: $1.0.sequenceLength) }
                trainable.zeroGradients()
                var groupLoss = 0.0
                for (batch, labels) in prepared {
                    if group.isDistributed {
                        // This rank's rows, padded and masked as in the whole micro-batch.
                        let rows = group.share(of: batch.batchSize)
                        if !rows.isEmpty {
                            let T = batch.sequenceLength
                            groupLoss += try trainMicroBatch(batch.rows(rows), labels.rows(rows, sequence: T, numLabels: model.config.numLabels),
                                                             normaliser: Double(max(items, 1)), shard: (labels, rows.lowerBound, T))
                        }
                    } else {
                        groupLoss += try trainMicroBatch(batch, labels, normaliser: Double(max(items, 1)))
                    }
                    state.microBatches += 1
                }
                if group.isDistributed { try sumOverRanks(loss: &groupLoss) }
                guard groupLoss.isFinite else { throw TrainerError.notFinite(step: state.globalStep + 1) }
                // Clipping folded into the update: AdamW reads each gradient times the coefficient.
                lastNorm = GradientClipping.norm(trainable.tensors)
                let lr = schedule.learningRate(update: state.globalStep)
                optimizer.update(lr: lr, gradientScale: GradientClipping.coefficient(norm: lastNorm, maxNorm: options.maxGradNorm))
                state.globalStep += 1
                state.batchInEpoch += accumulated.count
                windowLoss += groupLoss
                windowUpdates += 1
                windowExamples += accumulated.reduce(0) { $0 + $1.count }
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
        if options.loadBestAtEnd, state.bestStep != nil {
            try group.barrier()  // rank 0 wrote the best weights
            try restoreTrainedWeights(from: bestFolder)
        }
        var final: EvaluationResult? = nil
        if !eval.isEmpty { final = try evaluate(eval) }
        if group.isLeader { try exportModel(model, outputDirectory) }
        return TrainingSummary(state: state, finalEvaluation: final, seconds: MonotonicClock.seconds() - start)
    }

    func due(_ every: TrainingOptions.Every, endOfEpoch: Bool) -> Bool {
        switch every {
        case .epoch: return endOfEpoch
        case .steps(let n): return n > 0 && state.globalStep % n == 0
        case .never: return false
        }
    }

    /// Forward, loss and backward of one micro-batch; returns its share of the group's mean loss. A data-parallel rank
    /// passes its rows of the micro-batch and `shard`: the whole micro-batch's labels, where its rows start, and the
    /// length the micro-batch is padded to.
    func trainMicroBatch(_ batch: TokenBatch, _ labels: Labels, normaliser: Double,
                         shard: (whole: Labels, firstRow: Int, sequence: Int)? = nil) throws -> Double {
        let c = model.config
        try batch.validate(for: c)
        let (ws, bw) = Trainer.workspaces(model, batch, training: true, skipsPadding: options.skipsPadding,
                                          bf16: options.precision == .bf16, storage: &workspaceStorage,
                                          backwardStorage: &backwardStorage)
        let dropout = DropoutPlan.training(config: c, head: model.head, seed: options.seed, step: UInt64(state.microBatches),
                                           firstRow: shard?.firstRow ?? 0, sequence: shard?.sequence ?? 0)
        ws.lmRows = labels.maskedRows
        model.forward(batch, workspace: ws, dropout: dropout, adapters: adapters)
        let loss = try model.loss(labels, workspace: ws, backward: bw, normaliser: normaliser, wholeBatch: shard?.whole)
        model.backward(batch, workspace: ws, backward: bw, gradients: trainable.targets, dropout: dropout,
                       adapters: adapters.map { ($0, trainable.adapterGradients!) })
        return loss / normaliser
    }

    /// Feeds `hash` the bytes that tell two ranks' examples apart (ids, types, targets), for
    /// `ProcessGroup.checkAgreement`, example by example (the data set is never copied whole).
    static func addContent(of examples: [EncodedExample], to hash: inout ProcessGroup.FNV1a) {
        for example in examples {
            for id in example.ids { withUnsafeBytes(of: id.littleEndian) { hash.add($0) } }
            for type in example.typeIds { withUnsafeBytes(of: type.littleEndian) { hash.add($0) } }
            hash.add("\(example.target)|\(example.feature);".utf8)
        }
    }

    /// Sums the gradients and the loss of one update over the ranks (MPI_Allreduce), so that every rank applies the
    /// same AdamW step to the same weights.
    func sumOverRanks(loss: inout Double) throws {
        try group.sum(trainable.modelGradients.pointer, count: trainable.modelGradients.count)
        if let adapterGradients = trainable.adapterGradients { try group.sum(adapterGradients.pointer, count: adapterGradients.count) }
        var total = [loss]
        try group.sum(&total)
        loss = total[0]
    }

    // MARK: Log

    var logPath: String { outputDirectory + "/training_log.jsonl" }
    var bestFolder: String { outputDirectory + "/best-model" }

    func log(_ entry: TrainingLogEntry) {
        state.logHistory.append(entry)
        if group.isLeader { appendLine(JSONWriter.compact(entry.json), to: logPath) }
    }

    func rewriteLog() {
        guard group.isLeader else { return }
        try? AtomicFileWriter.write(state.logHistory.map { JSONWriter.compact($0.json) + "\n" }.joined(), to: logPath)
    }
}
