// `bertkit evaluate`: loss, accuracy, macro-F1 and the confusion matrix of a classifier on labelled data.

import ArgumentParser
import BertKit
import Foundation
import TensorCore   // printing only: JSONWriter

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
    @Option(help: "Token classification: seqeval's default (conlleval) chunking, or strict IOB2.") var metricMode: EntityScoringMode = .default
    @OptionGroup var questionAnswering: QuestionAnsweringOptions
    @OptionGroup var maskedLM: MaskedLMOptions
    @Option(help: "Masked LM: the seed of the (fixed) evaluation masks.") var seed: UInt64 = 42
    @Option(help: "Question answering: write predictions.json, nbest_predictions.json (and null_odds.json for SQuAD 2.0) into this folder.")
    var output: String?
    @Flag(help: "Print one JSON object (sequence classification: loss, accuracy, f1, n, confusion, labels; token classification: precision, recall, f1, accuracy, n, per_type).")
    var json = false

    func run() throws {
        let model = try modelOptions.load(quiet: json, precision: precisionOptions.precision)
        var options = EvaluationOptions()
        options.maxLength = maxLength
        options.batchSize = batchSize
        options.data.textColumn = textColumn
        options.data.pairColumn = pairColumn
        options.data.labelColumn = labelColumn
        options.data.strictEntityScoring = metricMode == .strict
        questionAnswering.apply(to: &options.data)
        maskedLM.apply(to: &options.data)
        options.seed = seed
        options.predictionsDirectory = output
        let report = try model.evaluate(data, options: options)
        for note in report.notes where !json { Console.info("note: " + note) }
        if let classification = report.classification { printClassification(report, classification) }
        if let entities = report.entities { printEntities(report, entities) }
        if let answers = report.questionAnswering { printAnswers(report, answers) }
        if let maskedLM = report.maskedLM { printMaskedLM(report, maskedLM) }
    }

    private func printClassification(_ report: EvaluationReport, _ scores: EvaluationReport.Classification) {
        let accuracy = scores.accuracy, f1 = scores.macroF1, confusion = scores.confusion, labels = scores.labels
        if json {
            var object = JSONObject([("loss", .double(report.loss)), ("n", .int(report.count))])
            object.set("accuracy", accuracy.map { .double($0) } ?? .null)
            object.set("f1", f1.map { .double($0) } ?? .null)
            if let confusion {
                object.set("labels", .array(labels.map { .string($0) }))
                object.set("confusion", .array(confusion.map { .array($0.map { .int($0) }) }))
            }
            Console.out(JSONWriter.pretty(.object(object), sortKeys: false, ensureASCII: false))
            return
        }
        Console.out("examples: \(report.count)")
        Console.out(String(format: "loss: %.4f", report.loss))
        if let accuracy { Console.out(String(format: "accuracy: %.4f", accuracy)) }
        if let f1 { Console.out(String(format: "macro-F1: %.4f", f1)) }
        if let confusion {
            Console.out("confusion matrix (rows: truth, columns: prediction):")
            var rows = [[""] + labels]
            for (i, name) in labels.enumerated() { rows.append([name] + confusion[i].map(String.init)) }
            Console.out(Console.table(rows, rightAligned: Set(1...labels.count)))
        }
    }

    /// seqeval's numbers, as run_ner.py reports them, and its per-type report.
    private func printEntities(_ report: EvaluationReport, _ metrics: EvaluationReport.Entities) {
        if json {
            var perType = JSONObject()
            for score in metrics.perType {
                perType.set(score.type, .object(JSONObject([("precision", .double(score.precision)), ("recall", .double(score.recall)),
                                                            ("f1", .double(score.f1)), ("support", .int(score.support))])))
            }
            let object = JSONObject([("precision", .double(metrics.precision)), ("recall", .double(metrics.recall)),
                                     ("f1", .double(metrics.f1)), ("accuracy", .double(metrics.tokenAccuracy)),
                                     ("loss", .double(report.loss)), ("n", .int(report.count)), ("per_type", .object(perType))])
            Console.out(JSONWriter.pretty(.object(object), sortKeys: false, ensureASCII: false))
            return
        }
        Console.out("sentences: \(report.count)")
        Console.out(String(format: "loss: %.4f", report.loss))
        Console.out(String(format: "precision: %.4f  recall: %.4f  f1: %.4f  (entities, seqeval %@ mode)", metrics.precision,
                           metrics.recall, metrics.f1, metricMode.rawValue))
        Console.out(String(format: "token accuracy: %.4f", metrics.tokenAccuracy))
        var rows = [["type", "precision", "recall", "f1", "support"]]
        for s in metrics.perType {
            rows.append([s.type, String(format: "%.4f", s.precision), String(format: "%.4f", s.recall), String(format: "%.4f", s.f1), String(s.support)])
        }
        Console.out(Console.table(rows, rightAligned: [1, 2, 3, 4]))
    }
}

