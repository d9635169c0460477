// The settings and results of PretrainedModel's tasks: plain values, each mapped from and to the implementation's own.

internal import ModelCatalog
internal import Bert
internal import Tasks
internal import Pipelines
internal import Checkpoints

/// The number format of the encoder's matrix products.
public enum Precision: String, Sendable, Hashable, CaseIterable {
    /// Single precision throughout, as PyTorch's default.
    case fp32
    /// bfloat16 products with fp32 sums (weights rounded to nearest even, as `.to(torch.bfloat16)`); everything else fp32.
    /// Fast where the CPU has AVX512_BF16; fine-tuning in it is mixed precision as `torch.autocast`.
    case bf16
    /// Dynamic quantisation as ONNX Runtime and PyTorch define it: int8 weights per output channel, activations
    /// quantised per token at run time, int32 sums. Inference only.
    case int8

    var internalValue: Bert.Precision {
        switch self { case .fp32: .fp32; case .bf16: .bf16; case .int8: .int8 }
    }
}

/// The head on top of the encoder: which transformers class the model is.
public enum Head: String, Sendable, Hashable, CaseIterable {
    /// The bare encoder (`BertModel`): hidden states and the pooler's output.
    case base
    /// A text classifier (`BertForSequenceClassification`).
    case sequenceClassification = "sequence-classification"
    /// An entity tagger (`BertForTokenClassification`).
    case tokenClassification = "token-classification"
    /// An extractive question answerer (`BertForQuestionAnswering`).
    case questionAnswering = "question-answering"
    /// A masked language model (`BertForMaskedLM`).
    case maskedLM = "masked-lm"

    init(_ head: BertHead) {
        switch head {
        case .base: self = .base
        case .sequenceClassification: self = .sequenceClassification
        case .tokenClassification: self = .tokenClassification
        case .questionAnswering: self = .questionAnswering
        case .maskedLM: self = .maskedLM
        }
    }

    var internalValue: BertHead {
        switch self {
        case .base: .base
        case .sequenceClassification: .sequenceClassification
        case .tokenClassification: .tokenClassification
        case .questionAnswering: .questionAnswering
        case .maskedLM: .maskedLM
        }
    }
}

/// One text's class.
public struct Classification: Sendable, Hashable {
    /// The text classified.
    public var text: String
    /// The label with the highest logit.
    public var label: String
    /// ``label``'s probability.
    public var score: Double
    /// Every label's probability (softmax; sigmoid for a multi-label model; the raw output for regression), in the
    /// model's label order.
    public var scores: [LabelScore]
    /// The raw outputs, in the model's label order.
    public var logits: [Float]

    init(_ prediction: Prediction) {
        text = prediction.text
        label = prediction.label
        scores = prediction.probabilities.map { LabelScore(label: $0.label, score: $0.probability) }
        score = scores.first { $0.label == prediction.label }?.score ?? 0
        logits = prediction.logits
    }
}

/// A label and its score.
public struct LabelScore: Sendable, Hashable {
    /// The label's name (`id2label`).
    public var label: String
    /// Its probability.
    public var score: Double
}

/// How entity tagging groups tokens, as transformers' `aggregation_strategy`.
public enum EntityAggregation: String, Sendable, Hashable, CaseIterable {
    /// One item per token, with its full label (`B-PER`).
    case none
    /// Neighbouring tokens of one entity type grouped, pieces included.
    case simple
    /// Whole words, each labelled as its first piece.
    case first
    /// Whole words, each labelled by its pieces' average scores.
    case average
    /// Whole words, each labelled as its highest-scoring piece.
    case max

    var internalValue: AggregationStrategy {
        switch self { case .none: .none; case .simple: .simple; case .first: .first; case .average: .average; case .max: .max }
    }
}

/// An entity found in a text.
public struct Entity: Sendable, Hashable {
    /// The entity type (`PER`), or with ``EntityAggregation/none`` the token's full label (`B-PER`).
    public var label: String
    /// The model's confidence, 0…1.
    public var score: Float
    /// The entity's text, as the tokenizer decodes its tokens.
    public var word: String
    /// Its place in the text, as Unicode scalar offsets (Python `str` indices).
    public var start: Int, end: Int
    /// With ``EntityAggregation/none``, the token's position in the encoding (`[CLS]` is 0); nil otherwise.
    public var tokenIndex: Int?

    init(_ entity: TaggedEntity) {
        label = entity.label
        score = entity.score
        word = entity.word
        start = entity.start
        end = entity.end
        tokenIndex = entity.index
    }
}

