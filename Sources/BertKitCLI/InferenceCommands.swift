// `bertkit predict`, `embed` and `fill-mask`: text in, the head's answer out.

import ArgumentParser
import BertKit
import Foundation
import TensorCore   // printing and argument files only: JSONWriter, TextLines

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "predict",
                                                    abstract: "Classify texts (sequence classification) or tag their entities (token classification).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var precisionOptions: InferenceOptions
    @OptionGroup var batchOptions: BatchOptions
    @Flag(help: "Print {\"predictions\": [{text, label, probabilities, logits}]} (token classification: [{text, entities}]).") var json = false
    @Option(help: "Truncate texts to this many tokens (default: the tokenizer's limit; a token classifier windows longer texts instead).")
    var maxLength: Int?
    @Option(help: "Read texts from a file, one per line (in addition to the arguments).") var file: String?
    @Option(help: "Texts per forward pass (each batch is padded to its longest text).") var batchSize = 32
    @Option(help: "Token classification: none, simple, first, average or max, as transformers' pipeline.") var aggregation: EntityAggregation = .simple
    @Option(help: "Token classification: comma-separated labels to leave out (default O; empty for none).") var ignoreLabels = "O"
    @Argument(help: "Texts to classify.") var texts: [String] = []

    func validate() throws { if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") } }

    func run() throws {
        let model = try modelOptions.load(quiet: json, precision: precisionOptions.precision, batch: batchOptions, maxLength: maxLength,
                                          batchSize: batchSize)
        let all = texts + (try file.map { try TextLines.read($0, skippingEmpty: true) } ?? [])
        if model.info.head == .tokenClassification {
            let ignored = Set(ignoreLabels.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) })
            printEntities(all, try model.tagEntities(all, aggregation: aggregation, ignoring: ignored))
            return
        }
        let predictions = try model.classify(all)
        if json {
            let items: [JSONValue] = predictions.map { p in
                .object(JSONObject([("text", .string(p.text)), ("label", .string(p.label)),
                                    ("probabilities", .object(JSONObject(p.scores.map { ($0.label, .double($0.score)) }))),
                                    ("logits", .array(p.logits.map { .double(Double($0)) }))]))
            }
            Console.out(JSONWriter.pretty(.object(JSONObject([("predictions", .array(items))])), sortKeys: false, ensureASCII: false))
        } else {
            for p in predictions { Console.out("\(p.label)\t\(String(format: "%.4f", p.score))\t\(p.text)") }
        }
    }
}

extension PredictCommand {
    /// The pipeline's dicts (`entity_group` or, with `none`, `entity` and `index`), or a table per text.
    func printEntities(_ texts: [String], _ results: [[Entity]]) {
        if json {
            let items: [JSONValue] = zip(texts, results).map { text, entities in
                .object(JSONObject([("text", .string(text)), ("entities", .array(entities.map { e in
                    var fields: [(String, JSONValue)] = [(aggregation == .none ? "entity" : "entity_group", .string(e.label))]
                    fields.append(("score", .double(Double(e.score))))
                    if let index = e.tokenIndex { fields.append(("index", .int(index))) }
                    fields += [("word", .string(e.word)), ("start", .int(e.start)), ("end", .int(e.end))]
                    return .object(JSONObject(fields))
                }))]))
            }
            Console.out(JSONWriter.pretty(.object(JSONObject([("predictions", .array(items))])), sortKeys: false, ensureASCII: false))
            return
        }
        for (text, entities) in zip(texts, results) {
            Console.out(text)
            var rows = [["entity", "score", "start", "end", "word"]]
            for e in entities { rows.append([e.label, String(format: "%.4f", e.score), String(e.start), String(e.end), e.word]) }
            Console.out(entities.isEmpty ? "  (no entities)" : Console.table(rows, rightAligned: [1, 2, 3]).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        }
    }
}

extension EntityAggregation: ExpressibleByArgument {}
extension Pooling: ExpressibleByArgument {}

/// `bertkit answer`: extractive question answering, as transformers' question-answering pipeline.
struct AnswerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "answer",
                                                    abstract: "Answer questions from a context with a question-answering model.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var precisionOptions: InferenceOptions
    @OptionGroup var batchOptions: BatchOptions
    @Option(help: "The question.") var question: String?
    @Option(help: "The text holding the answer.") var context: String?
    @Option(help: "JSON lines of {\"question\", \"context\"} (instead of --question/--context).") var file: String?
    @Option(help: "Answers per question.") var topK = 1
    @Option(help: "The longest answer, in tokens.") var maxAnswerLength = 15
    @Option(help: "Window length in tokens (default: the tokenizer's limit, at most 384).") var maxLength: Int?
    @Option(help: "Tokens shared by neighbouring windows (default: half the window, at most 128).") var docStride: Int?
    @Flag(help: "Also offer the empty answer, scored by the null score.") var handleImpossibleAnswer = false
    @Flag(help: "Print {\"answers\": [{score, start, end, answer}]} (one list per question with --file).") var json = false

