// A model loaded for inference: every task `bertkit` runs from the command line, as methods.

import Foundation
internal import TensorCore
internal import ModelCatalog
internal import Bert
internal import Tasks
internal import Pipelines

/// A pretrained or fine-tuned model directory loaded for inference: classify texts, tag their entities, answer
/// questions, fill masks and embed — what transformers' pipelines do, with the same numbers.
///
/// A directory is what `save_pretrained` writes (config.json, weights as safetensors, `pytorch_model.bin` or
/// `tf_model.h5`, the tokenizer files) or what ``FineTuning`` writes; a Hub id (`sentence-transformers/all-MiniLM-L6-v2`)
/// is looked up in the local Hugging Face cache — BertKit downloads nothing. BERT, DistilBERT and RoBERTa checkpoints
/// load; another architecture is refused with ``BertKitError/unsupportedModel(_:)``.
///
/// ```swift
/// let model = try PretrainedModel("my-sentiment-model")
/// for result in try model.classify(["a gripping, funny film", "a dull plot"]) {
///     print(result.label, result.score)
/// }
/// ```
///
/// A model may be used from several threads: calls run one at a time (each already uses every thread BertKit has,
/// see ``Threads``).
public final class PretrainedModel: @unchecked Sendable {
    /// How to load a model.
    public struct Options: Sendable {
        /// The number format of the encoder's matrix products (fp32 by default).
        public var precision: Precision = .fp32
        /// The head to run; nil takes the one config.json's `architectures` names (the bare encoder when it names none).
        public var head: Head? = nil
        /// A PEFT LoRA adapter folder (`adapter_config.json` + `adapter_model.safetensors`) to apply to the model.
        public var adapter: String? = nil
        /// Load even when none of the checkpoint's encoder weights fit (the encoder is then random): for tests only.
        public var allowRandomInit = false
        /// Texts per forward pass.
        public var batchSize = 32
        /// Compute the padding positions of each batch too, as transformers does; by default the encoder runs over the
        /// real tokens only (the same results, faster).
        public var padBatches = false
        /// Truncate texts to this many tokens (nil: the tokenizer's limit; entity tagging windows longer texts instead).
        public var maxLength: Int? = nil

        /// The defaults: fp32, the config's head, no adapter, batches of 32.
        public init() {}
    }

    /// What was loaded.
    public let info: ModelInfo
    /// transformers' load warnings (weights not used, weights newly initialised), names grouped; empty when every
    /// weight fitted.
    public var loadWarnings: [String] { loadReport(listingEveryName: false) }
    /// The model's tokenizer, read from the directory on first use (a directory of weights alone loads, and runs
    /// ``checkParity(reference:absoluteTolerance:relativeTolerance:)``, without one).
    /// - Throws: ``BertKitError/file(path:message:)`` when the directory has no tokenizer files BertKit reads.
    public var tokenizer: TextTokenizer {
        get throws(BertKitError) { try serialised { TextTokenizer(base: try pipeline().tokenizer) } }
    }

    private let lock = NSLock()
    private let loaded: PretrainedBert
    private let options: Options
    /// The text pipeline, made with the tokenizer on first use (under `lock`).
    private var inference: TextInference?

    private func pipeline() throws -> TextInference {
        if let inference { return inference }
        let made = TextInference(model: loaded.model, tokenizer: try loaded.tokenizer(), adapters: loaded.adapters, maxLength: options.maxLength)
        made.batchSize = options.batchSize
        made.skipsPadding = !options.padBatches
        inference = made
        return made
    }