/// How question answering searches for answers, as the question-answering pipeline's arguments.
public struct AnswerOptions: Sendable, Hashable {
    /// Answers per question.
    public var topK = 1
    /// The longest answer, in tokens.
    public var maxAnswerLength = 15
    /// Window length in tokens (nil: the tokenizer's limit, at most 384).
    public var maxLength: Int? = nil
    /// Tokens shared by neighbouring windows (nil: half the window, at most 128).
    public var docStride: Int? = nil
    /// Also offer the empty answer, scored by the null score (SQuAD 2.0 models).
    public var handleImpossibleAnswer = false

    /// The pipeline's defaults.
    public init() {}

    func validate() throws(BertKitError) {
        guard topK >= 1, maxAnswerLength >= 1 else { throw .invalidArgument("topK and maxAnswerLength must be at least 1") }
        if let docStride, docStride < 0 { throw .invalidArgument("docStride must be at least 0") }
        if let maxLength, maxLength < 1 { throw .invalidArgument("maxLength must be at least 1") }
    }

    var internalValue: Tasks.AnswerOptions {
        var options = Tasks.AnswerOptions()
        options.topK = topK
        options.maxAnswerLength = maxAnswerLength
        options.maxLength = maxLength
        options.docStride = docStride
        options.handleImpossibleAnswer = handleImpossibleAnswer
        return options
    }
}

/// An answer span of the context.
public struct Answer: Sendable, Hashable {
    /// The answer's text (empty for the "no answer" of ``AnswerOptions/handleImpossibleAnswer``).
    public var text: String
    /// Its probability among the spans considered.
    public var score: Double
    /// Its place in the context, as Unicode scalar offsets.
    public var start: Int, end: Int

    init(_ answer: SpanAnswer) {
        text = answer.answer
        score = answer.score
        start = answer.start
        end = answer.end
    }
}

/// A question of a file, with its answers.
public struct AnsweredQuestion: Sendable, Hashable {
    /// The question.
    public var question: String
    /// The text the answers come from.
    public var context: String
    /// The best spans, best first.
    public var answers: [Answer]
}

/// A candidate for a mask token.
public struct MaskFill: Sendable, Hashable {
    /// The token, as the tokenizer decodes it.
    public var token: String
    /// Its id.
    public var tokenID: Int
    /// Its probability.
    public var score: Double
    /// The text with the mask replaced by it.
    public var sequence: String

    init(_ candidate: FillMaskCandidate) {
        token = candidate.token
        tokenID = candidate.id
        score = candidate.score
        sequence = candidate.sequence
    }
}

/// How ``PretrainedModel/embed(_:pooling:normalize:)`` turns a text's hidden states into one vector.
public enum Pooling: String, Sendable, Hashable, CaseIterable {
    /// The `[CLS]` token's hidden state.
    case cls
    /// The mean over the real tokens (sentence-transformers' default).
    case mean
    /// The pooler's output (tanh of a dense layer over `[CLS]`), for models that have one.
    case pooler

    var internalValue: PoolingMode { switch self { case .cls: .cls; case .mean: .mean; case .pooler: .pooler } }
}

/// The outcome of ``PretrainedModel/checkParity(reference:absoluteTolerance:relativeTolerance:)``.
public struct ParityReport: Sendable, Hashable {
    /// One output of the model against the reference.
    public struct Output: Sendable, Hashable {
        /// The output's name (`logits`, `last_hidden_state`, `pooler_output`, `start_logits`, `end_logits`).
        public var name: String
        /// Its shape.
        public var shape: [Int]
        /// The largest absolute and relative differences.
        public var maxAbsoluteDifference: Double, maxRelativeDifference: Double
        /// Where the worst difference is, and the two values there.
        public var worstIndex: [Int], value: Float, referenceValue: Float
        /// Whether every element is within tolerance.
        public var withinTolerance: Bool
    }

    /// Every output the reference file holds.
    public var outputs: [Output]
    /// Whether all are within tolerance.
    public var passed: Bool { outputs.allSatisfy(\.withinTolerance) }

    init(_ result: ParityResult) {
        outputs = result.comparisons.map {
            Output(name: $0.name, shape: $0.shape, maxAbsoluteDifference: $0.maxAbsDiff, maxRelativeDifference: $0.maxRelDiff,
                   worstIndex: $0.worstIndex, value: $0.actual, referenceValue: $0.expected, withinTolerance: $0.ok)
        }
    }
}

/// The thread count of BertKit's matrix work, loops and batch encoding, for the whole process.
public enum Threads {
    /// The count in force: `BERTKIT_THREADS` when set, else the CPUs this process may use.
    public static var count: Int { Parallel.threadCount }

    /// Sets the count (at least 1) for every later call.
    public static func set(_ count: Int) throws(BertKitError) {
        guard count >= 1 else { throw .invalidArgument("the thread count must be at least 1, not \(count)") }
        Parallel.setThreadCount(count)
    }
}
