// `bertkit tokenize --model DIR [options] -- TEXT...`: encode texts as Hugging Face's tokenizer of the model does
// (BertTokenizer's WordPiece, or RoBERTa's / GPT-2's byte-level BPE; AutoTokenizer picks which).
// Texts come from the arguments or, with --file, one per line; --pair reads them as (first, second)
// pairs. Output: the tokens (default), one JSON document (--json), one JSON object per text
// (--json-lines), or only counts and timing (--summary).

import ArgumentParser
import BertKit
import TensorCore   // reading the text file, printing: TextLines, MonotonicClock, JSONWriter

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize texts with a model directory's tokenizer (WordPiece or byte-level BPE).",
        discussion: """
            Identical to transformers' tokenizer of the model (BertTokenizer, RobertaTokenizer, GPT2Tokenizer): \
            `bertkit tokenize --model DIR --max-length 8 -- "Hello!"` gives the ids of \
            `tokenizer("Hello!", max_length=8)`. Offsets count Unicode scalars (Python str indices).

            With --pair, TEXT arguments are taken two at a time (first, second) and --file lines are \
            `first<TAB>second`.
            """)

    @Option(help: "Model directory with tokenizer.json, vocab.txt or vocab.json + merges.txt (+ tokenizer_config.json).")
    var model: String

    @Option(help: "Read texts from this file, one per line (UTF-8; a trailing \\r is dropped).")
    var file: String?

    @Flag(help: "Encode pairs: TEXT arguments two at a time, or file lines split at the first tab.")
    var pair = false

    @Option(help: "Truncate to this many tokens, special tokens included (transformers' max_length).")
    var maxLength: Int?

    @Option(help: "How to cut pairs to --max-length (default longest_first), or none.")
    var truncation: TruncationChoice?

    @Option(help: "Pad to the longest text (longest) or to --max-length (max_length), on the right.")
    var padding: PaddingChoice?

    @Flag(help: "Do not add [CLS]/[SEP].")
    var noSpecialTokens = false

    @Flag(help: "Print {\"encodings\": [...]}: tokens, input_ids, token_type_ids, attention_mask, offsets, word_ids.")
    var json = false

    @Flag(help: "Print one JSON object per text (the fields of --json), one per line.")
    var jsonLines = false

    @Flag(help: "Print only counts (texts, tokens, lengths, [UNK]s, texts at max length) and the encoding time (with --json: as JSON).")
    var summary = false

    @OptionGroup var threading: ThreadOptions

    @Argument(help: "Texts to tokenize (put them after --).")
    var texts: [String] = []

    func validate() throws {
        if file == nil && texts.isEmpty { throw ValidationError("give texts after --, or --file PATH") }
        if file != nil && !texts.isEmpty { throw ValidationError("give either texts or --file, not both") }
        if pair && file == nil && texts.count % 2 != 0 { throw ValidationError("--pair needs an even number of texts") }
        if jsonLines && (json || summary) { throw ValidationError("--json-lines goes with neither --json nor --summary") }
        if let maxLength, maxLength < 0 { throw ValidationError("--max-length must be at least 0") }
    }

    func run() throws {
        let tokenizer = try TextTokenizer(directory: model)
        let options = try encodeOptions(tokenizer)
        var (firsts, seconds) = (texts, [String]())
        if let file {
            if pair { (firsts, seconds) = try TextLines.readPairs(file) } else { firsts = try TextLines.read(file) }
        }
        else if pair { (firsts, seconds) = (stride(from: 0, to: texts.count, by: 2).map { texts[$0] },
                                            stride(from: 1, to: texts.count, by: 2).map { texts[$0] }) }
        let threadCount = try threading.apply()
        let start = MonotonicClock.seconds()
        let encodings = try tokenizer.encode(firsts, pairs: pair ? seconds : nil, options: options, threads: threadCount)
        let elapsed = MonotonicClock.seconds() - start
        if summary {
            printSummary(encodings.statistics, seconds: elapsed, threads: threadCount)
        } else if json || jsonLines {
            var out = OutputBuffer()
            if json { out.append("{\"encodings\": [\n") }
            for i in encodings.indices {
                out.append(encodings.json(at: i))
                if json && i + 1 < encodings.count { out.append(",") }
                out.append("\n")
                out.flushIfLarge()
            }
            if json { out.append("]}\n") }
            out.flush()
        } else {
            var out = OutputBuffer()
            for encoding in encodings {
                out.append(encoding.tokens.joined(separator: " "))
                out.append("\n")
                out.flushIfLarge()
            }
            out.flush()
        }
    }

    func encodeOptions(_ tokenizer: TextTokenizer) throws -> EncodingOptions {
        var options = EncodingOptions()
        options.addSpecialTokens = !noSpecialTokens
        let strategy = truncation?.strategy
        if truncation != TruncationChoice.none && (maxLength != nil || strategy != nil) {
            guard let length = maxLength ?? tokenizer.maxLength else {
                throw ValidationError("--truncation needs --max-length (the tokenizer states no model_max_length)")
            }
            options.truncation = EncodingOptions.Truncation(maxLength: length, strategy: strategy ?? .longestFirst)
        }
        switch padding {
        case .longest: options.padding = .longest
        case .maxLength:
            guard let length = maxLength ?? tokenizer.maxLength else {
                throw ValidationError("--padding max_length needs --max-length (the tokenizer states no model_max_length)")
            }
            options.padding = .length(length)
        case nil: break
        }
        return options
    }

    private func printSummary(_ stats: TokenStatistics, seconds: Double, threads: Int) {
        let rate = seconds > 0 ? Double(stats.tokens) / seconds : 0
        if json {
            Console.out("{\"texts\": \(stats.texts), \"tokens\": \(stats.tokens), \"max_tokens\": \(stats.maxTokens), "
                        + "\"mean_tokens\": \(JSONWriter.formatDouble((stats.meanTokens * 100).rounded() / 100)), \"unknown\": \(stats.unknown), "
                        + "\"at_max_length\": \(stats.atMaxLength), \"seconds\": \(JSONWriter.formatDouble(seconds)), \"threads\": \(threads)}")
        } else {
            Console.out("texts: \(stats.texts), tokens: \(stats.tokens) (mean \(Format.oneDecimal(stats.meanTokens)), max \(stats.maxTokens)), "
                        + "[UNK]: \(stats.unknown)" + (stats.maxLength.map { ", at max length \($0): \(stats.atMaxLength)" } ?? ""))
            Console.out("encoded in \(Format.threeDecimals(seconds)) s (\(Format.oneDecimal(rate / 1e6)) M tokens/s, "
                        + "\(threads) thread\(threads == 1 ? "" : "s"))")
        }
    }
}

/// `--truncation`: one of the tokenizer's strategies, or none.
enum TruncationChoice: String, CaseIterable, ExpressibleByArgument {
    case longestFirst = "longest_first", onlyFirst = "only_first", onlySecond = "only_second", none
    var strategy: EncodingOptions.Truncation.Strategy? { EncodingOptions.Truncation.Strategy(rawValue: rawValue) }
}

/// `--padding`: to the batch's longest text, or to --max-length.
enum PaddingChoice: String, CaseIterable, ExpressibleByArgument {
    case longest, maxLength = "max_length"
}

/// Stdout in large writes.
struct OutputBuffer {
    var text = ""
    mutating func append(_ s: String) { text += s }
    mutating func flushIfLarge() { if text.utf8.count > 1 << 20 { flush() } }
    mutating func flush() {
        Console.write(1, text)
        text = ""
    }
}

enum Format {
    /// 2.345 → "2.3"
    static func oneDecimal(_ value: Double) -> String { String((value * 10).rounded() / 10) }
    /// 0.2 → "0.200"
    static func threeDecimals(_ value: Double) -> String {
        let scaled = Int((value * 1000).rounded())
        let fraction = String(scaled % 1000)
        return "\(scaled / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}