    /// Loads a model directory, or a Hub id in the local Hugging Face cache.
    /// - Throws: ``BertKitError/file(path:message:)`` for a missing or damaged file,
    ///   ``BertKitError/unsupportedModel(_:)`` for another architecture.
    public init(_ location: String, options: Options = Options()) throws(BertKitError) {
        guard options.batchSize >= 1 else { throw .invalidArgument("batchSize must be at least 1, not \(options.batchSize)") }
        if let maxLength = options.maxLength, maxLength < 1 { throw .invalidArgument("maxLength must be at least 1, not \(maxLength)") }
        let precision = options.precision.internalValue
        let loaded = try BertKitError.mapping {
            try options.adapter.map {
                try PretrainedBert.load(location, head: options.head?.internalValue, adapter: $0,
                                        allowRandomInit: options.allowRandomInit, precision: precision)
            } ?? PretrainedBert.load(location, head: options.head?.internalValue, allowRandomInit: options.allowRandomInit,
                                     precision: precision)
        }
        self.loaded = loaded
        self.options = options
        info = ModelInfo(loaded, precision: options.precision)
    }

    /// Loads a model directory given as a file URL.
    public convenience init(directory: URL, options: Options = Options()) throws(BertKitError) {
        try self.init(directory.path, options: options)
    }

    /// What loading did, in transformers' words: weights not used, weights newly initialised, shapes that did not fit.
    /// ``loadWarnings`` groups long lists of names (`bert.encoder.layer.{0..11}.* (192)`); `listingEveryName` lists
    /// each.
    public func loadReport(listingEveryName: Bool) -> [String] { loaded.loadReport.lines(verbose: listingEveryName) }

    /// Runs `body` with the implementation's model, under the lock.
    func withLoadedModel<T>(_ body: (PretrainedBert) throws -> T) throws(BertKitError) -> T {
        try serialised { try body(loaded) }
    }

    private func serialised<T>(_ body: () throws -> T) throws(BertKitError) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try BertKitError.mapping(body)
    }

    // MARK: Tasks

    /// Classifies texts with a sequence classifier (`pipeline("text-classification", top_k=None)`): the label with the
    /// highest logit and every label's probability — softmax, sigmoid for a multi-label model, the raw value for regression.
    /// - Throws: ``BertKitError/unsupportedModel(_:)`` when the model has another head.
    public func classify(_ texts: [String]) throws(BertKitError) -> [Classification] {
        try serialised { try pipeline().predict(texts).map(Classification.init) }
    }

    /// Classifies text pairs (`tokenizer(text, pair)`), for models fine-tuned on pairs (entailment, paraphrase).
    public func classify(_ texts: [String], pairs: [String]) throws(BertKitError) -> [Classification] {
        guard texts.count == pairs.count else { throw .invalidArgument("\(texts.count) texts but \(pairs.count) pairs") }
        return try serialised { try pipeline().predict(texts, pairs: pairs).map(Classification.init) }
    }

    /// Tags the entities of texts with a token classifier, grouped as transformers' token-classification pipeline
    /// groups them (`aggregation_strategy`); a text longer than the model's window is tagged window by window.
    /// - Parameters:
    ///   - texts: The texts to tag.
    ///   - aggregation: How tokens are grouped into entities.
    ///   - ignoring: Labels left out (the pipeline's `ignore_labels`, `O` by default).
    public func tagEntities(_ texts: [String], aggregation: EntityAggregation = .simple,
                            ignoring: Set<String> = ["O"]) throws(BertKitError) -> [[Entity]] {
        try serialised {
            try pipeline().tagEntities(texts, strategy: aggregation.internalValue, ignoreLabels: ignoring).map { $0.map(Entity.init) }
        }
    }

    /// Answers a question from a context with an extractive question-answering model, as transformers'
    /// question-answering pipeline: the best spans of the context, best first.
    /// - Throws: ``BertKitError/invalidArgument(_:)`` when the options cannot window the context (a stride as long as
    ///   the room the question leaves), ``BertKitError/unsupportedModel(_:)`` when the model has another head.
    public func answer(_ question: String, context: String, options: AnswerOptions = AnswerOptions()) throws(BertKitError) -> [Answer] {
        try options.validate()
        return try serialised { try pipeline().answer(question: question, context: context, options: options.internalValue).map(Answer.init) }
    }

    /// Answers every question of a file of JSON lines, `{"question": …, "context": …}` each (empty lines skipped),
    /// in order. An error in one names the file and its line.
    public func answerQuestions(inFile path: String, options: AnswerOptions = AnswerOptions()) throws(BertKitError) -> [AnsweredQuestion] {
        try options.validate()
        return try serialised {
            try pipeline().answer(questionFile: path, options: options.internalValue).map {
                AnsweredQuestion(question: $0.question, context: $0.context, answers: $0.answers.map(Answer.init))
            }
        }
    }

    /// Fills the mask token (`[MASK]`, RoBERTa's `<mask>`) of a text with a masked-LM model, as the fill-mask pipeline:
    /// for each mask of the text, the `topK` likeliest tokens.
    public func fillMask(_ text: String, topK: Int = 5) throws(BertKitError) -> [[MaskFill]] {
        guard topK >= 1 else { throw .invalidArgument("topK must be at least 1, not \(topK)") }
        return try serialised { try pipeline().fillMask(text, topK: topK).map { $0.map(MaskFill.init) } }
    }

    /// One vector per text: the mean of the last hidden states over the real tokens (sentence-transformers' mean
    /// pooling), the `[CLS]` state, or the pooler's output. `normalize` scales each to unit length (cosine similarity is
    /// then a dot product).
    public func embed(_ texts: [String], pooling: Pooling = .mean, normalize: Bool = false) throws(BertKitError) -> [[Float]] {
        try serialised { try pipeline().embed(texts, pooling: pooling.internalValue, normalize: normalize) }
    }

    /// Compares the model's outputs with a reference file written by transformers (`Tools/make_reference.py`: the
    /// inputs and the reference outputs as a safetensors file). An output is within tolerance when
    /// `|bertkit − reference| ≤ absoluteTolerance + relativeTolerance · |reference|` everywhere (`torch.allclose`).
    public func checkParity(reference: String, absoluteTolerance: Double = 1e-4,
                            relativeTolerance: Double = 0) throws(BertKitError) -> ParityReport {
        guard absoluteTolerance >= 0, relativeTolerance >= 0 else { throw .invalidArgument("tolerances must not be negative") }
        return try serialised {
            ParityReport(try ParityCheck.run(file: reference, model: loaded.model, adapters: loaded.adapters,
                                             atol: absoluteTolerance, rtol: relativeTolerance))
        }
    }
}

