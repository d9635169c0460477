// `bertkit predict`, `embed` and `fill-mask`: text in, the head's answer out.

import ArgumentParser
import BertKit
import Foundation

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "predict", abstract: "Classify texts with a sequence-classification model.")

    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "Print {\"predictions\": [{text, label, probabilities, logits}]}.") var json = false
    @Option(help: "Truncate texts to this many tokens (default: the tokenizer's limit).") var maxLength: Int?
    @Option(help: "Read texts from a file, one per line (in addition to the arguments).") var file: String?
    @Argument(help: "Texts to classify.") var texts: [String] = []

    func run() throws {
        let loaded = try modelOptions.load(quiet: json)
        let inference = TextInference(model: loaded.model, tokenizer: try loaded.tokenizer(), adapters: loaded.adapters, maxLength: maxLength)
        let all = texts + (try file.map(readLines) ?? [])
        let predictions = try inference.predict(all)
        if json {
            let items: [JSONValue] = predictions.map { p in
                .object(JSONObject([("text", .string(p.text)), ("label", .string(p.label)),
                                    ("probabilities", .object(JSONObject(p.probabilities.map { ($0.label, .double($0.probability)) }))),
                                    ("logits", .array(p.logits.map { .double(Double($0)) }))]))
            }
            Console.out(JSONWriter.pretty(.object(JSONObject([("predictions", .array(items))])), sortKeys: false, ensureASCII: false))
        } else {
            for p in predictions {
                let probability = p.probabilities.first { $0.label == p.label }?.probability ?? 0
                Console.out("\(p.label)\t\(String(format: "%.4f", probability))\t\(p.text)")
            }
        }
    }
}

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "embed", abstract: "Sentence embeddings from the encoder.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "cls (the [CLS] hidden state), mean (mean over real tokens, as sentence-transformers) or pooler.") var pooling: String = "cls"
    @Flag(help: "L2-normalise each vector.") var normalize = false
    @Flag(help: "Print {\"embeddings\": [[...], ...]}.") var json = false
    @Option(help: "Truncate texts to this many tokens.") var maxLength: Int?
    @Argument(help: "Texts to embed.") var texts: [String] = []

    func validate() throws {
        guard PoolingMode(rawValue: pooling) != nil else { throw ValidationError("--pooling must be cls, mean or pooler, not '\(pooling)'") }
    }

    func run() throws {
        let loaded = try modelOptions.load(quiet: json)
        let inference = TextInference(model: loaded.model, tokenizer: try loaded.tokenizer(), adapters: loaded.adapters, maxLength: maxLength)
        let vectors = try inference.embed(texts, pooling: PoolingMode(rawValue: pooling)!, normalize: normalize)
        if json {
            Console.out(JSONWriter.compact(.object(JSONObject([("pooling", .string(pooling)),
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
    @Option(help: "How many candidates per mask.") var topK = 5
    @Flag(help: "Print JSON.") var json = false
    @Argument(help: "A text containing [MASK].") var text: String

    func validate() throws { if topK < 1 { throw ValidationError("--top-k must be at least 1") } }

    func run() throws {
        let loaded = try modelOptions.load(quiet: json)
        let inference = TextInference(model: loaded.model, tokenizer: try loaded.tokenizer(), adapters: loaded.adapters)
        let masks = try inference.fillMask(text, topK: topK)
        if json {
            Console.out(JSONWriter.pretty(.object(JSONObject([("masks", .array(masks.map { candidates in
                .array(candidates.map { .object(JSONObject([("token", .string($0.token)), ("id", .int($0.id)),
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

/// Lines of a text file (empty lines skipped).
func readLines(_ path: String) throws -> [String] {
    let bytes = try withFileContext(path) { try readFileBytes(path) }
    return String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
}
