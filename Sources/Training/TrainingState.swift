// What a training run has done so far: the log history and the counters that, with the seed, fix
// every later batch and dropout mask. Saved as `trainer_state.json` in each checkpoint.

import TensorCore

/// One line of the training log: a logged step (loss, learning rate …) or an evaluation.
package struct TrainingLogEntry: Sendable, Equatable {
    package var step: Int
    package var epoch: Double
    package var loss: Double? = nil
    package var learningRate: Double? = nil
    package var gradNorm: Double? = nil
    package var examplesPerSecond: Double? = nil
    package var evalLoss: Double? = nil
    package var evalAccuracy: Double? = nil
    package var evalF1: Double? = nil
    package var evalCount: Int? = nil

    package init(step: Int, epoch: Double) { self.step = step; self.epoch = epoch }

    package var json: JSONValue {
        var object = JSONObject([("step", .int(step)), ("epoch", .double(epoch))])
        if let loss { object.set("loss", .double(loss)) }
        if let learningRate { object.set("learning_rate", .double(learningRate)) }
        if let gradNorm { object.set("grad_norm", .double(gradNorm)) }
        if let examplesPerSecond { object.set("examples_per_second", .double(examplesPerSecond)) }
        if let evalLoss { object.set("eval_loss", .double(evalLoss)) }
        if let evalAccuracy { object.set("eval_accuracy", .double(evalAccuracy)) }
        if let evalF1 { object.set("eval_f1", .double(evalF1)) }
        if let evalCount { object.set("eval_count", .int(evalCount)) }
        return .object(object)
    }

    package init?(json: JSONValue) {
        guard let step = json["step"]?.intValue, let epoch = json["epoch"]?.doubleValue else { return nil }
        self.step = step
        self.epoch = epoch
        loss = json["loss"]?.doubleValue
        learningRate = json["learning_rate"]?.doubleValue
        gradNorm = json["grad_norm"]?.doubleValue
        examplesPerSecond = json["examples_per_second"]?.doubleValue
        evalLoss = json["eval_loss"]?.doubleValue
        evalAccuracy = json["eval_accuracy"]?.doubleValue
        evalF1 = json["eval_f1"]?.doubleValue
        evalCount = json["eval_count"]?.intValue
    }
}

package struct TrainerState: Sendable, Equatable {
    /// Optimizer updates done.
    package var globalStep = 0
    /// Current epoch (0-based) and micro-batches of it already consumed.
    package var epoch = 0
    package var batchInEpoch = 0
    /// Micro-batches processed since the start (seeds the dropout masks).
    package var microBatches = 0
    package var bestMetric: Double? = nil
    package var bestStep: Int? = nil
    package var earlyStoppingCounter = 0
    package var stoppedEarly = false
    package var logHistory: [TrainingLogEntry] = []
    /// A fingerprint of the options and data that must not change across a resume.
    package var fingerprint = ""

    package init() {}

    package var json: JSONValue {
        .object(JSONObject([
            ("global_step", .int(globalStep)), ("epoch", .int(epoch)), ("batch_in_epoch", .int(batchInEpoch)),
            ("micro_batches", .int(microBatches)), ("best_metric", bestMetric.map { .double($0) } ?? .null),
            ("best_global_step", bestStep.map { .int($0) } ?? .null), ("early_stopping_counter", .int(earlyStoppingCounter)),
            ("stopped_early", .bool(stoppedEarly)), ("fingerprint", .string(fingerprint)),
            ("log_history", .array(logHistory.map(\.json))),
        ]))
    }

    package init(json: JSONValue) throws {
        guard let step = json["global_step"]?.intValue, let epoch = json["epoch"]?.intValue,
              let batch = json["batch_in_epoch"]?.intValue, let micro = json["micro_batches"]?.intValue else {
            throw TrainerError.badCheckpoint("trainer_state.json lacks its counters")
        }
        globalStep = step
        self.epoch = epoch
        batchInEpoch = batch
        microBatches = micro
        bestMetric = json["best_metric"]?.doubleValue
        bestStep = json["best_global_step"]?.intValue
        earlyStoppingCounter = json["early_stopping_counter"]?.intValue ?? 0
        stoppedEarly = json["stopped_early"]?.boolValue ?? false
        fingerprint = json["fingerprint"]?.stringValue ?? ""
        logHistory = json["log_history"]?.arrayValue?.compactMap(TrainingLogEntry.init(json:)) ?? []
    }
}

package enum TrainerError: Error, CustomStringConvertible {
    case badCheckpoint(String)
    case resumeMismatch(String)
    case noCheckpoint(String)
    case invalidOptions(String)
    case notFinite(step: Int)

    package var description: String {
        switch self {
        case .badCheckpoint(let reason): return "unusable checkpoint: \(reason)"
        case .resumeMismatch(let reason): return "cannot resume: \(reason)"
        case .noCheckpoint(let folder): return "nothing to resume: no checkpoint-* folder in \(folder)"
        case .invalidOptions(let reason): return reason
        case .notFinite(let step): return "the loss became NaN or infinite at step \(step) (learning rate too high?)"
        }
    }
}
