// Sequence classification (sentiment, topics, pairs such as NLI): CSV, TSV or JSONL with a text column (and a
// pair column) and a label column; single-label, multi-label or regression as transformers' BertForSequenceClassification
// decides (LabelSet). Its batches and metrics are the head's own (`HeadTask`).

import TensorCore
import Tokenizer
import Bert
import Training

package struct SequenceClassificationTask: FineTuningTask {
    package var columns: ColumnNames
    /// `--problem-type`, above what the config and the labels say.
    package var problemType: ProblemType?

    package init(columns: ColumnNames = ColumnNames(), problemType: ProblemType? = nil) {
        self.columns = columns
        self.problemType = problemType
    }

    package var head: BertHead { .sequenceClassification }

    package func read(_ path: String) throws -> [TextExample] {
        try DatasetReader.read(path: path, columns: columns)
    }

    package func labels(train: [TextExample], file: String, config: BertConfig, explicit: [String]?) throws -> LabelSet {
        try withFileContext(file) { try LabelSet.resolve(examples: train, config: config, explicit: explicit, problemType: problemType) }
    }

    package func encode(_ rows: [TextExample], file: String, labels: LabelSet, tokenizer: any TextTokenizer, maxLength: Int) throws -> EncodedData {
        let options = EncodeOptions(truncation: Truncation(maxLength: maxLength))
        var examples: [EncodedExample] = []
        examples.reserveCapacity(rows.count)
        for row in rows {
            let encoding = try withFileContext(file) {
                do { return try tokenizer.encode(row.text, pair: row.pair, options: options) }
                catch { throw DatasetError.badCSV(line: row.line, reason: "\(error)") }
            }
            let target: TrainingTarget
            guard let raw = row.label else { throw FileError(path: file, cause: DatasetError.missingField(line: row.line, column: "label")) }
            switch labels.problemType {
            case .singleLabelClassification:
                target = .classIndex(try withFileContext(file) { try labels.classIndex(raw, line: row.line) })
            case .regression, .multiLabelClassification:
                target = .values(try withFileContext(file) { try labels.targets(raw, line: row.line) })
            }
            examples.append(EncodedExample(ids: encoding.ids, typeIds: encoding.typeIDs, target: target, line: row.line))
        }
        return EncodedData(examples: examples, sourceCount: rows.count)
    }

    package func training(labels: LabelSet, train: EncodedData, eval: EncodedData?) -> any TrainingTask {
        HeadTask(head: .sequenceClassification, problemType: labels.problemType)
    }

    package func configure(_ config: inout BertConfig, labels: LabelSet) {
        config.id2label = labels.names
        config.problemType = labels.problemType
    }
}
