// Token classification (NER, POS): word-level tags aligned to word pieces as run_ner.py's
// `tokenize_and_align_labels` does (transformers v5.24.0, examples/pytorch/token-classification/run_ner.py):
// the first piece of a word carries its label, the others -100 — or, with `labelAllTokens`, the word's label
// with B-X turned into I-X. A sentence longer than the window is never cut short: it becomes overlapping windows
// (`TokenWindows`), and each token is labelled in one of them only. Metrics are seqeval's over the labelled
// positions, as run_ner.py's `compute_metrics`.

import TensorCore
import Tokenizer
import Bert
import Training

package struct TokenClassificationTask: FineTuningTask {
    package var columns: TaggedColumns
    package var labelAllTokens: Bool
    package var metricMode: SeqEval.Mode

    package init(columns: TaggedColumns = TaggedColumns(), labelAllTokens: Bool = false, metricMode: SeqEval.Mode = .default) {
        self.columns = columns
        self.labelAllTokens = labelAllTokens
        self.metricMode = metricMode
    }

    package var head: BertHead { .tokenClassification }

    package func read(_ path: String) throws -> [TaggedSentence] {
        try TaggedSentences.read(path: path, columns: columns)
    }

    /// run_ner.py's rule: the model's labels when its config names them and they cover the data, else the sorted
    /// set of training labels. Integer tags are indices, so they need names from `--labels` or the config.
    package func labels(train: [TaggedSentence], file: String, config: BertConfig, explicit: [String]?) throws -> LabelSet {
        let labels = try resolveLabels(train: train, file: file, config: config, explicit: explicit)
        try withFileContext(file) { try checkLabels(labels) }
        return labels
    }

    /// Strict IOB2 metrics need tags that start with B, I or O; refused before training rather than scored as nothing.
    package func checkLabels(_ labels: LabelSet) throws(SeqEval.Error) {
        guard metricMode == .strict else { return }
        for name in labels.names { _ = try SeqEval.entities([[name]], mode: .strict) }
    }

    func resolveLabels(train: [TaggedSentence], file: String, config: BertConfig, explicit: [String]?) throws -> LabelSet {
        let configNamed = !config.id2label.enumerated().allSatisfy { $1 == "LABEL_\($0)" }
        if let first = train.first(where: \.tagsAreIDs) {
            guard let names = explicit ?? (configNamed ? config.id2label : nil) else {
                throw TaggedSentences.at(file, first.line, .idsNeedNames)
            }
            return LabelSet(names: names, problemType: .singleLabelClassification)
        }
        if let explicit { return LabelSet(names: explicit, problemType: .singleLabelClassification) }
        let seen = Set(train.flatMap(\.tags))
        if configNamed && seen.isSubset(of: Set(config.id2label)) {
            return LabelSet(names: config.id2label, problemType: .singleLabelClassification)
        }
        return LabelSet(names: seen.sorted(), problemType: .singleLabelClassification)
    }

    /// The label index of each word; a tag outside the set is an error at its line.
    func tagIndices(_ sentence: TaggedSentence, file: String, labels: LabelSet, index: [String: Int]) throws -> [Int] {
        try sentence.tags.enumerated().map { i, tag in
            if sentence.tagsAreIDs {
                let id = Int(tag)!
                guard id < labels.count else { throw TaggedSentences.at(file, sentence.line(ofWord: i), .idOutOfRange(id, count: labels.count)) }
                return id
            }
            guard let id = index[tag] else { throw TaggedSentences.at(file, sentence.line(ofWord: i), .unknownLabel(tag, known: labels.names)) }
            return id
        }
    }

    package var encodesPreSplitWords: Bool { true }

    package func encode(_ sentences: [TaggedSentence], file: String, labels: LabelSet, tokenizer: any TextTokenizer, maxLength: Int) throws -> EncodedData {
        let index = labels.label2id
        let bToI = Self.bToI(labels.names)
        let room = max(1, maxLength - tokenizer.specialTokensForOneSequence)
        var examples: [EncodedExample] = []
        var split = 0
        for sentence in sentences {
            let tags = try tagIndices(sentence, file: file, labels: labels, index: index)
            let pieces = tokenizer.encode(words: sentence.words, window: nil, addSpecialTokens: false)
            let aligned = Self.align(wordIDs: pieces.wordIDs.map { $0! }, tags: tags, labelAllTokens: labelAllTokens, bToI: bToI)
            let windows = TokenWindows(count: pieces.count, room: room)
            if windows.ranges.count > 1 { split += 1 }
            for (w, range) in windows.ranges.enumerated() {
                let encoding = tokenizer.encode(words: sentence.words, window: range, addSpecialTokens: true)
                var targets = [Int](repeating: Labels.ignoreIndex, count: encoding.count)
                var k = 0
                for (position, word) in encoding.wordIDs.enumerated() where word != nil {
                    let token = range.lowerBound + k
                    if windows.owner[token] == w { targets[position] = aligned[token] }
                    k += 1
                }
                examples.append(EncodedExample(ids: encoding.ids, typeIds: encoding.typeIDs, target: .tokens(targets), line: sentence.line))
            }
        }
        var notes: [String] = []
        if split > 0 {
            notes.append("\(split) sentence\(split == 1 ? "" : "s") of \(file) longer than \(maxLength) tokens "
                         + "\(split == 1 ? "was" : "were") split into overlapping windows (every word is still labelled once)")
        }
        return EncodedData(examples: examples, sourceCount: sentences.count, notes: notes)
    }

    /// `tokenize_and_align_labels` on one sentence's word pieces (no special tokens): the first piece of a word gets
    /// its label; later pieces -100, or with `labelAllTokens` the label through `bToI`.
    package static func align(wordIDs: [Int], tags: [Int], labelAllTokens: Bool, bToI: [Int]) -> [Int] {
        var previous: Int? = nil
        return wordIDs.map { word in
            defer { previous = word }
            if word != previous { return tags[word] }
            return labelAllTokens ? bToI[tags[word]] : Labels.ignoreIndex
        }
    }

    /// run_ner.py's `b_to_i_label`: B-X → I-X where the label set has I-X; every other label stays.
    package static func bToI(_ names: [String]) -> [Int] {
        let index = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        return names.enumerated().map { i, name in
            guard name.hasPrefix("B-"), let inside = index["I-" + name.dropFirst(2)] else { return i }
            return inside
        }
    }

    package func training(labels: LabelSet, train: EncodedData, eval: EncodedData?) -> any TrainingTask {
        TokenClassificationTraining(labels: labels.names, mode: metricMode)
    }

    package func configure(_ config: inout BertConfig, labels: LabelSet) {
        config.id2label = labels.names
        config.problemType = nil
    }
}