extension EvaluateCommand {
    /// The squad / squad_v2 metrics' numbers; the prediction files when asked for.
    func printAnswers(_ report: EvaluationReport, _ s: EvaluationReport.QuestionAnswering) {
        var fields: [(String, JSONValue)] = [("exact_match", .double(s.exactMatch)), ("f1", .double(s.f1)), ("n", .int(s.total))]
        let optional: [(String, Double?)] = [("HasAns_exact", s.hasAnswerExact), ("HasAns_f1", s.hasAnswerF1), ("NoAns_exact", s.noAnswerExact),
                                             ("NoAns_f1", s.noAnswerF1), ("best_exact", s.bestExact), ("best_exact_thresh", s.bestExactThreshold),
                                             ("best_f1", s.bestF1), ("best_f1_thresh", s.bestF1Threshold)]
        for (key, value) in optional { if let value { fields.append((key, .double(value))) } }
        if let n = s.hasAnswerTotal { fields.append(("HasAns_total", .int(n))) }
        if let n = s.noAnswerTotal { fields.append(("NoAns_total", .int(n))) }
        fields.append(("loss", .double(report.loss)))
        if json {
            Console.out(JSONWriter.pretty(.object(JSONObject(fields)), sortKeys: false, ensureASCII: false))
            return
        }
        Console.out("questions: \(s.total)")
        Console.out(String(format: "exact match: %.2f  F1: %.2f", s.exactMatch, s.f1))
        if let e = s.hasAnswerExact, let f = s.hasAnswerF1 { Console.out(String(format: "with an answer (%d): exact %.2f  F1 %.2f", s.hasAnswerTotal ?? 0, e, f)) }
        if let e = s.noAnswerExact, let f = s.noAnswerF1 { Console.out(String(format: "without one (%d): exact %.2f  F1 %.2f", s.noAnswerTotal ?? 0, e, f)) }
        if let e = s.bestExact, let t = s.bestExactThreshold, let f = s.bestF1, let u = s.bestF1Threshold {
            Console.out(String(format: "best exact %.2f at null odds %.4f, best F1 %.2f at %.4f", e, t, f, u))
        }
        if let output, !s.predictionFiles.isEmpty { Console.info("wrote \(output): " + s.predictionFiles.joined(separator: ", ")) }
    }
}

extension EvaluateCommand {
    /// Masked LM: loss over the masked tokens (one fixed set of masks), perplexity exp(loss), masked-token accuracy.
    func printMaskedLM(_ report: EvaluationReport, _ scores: EvaluationReport.MaskedLM) {
        let loss = report.loss, perplexity = scores.perplexity, accuracy = scores.accuracy
        if json {
            Console.out(JSONWriter.pretty(.object(JSONObject([("loss", .double(loss)), ("perplexity", .double(perplexity)),
                                                              ("accuracy", .double(accuracy)), ("n", .int(report.count))])),
                                          sortKeys: false, ensureASCII: false))
            return
        }
        Console.out("blocks: \(report.count) (from \(report.sourceCount) lines)")
        Console.out(String(format: "loss: %.4f  perplexity: %.3f  masked-token accuracy: %.4f", loss, perplexity, accuracy))
    }
}

/// `--metric-mode`: seqeval's default (conlleval) chunking, or strict IOB2.
enum EntityScoringMode: String, CaseIterable, ExpressibleByArgument { case `default`, strict }
