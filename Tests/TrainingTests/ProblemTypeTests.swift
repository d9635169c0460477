// The problem type as transformers 5.24 chooses it (BertForSequenceClassification.forward): the config's
// `problem_type` when set; otherwise num_labels 1 → regression, integer labels → single-label
// classification, anything else → multi-label. `--problem-type` comes above both.

import Testing
import TensorCore
import Bert
import Training

func config(_ json: String) throws -> BertConfig { try BertConfig(json: JSONReader.parse(json)) }

func rows(_ labels: [RawLabel]) -> [TextExample] {
    labels.enumerated().map { TextExample(text: "example \($0)", label: $1, line: $0 + 2) }
}

@Suite struct ProblemTypeTests {
    @Test func theConfigsRegressionWinsOverIntegerTargets() throws {
        let base = try config(#"{"problem_type": "regression"}"#)
        let examples = rows([.number(0), .number(3), .number(1), .number(2)])
        let labels = try LabelSet.resolve(examples: examples, config: base, explicit: nil, problemType: nil)
        #expect(labels.problemType == .regression && labels.count == 1)
        #expect(try examples.map { try labels.targets($0.label!, line: $0.line) } == [[0], [3], [1], [2]])
        // Without problem_type the same integers are class ids.
        let inferred = try LabelSet.resolve(examples: examples, config: BertConfig(), explicit: nil, problemType: nil)
        #expect(inferred.problemType == .singleLabelClassification && inferred.count == 4)
    }

    @Test func theConfigsMultiLabelWinsOverNameLabels() throws {
        let base = try config(#"{"problem_type": "multi_label_classification", "id2label": {"0": "a", "1": "b", "2": "c"}}"#)
        let examples = rows([.text("a|c"), .text("b")])
        let labels = try LabelSet.resolve(examples: examples, config: base, explicit: nil, problemType: nil)
        #expect(labels == LabelSet(names: ["a", "b", "c"], problemType: .multiLabelClassification))
        #expect(try examples.map { try labels.targets($0.label!, line: $0.line) } == [[1, 0, 1], [0, 1, 0]])
    }

    @Test func problemTypeOptionWinsOverTheConfig() throws {
        let base = try config(#"{"problem_type": "regression"}"#)
        let labels = try LabelSet.resolve(examples: rows([.number(0), .number(1)]), config: base, explicit: nil,
                                          problemType: .singleLabelClassification)
        #expect(labels.problemType == .singleLabelClassification && labels.count == 2)
    }

    @Test func withoutProblemTypeTransformersRuleDecides() throws {
        let unnamed = BertConfig()
        func resolved(_ labels: [RawLabel], _ config: BertConfig = BertConfig(), explicit: [String]? = nil) throws -> LabelSet {
            try LabelSet.resolve(examples: rows(labels), config: config, explicit: explicit, problemType: nil)
        }
        #expect(try resolved([.number(0), .number(2)]).problemType == .singleLabelClassification)
        #expect(try resolved([.text("pos"), .text("neg")]).problemType == .singleLabelClassification)
        // A scalar fraction is one value per example: num_labels 1.
        #expect(try resolved([.number(0.5), .number(2)]) == LabelSet(names: ["LABEL_0"], problemType: .regression))
        #expect(try resolved([.list([0, 1, 1]), .list([1, 0, 0])]) == LabelSet(names: ["LABEL_0", "LABEL_1", "LABEL_2"],
                                                                                problemType: .multiLabelClassification))
        #expect(try resolved([.list([0.5]), .list([1])]).problemType == .regression)
        // num_labels 1 from the config's own (named) label, or from --labels: regression.
        var oneLabel = unnamed
        oneLabel.id2label = ["score"]
        #expect(try resolved([.number(0), .number(4)], oneLabel) == LabelSet(names: ["score"], problemType: .regression))
        #expect(try resolved([.number(0), .number(4)], explicit: ["score"]).problemType == .regression)
        // The rule itself, as `bertkit evaluate` applies it to a model's num_labels.
        #expect(LabelSet.inferredProblemType(numLabels: 1, labels: [.number(1), .number(0)]) == .regression)
        #expect(LabelSet.inferredProblemType(numLabels: 3, labels: [.number(1), .number(0)]) == .singleLabelClassification)
        #expect(LabelSet.inferredProblemType(numLabels: 3, labels: [.number(0.5)]) == .multiLabelClassification)
        #expect(LabelSet.inferredProblemType(numLabels: 2, labels: [.list([0, 1])]) == .multiLabelClassification)
    }
}
