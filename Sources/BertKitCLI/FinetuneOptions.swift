// The option groups of `bertkit finetune` (and those `evaluate` shares): each group parses, checks and hands
// its values to the library's settings (FineTuning, TaskDataOptions).

import ArgumentParser
import BertKit
import Foundation

/// The training and evaluation data, and how to read them.
struct FinetuneDataOptions: ParsableArguments {
    @Option(help: "Training data: .csv, .tsv or .jsonl with a text column and a label column; for token classification CoNLL columns or .jsonl with tokens and ner_tags.")
    var train: String
    @Option(help: "Evaluation data, same format.") var eval: String?
    @Option(help: "The task (default: the model's head when it is a classifier or QA model, else from the data: SQuAD JSON, CoNLL columns, or labelled text).")
    var task: FineTuning.Task?
    @Option(help: "Tokens per example (default 128, question answering 384); longer texts are truncated, longer sentences and contexts windowed.")
    var maxLength: Int?
    @Option(help: "Train on a seeded random sample of this many examples.") var maxTrainExamples: Int?
    @Option(help: "Evaluate on a seeded random sample of this many examples.") var maxEvalExamples: Int?
    @Option(help: "Text column (default text; token classification JSONL: the words field, default tokens).") var textColumn: String?
    @Option(help: "Second text column, for pairs.") var pairColumn: String?
    @Option(help: "Label column (default label; token classification: the tags field, default ner_tags, or in CoNLL files a 1-based column, default the last).")
    var labelColumn: String?
    @Option(help: "Comma-separated label names, in id order (default: the config's, else sorted from the data).") var labels: String?
    @Option(help: "The loss (default: from the labels).") var problemType: ProblemType?

    func validate() throws {
        guard (maxLength ?? 2) > 1 else { throw ValidationError("--max-length must be positive") }
        if let maxTrainExamples, maxTrainExamples < 1 { throw ValidationError("--max-train-examples must be positive") }
        if let maxEvalExamples, maxEvalExamples < 1 { throw ValidationError("--max-eval-examples must be positive") }
        if let names = labelNames {
            if let repeated = names.first(where: { name in names.filter { $0 == name }.count > 1 }) {
                throw ValidationError("--labels names '\(repeated)' twice")
            }
            if names.isEmpty { throw ValidationError("--labels names no label") }
        }
    }

    var labelNames: [String]? { labels?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }

    func apply(to job: inout FineTuning) {
        job.task = task
        job.evalFile = eval
        job.data.textColumn = textColumn
        job.data.pairColumn = pairColumn
        job.data.labelColumn = labelColumn
        job.labels = labelNames
        job.problemType = problemType
        job.maxLength = maxLength
        job.maxTrainExamples = maxTrainExamples
        job.maxEvalExamples = maxEvalExamples
    }
}

struct TokenClassificationOptions: ParsableArguments {
    @Flag(help: "Token classification: label every word piece, not only a word's first (B-X becomes I-X after the first), as run_ner.py's --label_all_tokens.")
    var labelAllTokens = false
    @Option(help: "Token classification: seqeval's default (conlleval) chunking, or strict IOB2.") var metricMode: EntityScoringMode = .default

    func apply(to options: inout TaskDataOptions) {
        options.labelAllTokens = labelAllTokens
        options.strictEntityScoring = metricMode == .strict
    }
}

/// Masked LM's data and masking (shared by finetune and evaluate).
struct MaskedLMOptions: ParsableArguments {
    @Flag(help: "Masked LM: each line its own example (else lines are concatenated and cut into --max-length blocks, as run_mlm.py).")
    var lineByLine = false
    @Option(help: "Masked LM: the share of tokens masked (of those, 80 % [MASK], 10 % random, 10 % unchanged).") var mlmProbability: Float = 0.15
    @Flag(help: "Masked LM: mask every piece of a chosen word, with [MASK] only.") var wholeWordMask = false

    func validate() throws {
        guard mlmProbability > 0 && mlmProbability < 1 else { throw ValidationError("--mlm-probability must be between 0 and 1") }
    }

    func apply(to options: inout TaskDataOptions) {
        options.lineByLine = lineByLine
        options.maskingProbability = mlmProbability
        options.wholeWordMasking = wholeWordMask
    }
}

