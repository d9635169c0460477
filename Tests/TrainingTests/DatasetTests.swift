// The dataset reader (TSV, pair columns, labels as ids), the seeded sample behind --max-train-examples,
// and the evaluation metrics against reference values (Fixtures/metrics, made by
// Tools/fixtures/make_metrics_fixtures.py).

import Testing
import Foundation
import TensorCore
import Bert
import Training
import TestSupport

func writeText(_ text: String, to path: String) throws { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) }

@Suite struct DatasetTests {
    @Test func tsvWithAPairColumnAndLabelIds() throws {
        let folder = TemporaryDirectory(), path = folder.file("train.tsv")
        // Quoted fields may hold tabs, quotes and newlines; columns in any order; a blank line is skipped.
        try writeText("label\tsentence1\tsentence2\n"
                      + "2\tA man plays a guitar.\tSomeone makes music.\n"
                      + "0\t\"Quoted\twith a tab, a \"\"quote\"\"\nand a newline\"\tsecond text\n"
                      + "\n"
                      + "1\tThird.\tthird pair\n", to: path)
        let examples = try DatasetReader.read(path: path, columns: ColumnNames(text: "sentence1", pair: "sentence2", label: "label"))
        #expect(examples.map(\.text) == ["A man plays a guitar.", "Quoted\twith a tab, a \"quote\"\nand a newline", "Third."])
        #expect(examples.map(\.pair) == ["Someone makes music.", "second text", "third pair"])
        #expect(examples.map(\.label) == [.number(2), .number(0), .number(1)])
        #expect(examples.map(\.line) == [2, 3, 6])
        // Ids with a config that does not name its labels: LABEL_0 … LABEL_<largest id>, the id is the class.
        let labels = try LabelSet.resolve(examples: examples, config: BertConfig(), explicit: nil, problemType: nil)
        #expect(labels == LabelSet(names: ["LABEL_0", "LABEL_1", "LABEL_2"], problemType: .singleLabelClassification))
        #expect(try examples.map { try labels.classIndex($0.label!, line: $0.line) } == [2, 0, 1])
        // …and with a config that names them, the names are the config's and the ids index them.
        var named = BertConfig()
        named.id2label = ["negative", "neutral", "positive"]
        let namedLabels = try LabelSet.resolve(examples: examples, config: named, explicit: nil, problemType: nil)
        #expect(namedLabels.names == named.id2label)
        #expect(try examples.map { try namedLabels.classIndex($0.label!, line: $0.line) } == [2, 0, 1])
        // An id beyond the label set is an error naming the line.
        #expect(throws: DatasetError.self) { try labels.classIndex(.number(3), line: 9) }
        do { _ = try labels.classIndex(.number(3), line: 9) } catch { #expect("\(error)".hasPrefix("line 9: unknown label '3.0'")) }
    }

    @Test func aMissingPairColumnIsAnErrorNamingTheHeaderLine() throws {
        let folder = TemporaryDirectory(), path = folder.file("train.tsv")
        try writeText("text\tlabel\nhello\t1\n", to: path)
        do {
            _ = try DatasetReader.read(path: path, columns: ColumnNames(pair: "text_pair"))
            Issue.record("no error")
        } catch {
            #expect("\(error)".contains("train.tsv") && "\(error)".contains("line 1: no column 'text_pair' (columns: text, label)"), "\(error)")
        }
    }

    @Test func jsonlPairsWithIdAndNameLabels() throws {
        let folder = TemporaryDirectory(), path = folder.file("train.jsonl")
        try writeText(#"{"text": "first", "text_pair": "a", "label": 1}"# + "\n"
                      + #"{"label": "2", "text_pair": "b", "text": "second"}"# + "\n", to: path)
        let examples = try DatasetReader.read(path: path, columns: ColumnNames(pair: "text_pair"))
        #expect(examples.map(\.pair) == ["a", "b"] && examples.map(\.label) == [.number(1), .text("2")])
        // "2" is not a name in the set, so it is taken as an id.
        let labels = LabelSet(names: ["x", "y", "z"], problemType: .singleLabelClassification)
        #expect(try examples.map { try labels.classIndex($0.label!, line: $0.line) } == [1, 2])
    }

    @Test func maxTrainExamplesTakesASeededRandomSample() throws {
        let folder = TemporaryDirectory(), path = folder.file("train.csv")
        try writeText("text,label\n" + (0..<100).map { "example \($0),\($0 % 2)\n" }.joined(), to: path)
        let rows = try DatasetReader.read(path: path)
        let sample = Shuffle.sample(rows, 10, seed: 42)
        #expect(sample.count == 10 && Set(sample.map(\.line)).count == 10)
        #expect(sample.allSatisfy { rows.contains($0) })
        #expect(sample.map(\.line) == sample.map(\.line).sorted(), "kept in file order")
        #expect(sample != Array(rows.prefix(10)), "not the first 10 lines")
        #expect(Shuffle.sample(rows, 10, seed: 42) == sample, "same seed, same sample")
        #expect(Shuffle.sample(rows, 10, seed: 43) != sample, "another seed, another sample")
        #expect(Shuffle.sample(rows, 100, seed: 42) == rows && Shuffle.sample(rows, 500, seed: 42) == rows)
        // Every line is about as likely to be drawn (10% each) over 400 seeds.
        var counts = [Int](repeating: 0, count: 100)
        for seed in 0..<400 { for row in Shuffle.sample(rows, 10, seed: UInt64(seed)) { counts[row.line - 2] += 1 } }
        #expect(counts.min()! >= 15 && counts.max()! <= 70, "draws per line: \(counts.min()!)…\(counts.max()!), expected about 40")
        #expect(counts[..<10].reduce(0, +) < 2 * 400, "the first ten lines are not favoured")
    }

    @Test func accuracyMacroF1AndConfusionMatchTheReferenceDefinitions() throws {
        let cases = try Fixtures.json("metrics/cases.json") as! [[String: Any]]
        #expect(cases.count >= 5)
        for c in cases {
            let name = c["name"] as! String
            let metrics = ClassificationMetrics(truth: c["truth"] as! [Int], predicted: c["predicted"] as! [Int], classes: c["classes"] as! Int)
            #expect(abs(metrics.accuracy - (c["accuracy"] as! Double)) < 1e-12, "\(name): accuracy \(metrics.accuracy)")
            #expect(abs(metrics.macroF1 - (c["macro_f1"] as! Double)) < 1e-12, "\(name): macro-F1 \(metrics.macroF1) vs \(c["macro_f1"]!)")
            #expect(metrics.confusion == c["confusion"] as! [[Int]], "\(name): confusion")
        }
    }
}
