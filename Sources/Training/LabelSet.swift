// Which labels a classifier predicts and how the file's labels map onto them: taken from an explicit
// list, else from the model's config when it names its labels, else from the training data (sorted).
// The problem type follows transformers 5.24 (BertForSequenceClassification.forward): the config's
// `problem_type` when it sets one, else num_labels 1 → regression, integer labels → single-label
// classification, anything else → multi-label.

import Bert

package struct LabelSet: Sendable, Equatable {
    package var names: [String]
    package var problemType: ProblemType

    package init(names: [String], problemType: ProblemType) {
        self.names = names
        self.problemType = problemType
    }

    package var count: Int { names.count }
    /// Name → index (the first, should a name repeat).
    package var label2id: [String: Int] { Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a }) }

    /// transformers' choice when the config sets no `problem_type`: num_labels 1 → regression; integer
    /// labels (class ids, or names, which become ids) → single-label classification; float or list labels
    /// → multi-label. `numLabels` nil: not fixed by anything but these labels.
    package static func inferredProblemType(numLabels: Int?, labels: [RawLabel]) -> ProblemType {
        if numLabels == 1 { return .regression }
        let integers = labels.allSatisfy { label in
            switch label {
            case .text: return true
            case .number(let x): return x == x.rounded()
            case .list: return false
            }
        }
        return integers ? .singleLabelClassification : .multiLabelClassification
    }

    /// Decides the label set for a sequence-classification run.
    /// - explicit: `--labels a,b,c`.
    /// - config: the pretrained model's labels are used when they are named (not the default LABEL_i), and
    ///   its `problem_type` when it sets one.
    /// - problemType: `--problem-type`, above everything.
    /// num_labels, for transformers' inference, is the explicit list's length, else what the labels' shape
    /// says (a fraction: one value; a list: its length), else, for class ids, the config's when it names its
    /// labels (names in the data make their own set: as many labels as names).
    package static func resolve(examples: [TextExample], config: BertConfig, explicit: [String]?,
                               problemType requested: ProblemType?) throws(DatasetError) -> LabelSet {
        let labels = examples.compactMap(\.label)
        let listWidth = labels.compactMap { if case .list(let l) = $0 { return l.count } else { return nil } }.max()
        let hasFractions = labels.contains { if case .number(let x) = $0 { return x != x.rounded() } else { return false } }
        let configNamed = !config.id2label.enumerated().allSatisfy { $1 == "LABEL_\($0)" }
        let hasNames = labels.contains { if case .text = $0 { return true } else { return false } }
        let numLabels = explicit?.count ?? listWidth ?? (hasFractions ? 1 : configNamed && !hasNames ? config.numLabels : nil)
        let problemType = requested ?? config.problemType ?? inferredProblemType(numLabels: numLabels, labels: labels)
        switch problemType {
        case .regression:
            let width = labels.first.map { if case .list(let l) = $0 { return l.count } else { return 1 } } ?? 1
            return LabelSet(names: explicit ?? (configNamed && config.numLabels == width ? config.id2label : (0..<width).map { "LABEL_\($0)" }),
                            problemType: .regression)
        case .multiLabelClassification:
            let width = labels.compactMap { if case .list(let l) = $0 { return l.count } else { return nil } }.max() ?? config.numLabels
            let names = explicit ?? (configNamed && config.numLabels == width ? config.id2label : (0..<width).map { "LABEL_\($0)" })
            return LabelSet(names: names, problemType: .multiLabelClassification)
        case .singleLabelClassification:
            if let explicit { return LabelSet(names: explicit, problemType: .singleLabelClassification) }
            let names = labels.compactMap { if case .text(let t) = $0 { return t } else { return nil } }
            if names.isEmpty {
                // Integer ids: as many labels as the config has, or as the largest id needs.
                let largest = labels.compactMap { if case .number(let x) = $0 { return Int(x) } else { return nil } }.max() ?? 1
                let count = max(largest + 1, configNamed ? config.numLabels : 2)
                let named = configNamed && config.numLabels >= count
                return LabelSet(names: named ? config.id2label : (0..<count).map { "LABEL_\($0)" }, problemType: .singleLabelClassification)
            }
            if configNamed && Set(names).isSubset(of: Set(config.id2label)) {
                return LabelSet(names: config.id2label, problemType: .singleLabelClassification)
            }
            return LabelSet(names: Array(Set(names)).sorted(), problemType: .singleLabelClassification)
        }
    }

    /// The class index of a single-label example (a name from the set, or an integer id below the count).
    package func classIndex(_ label: RawLabel, line: Int) throws(DatasetError) -> Int {
        switch label {
        case .text(let name):
            if let index = names.firstIndex(of: name) { return index }
            if let id = Int(name), id >= 0, id < count { return id }
            throw .unknownLabel(line: line, label: name, known: names)
        case .number(let value):
            guard value == value.rounded(), value >= 0, Int(value) < count else {
                throw .unknownLabel(line: line, label: "\(value)", known: names.indices.map(String.init))
            }
            return Int(value)
        case .list:
            throw .unknownLabel(line: line, label: "a list", known: names)
        }
    }

    /// The float targets of a regression or multi-label example (count values).
    package func targets(_ label: RawLabel, line: Int) throws(DatasetError) -> [Float] {
        switch label {
        case .number(let value) where count == 1: return [Float(value)]
        case .list(let values) where values.count == count: return values.map(Float.init)
        case .text(let text):
            if problemType == .multiLabelClassification {
                // Multi-label as names: "a|b" or "a,b".
                let parts = text.split(whereSeparator: { $0 == "|" || $0 == "," }).map { String($0).trimmingCharacters(in: " ") }
                var result = [Float](repeating: 0, count: count)
                for part in parts where !part.isEmpty {
                    guard let index = names.firstIndex(of: part) else { throw .unknownLabel(line: line, label: part, known: names) }
                    result[index] = 1
                }
                return result
            }
            if count == 1, let value = Double(text) { return [Float(value)] }
            throw .unknownLabel(line: line, label: text, known: names)
        default:
            throw .unknownLabel(line: line, label: "\(label)", known: ["\(count) values"])
        }
    }
}