/// AdamW, the batch and the seed.
struct OptimisationOptions: ParsableArguments {
    @Option(help: "Peak learning rate.") var lr: Float = 2e-5
    @Option(help: "Examples per micro-batch.") var batchSize = 16
    @Option(help: "Micro-batches per optimizer step (the loss is averaged over all of their examples).") var gradAccum = 1
    @Option(help: "AdamW weight decay (biases and LayerNorm weights excluded).") var weightDecay: Float = 0.01
    @Option(help: "Global gradient-norm clipping (0 disables).") var maxGradNorm: Float = 1.0
    @Option(help: "Seed for the new head, data order, dropout and sampling.") var seed: UInt64 = 42
    @Flag(help: "Compute the padding positions of each micro-batch too (default: the encoder runs forward and backward over real tokens only; the same gradients, faster; question answering always pads).")
    var padBatches = false
    @Option(help: "Number format of the encoder's products: fp32, or bf16 mixed precision (products in bf16 with fp32 sums, forward and backward, as torch.autocast; weights, AdamW, loss, LayerNorm and softmax in fp32).")
    var precision: Precision = .fp32

    func validate() throws {
        guard batchSize > 0, gradAccum > 0 else { throw ValidationError("--batch-size and --grad-accum must be positive") }
        guard lr > 0 else { throw ValidationError("--lr must be positive") }
        if let refusal = FineTuning.refusal(ofPrecision: precision) { throw ValidationError("--precision: " + refusal) }
    }

    func apply(to job: inout FineTuning) {
        job.learningRate = lr; job.batchSize = batchSize; job.gradientAccumulation = gradAccum
        job.weightDecay = weightDecay; job.maxGradNorm = maxGradNorm; job.seed = seed
        job.padBatches = padBatches
        job.precision = precision
    }
}

/// How long to train, and the warm-up.
struct ScheduleOptions: ParsableArguments {
    @Option(help: "Epochs.") var epochs = 3
    @Option(help: "Stop after this many optimizer steps.") var maxSteps: Int?
    @Option(help: "Warmup as a fraction of all steps.") var warmupRatio: Double = 0
    @Option(help: "Warmup steps (wins over --warmup-ratio).") var warmupSteps: Int = 0

    func validate() throws {
        guard epochs > 0 || (maxSteps ?? 0) > 0 else { throw ValidationError("--epochs must be positive") }
        if let maxSteps, maxSteps < 1 { throw ValidationError("--max-steps must be positive") }
        guard (0...1).contains(warmupRatio) else { throw ValidationError("--warmup-ratio must be between 0 and 1") }
    }

    func apply(to job: inout FineTuning) {
        job.epochs = epochs; job.maxSteps = maxSteps; job.warmupRatio = warmupRatio; job.warmupSteps = warmupSteps
    }
}

/// When to evaluate and log, what "best" means, early stopping.
struct EvaluationScheduleOptions: ParsableArguments {
    @Option(help: "Evaluate every epoch or every N steps.") var evalEvery: FineTuning.Schedule = .everyEpoch
    @Option(help: "Log the training loss every N steps.") var loggingSteps = 10
    @Option(help: "What 'best' and early stopping look at.") var metric: FineTuning.Metric = .evalLoss
    @Option(help: "Stop after this many evaluations without improvement.") var earlyStoppingPatience: Int?
    @Option(help: "Minimum improvement that counts.") var earlyStoppingThreshold: Double = 0
    @Flag(help: "At the end, load the weights of the best evaluation.") var loadBestAtEnd = false

    func validate() throws {
        guard loggingSteps > 0 else { throw ValidationError("--logging-steps must be positive") }
    }

    func apply(to job: inout FineTuning) {
        job.evaluation = evalEvery; job.loggingSteps = loggingSteps; job.bestMetric = metric
        job.earlyStoppingPatience = earlyStoppingPatience; job.earlyStoppingThreshold = earlyStoppingThreshold
        job.loadBestAtEnd = loadBestAtEnd
    }
}

/// Checkpoints, resuming, and the formats written beside model.safetensors.
struct CheckpointOptions: ParsableArguments {
    @Option(help: "Checkpoint every epoch, every N steps, or never.") var saveEvery: FineTuning.Schedule = .everyEpoch
    @Option(help: "Keep at most this many checkpoints (the best one is always kept).") var saveTotalLimit: Int?
    @Flag(help: "Continue from the newest checkpoint in --output.") var resume = false
    @Option(help: "Also write pytorch_model.bin (pytorch) or tf_model.h5 (hdf5).") var saveFormat: [ExtraWeightsFormat] = []