/// What a loaded model is.
public struct ModelInfo: Sendable, Hashable {
    /// The directory the model was read from (a Hub id resolved to its snapshot folder).
    public var directory: String
    /// `model_type`: `bert`, `distilbert` or `roberta`.
    public var family: String
    /// The transformers class the model runs as (`BertForSequenceClassification`).
    public var architecture: String
    /// The head it runs.
    public var head: Head
    /// The label names, by output index (`id2label`); for a head without labels, the config's defaults.
    public var labels: [String]
    /// The encoder's size.
    public var layers: Int, hiddenSize: Int, attentionHeads: Int
    /// The vocabulary's size and the longest input, in tokens.
    public var vocabularySize: Int, maxPositions: Int
    /// The precision of the encoder's products.
    public var precision: Precision
    /// Where the weights came from: their format and files.
    public var weightsFormat: CheckpointFormat, weightsFiles: [String]

    init(_ loaded: PretrainedBert, precision: Precision) {
        let config = loaded.model.config
        directory = loaded.directory
        family = config.family.rawValue
        architecture = loaded.model.architecture
        head = Head(loaded.model.head)
        labels = config.id2label
        layers = config.numHiddenLayers
        hiddenSize = config.hiddenSize
        attentionHeads = config.numAttentionHeads
        vocabularySize = config.vocabSize
        maxPositions = config.maxSequenceLength
        self.precision = precision
        weightsFormat = CheckpointFormat(loaded.weightsFormat)
        weightsFiles = loaded.weightsFiles
    }
}