    func validate() throws {
        if file == nil && (question == nil || context == nil) { throw ValidationError("give --question and --context, or --file") }
        if file != nil && (question != nil || context != nil) { throw ValidationError("give either --file or --question/--context") }
        guard topK > 0, maxAnswerLength > 0 else { throw ValidationError("--top-k and --max-answer-length must be positive") }
        if let docStride, docStride < 0 { throw ValidationError("--doc-stride must be at least 0") }
        if let maxLength, let docStride, docStride > maxLength {
            throw ValidationError("--doc-stride (\(docStride)) is larger than --max-length (\(maxLength))")
        }
    }

    func run() throws {
        let model = try modelOptions.load(quiet: json, precision: precisionOptions.precision, batch: batchOptions)
        var options = AnswerOptions()
        options.topK = topK
        options.maxAnswerLength = maxAnswerLength
        options.maxLength = maxLength
        options.docStride = docStride
        options.handleImpossibleAnswer = handleImpossibleAnswer
        let results: [(question: String, answers: [Answer])]
        if let file {
            results = try model.answerQuestions(inFile: file, options: options).map { ($0.question, $0.answers) }
        } else {
            results = [(question!, try answerFromArguments(model, options))]
        }
        func item(_ a: Answer) -> JSONValue {
            .object(JSONObject([("score", .double(a.score)), ("start", .int(a.start)), ("end", .int(a.end)), ("answer", .string(a.text))]))
        }
        if json {
            let value: JSONValue = file == nil ? .object(JSONObject([("answers", .array(results[0].answers.map(item)))]))
                : .object(JSONObject([("answers", .array(results.map { .array($0.answers.map(item)) }))]))
            Console.out(JSONWriter.pretty(value, sortKeys: false, ensureASCII: false))
            return
        }
        for result in results {
            if file != nil { Console.out(result.question) }
            for a in result.answers { Console.out(String(format: "%.4f\t%d\t%d\t", a.score, a.start, a.end) + a.text) }
        }
    }
}

extension AnswerCommand {
    /// --question / --context; a context the options cannot window is named as the input at fault.
    func answerFromArguments(_ model: PretrainedModel, _ options: AnswerOptions) throws(BertKitError) -> [Answer] {
        do {
            return try model.answer(question!, context: context!, options: options)
        } catch .invalidArgument(let message) {
            throw .invalidArgument("--context: " + message)
        }
    }
}

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "embed", abstract: "Sentence embeddings from the encoder.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var precisionOptions: InferenceOptions
    @OptionGroup var batchOptions: BatchOptions
    @Option(help: "cls (the [CLS] hidden state), mean (mean over real tokens, as sentence-transformers) or pooler.") var pooling: Pooling = .cls
    @Flag(help: "L2-normalise each vector.") var normalize = false
    @Flag(help: "Print {\"embeddings\": [[...], ...]}.") var json = false
    @Option(help: "Truncate texts to this many tokens.") var maxLength: Int?
    @Argument(help: "Texts to embed.") var texts: [String] = []

    func run() throws {
        let model = try modelOptions.load(quiet: json, precision: precisionOptions.precision, batch: batchOptions, maxLength: maxLength)
        let vectors = try model.embed(texts, pooling: pooling, normalize: normalize)
        if json {
            Console.out(JSONWriter.compact(.object(JSONObject([("pooling", .string(pooling.rawValue)),
                ("embeddings", .array(vectors.map { .array($0.map { .double(Double($0)) }) }))]))))
        } else {
            for (text, vector) in zip(texts, vectors) {
                Console.out(text + "\t" + vector.map { String(format: "%.6g", $0) }.joined(separator: " "))
            }
        }
    }
}

struct FillMaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fill-mask", abstract: "The most likely tokens for each [MASK] in a text.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var precisionOptions: InferenceOptions
    @OptionGroup var batchOptions: BatchOptions
    @Option(help: "How many candidates per mask.") var topK = 5
    @Flag(help: "Print JSON.") var json = false
    @Argument(help: "A text containing [MASK].") var text: String

    func validate() throws { if topK < 1 { throw ValidationError("--top-k must be at least 1") } }

    func run() throws {
        let model = try modelOptions.load(quiet: json, precision: precisionOptions.precision, batch: batchOptions)
        let masks = try model.fillMask(text, topK: topK)
        if json {
            Console.out(JSONWriter.pretty(.object(JSONObject([("masks", .array(masks.map { candidates in
                .array(candidates.map { .object(JSONObject([("token", .string($0.token)), ("id", .int($0.tokenID)),
                                                           ("score", .double($0.score)), ("sequence", .string($0.sequence))])) })
            }))])), sortKeys: false, ensureASCII: false))
        } else {
            for (index, candidates) in masks.enumerated() {
                if masks.count > 1 { Console.out("[MASK] #\(index + 1)") }
                for c in candidates { Console.out(String(format: "%.4f", c.score) + "\t\(c.token)\t\(c.sequence)") }
            }
        }
    }
}
