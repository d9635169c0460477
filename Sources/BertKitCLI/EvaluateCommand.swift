// `bertkit evaluate`: loss, accuracy, macro-F1 and the confusion matrix of a classifier on labelled data.

import ArgumentParser
import BertKitInternals
import Foundation

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "evaluate",
                                                    abstract: "Evaluate a sequence classifier or a token classifier (NER) on labelled data.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var precisionOptions: InferenceOptions
    @Option(help: "Labelled data: .csv, .tsv or .jsonl (sequence classification); CoNLL columns or .jsonl (token classification).")
    var data: String
    @Option(help: "Tokens per example (default 128, question answering 384; long sentences and contexts are windowed).") var maxLength: Int?
    @Option(help: "Examples per batch.") var batchSize = 32
    @Option(help: "Text column (token classification, JSONL: the words field; default tokens).") var textColumn: String?
    @Option(help: "Second text column, for pairs.") var pairColumn: String?
    @Option(help: "Label column (token classification: the tags field, default ner_tags; in CoNLL files a 1-based column, default the last).")
    var labelColumn: String?
    @Option(help: "Token classification: seqeval's default (conlleval) chunking, or strict IOB2.") var metricMode: SeqEval.Mode = .default
    @OptionGroup var questionAnswering: QuestionAnsweringOptions
    @OptionGroup var maskedLM: MaskedLMOptions
    @Option(help: "Masked LM: the seed of the (fixed) evaluation masks.") var seed: UInt64 = 42
    @Option(help: "Question answering: write predictions.json, nbest_predictions.json (and null_odds.json for SQuAD 2.0) into this folder.")
    var output: String?
    @Flag(help: "Print one JSON object (sequence classification: loss, accuracy, f1, n, confusion, labels; token classification: precision, recall, f1, accuracy, n, per_type).")
    var json = false

    func run() throws {
        let loaded = try modelOptions.loadInternal(quiet: json, precision: precisionOptions.precision)
        var settings = EvaluationSettings(data: data)
        settings.maxLength = maxLength ?? (loaded.model.head == .questionAnswering ? 384 : 128)
        questionAnswering.apply(to: &settings.taskOptions)
        maskedLM.apply(to: &settings.taskOptions)
        settings.batchSize = batchSize
        settings.taskOptions.columns = ColumnNames(text: textColumn ?? "text", pair: pairColumn, label: labelColumn ?? "label")
        settings.taskOptions.taggedColumns = TaggedColumns(words: textColumn ?? "tokens",
                                                           tags: labelColumn ?? (TaggedSentences.isJSONLines(data) ? "ner_tags" : ""))
        settings.taskOptions.metricMode = metricMode
        settings.seed = seed
        let report = try EvaluationJob.run(loaded, settings)
        for note in report.notes where !json { Console.info("note: " + note) }
        switch report.task {
        case .sequenceClassification: printClassification(report)
        case .tokenClassification: printEntities(report)
        case .questionAnswering: try printAnswers(report)
        case .maskedLM: printMaskedLM(report)
        }
    }

    private func printClassification(_ report: EvaluationReport) {
        let result = report.result, labels = report.labels
        // Plain locals: Swift 6.3's optimiser crashes on optional chains through `result` here.
        let accuracy: Double? = result.accuracy, f1: Double? = result.f1
        let confusion: [[Int]]? = result.metrics?.confusion
        if json {
            var object = JSONObject([("loss", .double(result.loss)), ("n", .int(result.count))])
            object.set("accuracy", accuracy.map { .double($0) } ?? .null)
            object.set("f1", f1.map { .double($0) } ?? .null)
            if let confusion {
                object.set("labels", .array(labels.names.map { .string($0) }))
                object.set("confusion", .array(confusion.map { .array($0.map { .int($0) }) }))
            }
            Console.out(JSONWriter.pretty(.object(object), sortKeys: false, ensureASCII: false))
            return
        }
        Console.out("examples: \(result.count)")
        Console.out(String(format: "loss: %.4f", result.loss))
        if let accuracy { Console.out(String(format: "accuracy: %.4f", accuracy)) }
        if let f1 { Console.out(String(format: "macro-F1: %.4f", f1)) }
        if let confusion {
            Console.out("confusion matrix (rows: truth, columns: prediction):")
            var rows = [[""] + labels.names]
            for (i, name) in labels.names.enumerated() { rows.append([name] + confusion[i].map(String.init)) }
            Console.out(Console.table(rows, rightAligned: Set(1...labels.count)))
        }
    }

    /// seqeval's numbers, as run_ner.py reports them, and its per-type report.
    private func printEntities(_ report: EvaluationReport) {
        let metrics = report.result.task
        if json {
            var perType = JSONObject()
            for score in metrics.perType {
                perType.set(score.type, .object(JSONObject([("precision", .double(score.precision)), ("recall", .double(score.recall)),
                                                            ("f1", .double(score.f1)), ("support", .int(score.support))])))
            }
            let object = JSONObject([("precision", .double(metrics.precision ?? 0)), ("recall", .double(metrics.recall ?? 0)),
                                     ("f1", .double(metrics.f1 ?? 0)), ("accuracy", .double(metrics.accuracy ?? 0)),
                                     ("loss", .double(report.result.loss)), ("n", .int(report.count)), ("per_type", .object(perType))])
            Console.out(JSONWriter.pretty(.object(object), sortKeys: false, ensureASCII: false))
            return
        }
        Console.out("sentences: \(report.count)")
        Console.out(String(format: "loss: %.4f", report.result.loss))
        Console.out(String(format: "precision: %.4f  recall: %.4f  f1: %.4f  (entities, seqeval %@ mode)", metrics.precision ?? 0,
                           metrics.recall ?? 0, metrics.f1 ?? 0, metricMode.rawValue))
        Console.out(String(format: "token accuracy: %.4f", metrics.accuracy ?? 0))
        var rows = [["type", "precision", "recall", "f1", "support"]]
        for s in metrics.perType {
            rows.append([s.type, String(format: "%.4f", s.precision), String(format: "%.4f", s.recall), String(format: "%.4f", s.f1), String(s.support)])
        }
        Console.out(Console.table(rows, rightAligned: [1, 2, 3, 4]))
    }
}