/// Batches of aligned token targets and seqeval metrics.
package struct TokenClassificationTraining: TrainingTask {
    package let labels: [String]
    package let mode: SeqEval.Mode
    package var head: BertHead { .tokenClassification }

    package init(labels: [String], mode: SeqEval.Mode) {
        self.labels = labels
        self.mode = mode
    }

    package func collate(_ examples: [EncodedExample], padId: Int, pass: CollationPass) throws -> (TokenBatch, Labels) {
        try MicroBatch.make(examples, head: .tokenClassification, problemType: nil, padId: padId)
    }

    package func makeMetrics() -> any MetricAccumulator { EntityMetrics(labels: labels, mode: mode) }
}

/// Collects each sentence's labelled tags and predictions (windows of one sentence are consecutive examples with
/// the same line), then scores them with seqeval.
package struct EntityMetrics: MetricAccumulator {
    let labels: [String]
    let mode: SeqEval.Mode
    var truth: [[String]] = [], predicted: [[String]] = []
    var lastLine: Int? = nil

    package init(labels: [String], mode: SeqEval.Mode) {
        self.labels = labels
        self.mode = mode
    }

    package mutating func add(examples: [EncodedExample], labels targets: Labels, batch: TokenBatch, outputs: BertWorkspace, config: BertConfig) {
        guard case .tokenClasses(let flat) = targets else { return }
        let T = batch.sequenceLength, L = config.numLabels
        for (b, example) in examples.enumerated() {
            if example.line != lastLine || truth.isEmpty {
                truth.append([]); predicted.append([])
                lastLine = example.line
            }
            for t in 0..<T where flat[b * T + t] != Labels.ignoreIndex {
                truth[truth.count - 1].append(labels[flat[b * T + t]])
                predicted[predicted.count - 1].append(labels[argmax(outputs.logits + (b * T + t) * L, L)])
            }
        }
    }

    package func result() -> TaskMetrics {
        guard let scores = try? SeqEval.scores(truth: truth, predicted: predicted, mode: mode) else {
            // Strict mode refuses tags that are not IOB2; `checkLabels` refused such label sets before the run.
            return TaskMetrics()
        }
        var metrics = TaskMetrics(accuracy: scores.accuracy, f1: scores.f1)
        metrics.precision = scores.precision
        metrics.recall = scores.recall
        metrics.perType = scores.perType.map { EntityTypeScore(type: $0.type, precision: $0.precision, recall: $0.recall, f1: $0.f1, support: $0.support) }
        metrics.count = truth.count
        return metrics
    }
}

/// A sentence of `count` word pieces cut into windows of at most `room`, half overlapping. Each token is owned by
/// the window where it has the most context on its poorer side (the earlier window on ties), so every token is
/// labelled, trained on and predicted exactly once.
package struct TokenWindows: Sendable, Equatable {
    package let ranges: [Range<Int>]
    /// The window that owns each token.
    package let owner: [Int]

    package init(count: Int, room: Int) {
        guard count > room else {
            ranges = [0..<count]
            owner = [Int](repeating: 0, count: count)
            return
        }
        let step = max(1, room / 2)
        var starts: [Int] = []
        var start = 0
        while start + room < count { starts.append(start); start += step }
        starts.append(count - room)
        let windows = starts.map { $0..<($0 + room) }
        ranges = windows
        owner = (0..<count).map { t in
            var best = -1, bestContext = Int.min
            for (w, range) in windows.enumerated() where range.contains(t) {
                let context = min(t - range.lowerBound, range.upperBound - 1 - t)
                if context > bestContext { best = w; bestContext = context }
            }
            return best
        }
    }
}