    func apply(to job: inout FineTuning) {
        job.saving = saveEvery
        job.saveTotalLimit = saveTotalLimit
        job.resume = resume
        job.alsoWriting = saveFormat.map(\.conversionFormat)
    }
}

/// `--save-format`: the weight files a fine-tuned model may carry beside model.safetensors.
enum ExtraWeightsFormat: String, CaseIterable, ExpressibleByArgument {
    case pytorch, hdf5
    /// The library's format of the same name.
    var conversionFormat: ConversionFormat { self == .pytorch ? .pytorch : .hdf5 }
}

/// LoRA instead of full fine-tuning, PEFT's options.
struct LoRAOptions: ParsableArguments {
    @Option(help: "Train a LoRA adapter of this rank instead of every weight (PEFT-compatible output).") var loraR: Int?
    @Option(help: "LoRA alpha.") var loraAlpha: Float = 8
    @Option(help: "LoRA dropout.") var loraDropout: Float = 0
    @Option(help: "Comma-separated modules to adapt (PEFT's matching: query, key, value, attention.output.dense, intermediate.dense, output.dense, dense; DistilBERT's q_lin, k_lin, v_lin, out_lin, lin1, lin2). Default: PEFT's for the model type (query,value; DistilBERT q_lin,v_lin).")
    var loraTargets: String?
    @Flag(help: "rsLoRA scaling: alpha / sqrt(r).") var loraRslora = false
    @Option(help: "Continue training an existing PEFT adapter folder.") var adapter: String?

    func validate() throws {
        if let loraR, loraR < 1 { throw ValidationError("--lora-r must be at least 1") }
    }

    func apply(to job: inout FineTuning) {
        job.adapter = adapter
        guard let loraR else { return }
        var lora = FineTuning.LoRA()
        lora.rank = loraR
        lora.alpha = loraAlpha
        lora.dropout = loraDropout
        lora.useRSLoRA = loraRslora
        lora.targetModules = loraTargets.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        job.lora = lora
    }
}

/// `--eval-every` / `--save-every`: epoch, never (or no), or a positive number of steps.
extension FineTuning.Schedule: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument {
        case "epoch": self = .everyEpoch
        case "never", "no": self = .never
        default:
            guard let n = Int(argument), n > 0 else { return nil }
            self = .everySteps(n)
        }
    }

    public var defaultValueDescription: String {
        switch self {
        case .everyEpoch: return "epoch"
        case .never: return "never"
        case .everySteps(let n): return String(n)
        }
    }
}

extension FineTuning.Metric: ExpressibleByArgument {}
extension ProblemType: ExpressibleByArgument {}
extension FineTuning.Task: ExpressibleByArgument {}

/// Question answering's windows and post-processing, as run_qa.py names them (shared by finetune and evaluate).
struct QuestionAnsweringOptions: ParsableArguments {
    @Option(help: "Question answering: tokens shared by neighbouring windows of a long context.") var docStride = 128
    @Option(help: "Question answering: start and end candidates per window.") var nBestSize = 20
    @Option(help: "Question answering: the longest answer, in tokens.") var maxAnswerLength = 30
    @Flag(name: [.customLong("version-2-with-negative"), .customLong("version-two-with-negative")],
          help: "Question answering: SQuAD 2.0, where a question may have no answer (default: when the data has such questions).")
    var versionTwoWithNegative = false
    @Option(help: "Question answering (SQuAD 2.0): answer nothing when the null score beats the best span by more than this.")
    var nullScoreDiffThreshold: Float = 0

    func validate() throws {
        guard docStride >= 0, nBestSize > 0, maxAnswerLength > 0 else {
            throw ValidationError("--doc-stride must be at least 0, --n-best-size and --max-answer-length positive")
        }
    }

    func apply(to options: inout TaskDataOptions) {
        options.docStride = docStride
        options.nBestSize = nBestSize
        options.maxAnswerLength = maxAnswerLength
        options.nullScoreDiffThreshold = nullScoreDiffThreshold
        options.versionTwoWithNegative = versionTwoWithNegative ? true : nil
    }
}