extension EvaluateCommand {
    /// The squad / squad_v2 metrics' numbers; the prediction files when asked for.
    func printAnswers(_ report: EvaluationReport) throws {
        guard let qa = report.questionAnswering else { throw ExitCode.failure }
        if let output { try QAPredictionFiles.write(qa.predictions, to: output) }
        let s = qa.scores
        var fields: [(String, JSONValue)] = [("exact_match", .double(s.exactMatch)), ("f1", .double(s.f1)), ("n", .int(s.total))]
        let optional: [(String, Double?)] = [("HasAns_exact", s.hasAnsExact), ("HasAns_f1", s.hasAnsF1), ("NoAns_exact", s.noAnsExact),
                                             ("NoAns_f1", s.noAnsF1), ("best_exact", s.bestExact), ("best_exact_thresh", s.bestExactThreshold),
                                             ("best_f1", s.bestF1), ("best_f1_thresh", s.bestF1Threshold)]
        for (key, value) in optional { if let value { fields.append((key, .double(value))) } }
        if let n = s.hasAnsTotal { fields.append(("HasAns_total", .int(n))) }
        if let n = s.noAnsTotal { fields.append(("NoAns_total", .int(n))) }
        fields.append(("loss", .double(report.result.loss)))
        if json {
            Console.out(JSONWriter.pretty(.object(JSONObject(fields)), sortKeys: false, ensureASCII: false))
            return
        }
        Console.out("questions: \(s.total)")
        Console.out(String(format: "exact match: %.2f  F1: %.2f", s.exactMatch, s.f1))
        if let e = s.hasAnsExact, let f = s.hasAnsF1 { Console.out(String(format: "with an answer (%d): exact %.2f  F1 %.2f", s.hasAnsTotal ?? 0, e, f)) }
        if let e = s.noAnsExact, let f = s.noAnsF1 { Console.out(String(format: "without one (%d): exact %.2f  F1 %.2f", s.noAnsTotal ?? 0, e, f)) }
        if let e = s.bestExact, let t = s.bestExactThreshold, let f = s.bestF1, let u = s.bestF1Threshold {
            Console.out(String(format: "best exact %.2f at null odds %.4f, best F1 %.2f at %.4f", e, t, f, u))
        }
        if let output { Console.info("wrote \(output): predictions.json, nbest_predictions.json" + (qa.predictions.nullOdds.isEmpty ? "" : ", null_odds.json")) }
    }
}

extension EvaluateCommand {
    /// Masked LM: loss over the masked tokens (one fixed set of masks), perplexity exp(loss), masked-token accuracy.
    func printMaskedLM(_ report: EvaluationReport) {
        let loss = report.result.loss, perplexity = Foundation.exp(loss), accuracy = report.result.accuracy ?? 0
        if json {
            Console.out(JSONWriter.pretty(.object(JSONObject([("loss", .double(loss)), ("perplexity", .double(perplexity)),
                                                              ("accuracy", .double(accuracy)), ("n", .int(report.result.count))])),
                                          sortKeys: false, ensureASCII: false))
            return
        }
        Console.out("blocks: \(report.result.count) (from \(report.count) lines)")
        Console.out(String(format: "loss: %.4f  perplexity: %.3f  masked-token accuracy: %.4f", loss, perplexity, accuracy))
    }
}

extension SeqEval.Mode: ExpressibleByArgument {}
