// `bertkit tokenize --model DIR [options] -- TEXT...`: encode texts as Hugging Face's BertTokenizer does.
// Texts come from the arguments or, with --file, one per line; --pair reads them as (first, second)
// pairs. Output: the tokens (default), one JSON document (--json), one JSON object per text
// (--json-lines), or only counts and timing (--summary).

import ArgumentParser
import BertKit

#if canImport(Glibc)
import Glibc
#endif

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize texts with a model directory's WordPiece tokenizer (tokenizer.json or vocab.txt).",
        discussion: """
            Identical to transformers' BertTokenizer: `bertkit tokenize --model DIR --max-length 8 -- "Hello!"`
            gives the ids of `tokenizer("Hello!", max_length=8)`. Offsets count Unicode scalars (Python str indices).
            With --pair, TEXT arguments are taken two at a time (first, second) and --file lines are
            `first<TAB>second`.
            """)

    @Option(help: "Model directory with tokenizer.json, or vocab.txt (+ tokenizer_config.json).")
    var model: String

    @Option(help: "Read texts from this file, one per line (UTF-8; a trailing \\r is dropped).")
    var file: String?

    @Flag(help: "Encode pairs: TEXT arguments two at a time, or file lines split at the first tab.")
    var pair = false

    @Option(help: "Truncate to this many tokens, special tokens included (transformers' max_length).")
    var maxLength: Int?

    @Option(help: "longest_first (default with --max-length), only_first, only_second or none.")
    var truncation: String?

    @Option(help: "Pad to the longest text (longest) or to --max-length (max_length), on the right.")
    var padding: String?

    @Flag(help: "Do not add [CLS]/[SEP].")
    var noSpecialTokens = false

    @Flag(help: "Print {\"encodings\": [...]}: tokens, input_ids, token_type_ids, attention_mask, offsets.")
    var json = false

    @Flag(help: "Print one JSON object per text (the fields of --json), one per line.")
    var jsonLines = false

    @Flag(help: "Print only counts (texts, tokens, lengths, [UNK]s, texts at max length) and the encoding time (with --json: as JSON).")
    var summary = false

    @Option(help: "Threads for encoding many texts (default: $BERTKIT_THREADS or all cores).")
    var threads: Int?

    @Argument(help: "Texts to tokenize (put them after --).")
    var texts: [String] = []

    func validate() throws {
        if file == nil && texts.isEmpty { throw ValidationError("give texts after --, or --file PATH") }
        if file != nil && !texts.isEmpty { throw ValidationError("give either texts or --file, not both") }
        if pair && file == nil && texts.count % 2 != 0 { throw ValidationError("--pair needs an even number of texts") }
        if jsonLines && (json || summary) { throw ValidationError("--json-lines goes with neither --json nor --summary") }
        if let maxLength, maxLength < 0 { throw ValidationError("--max-length must be at least 0") }
        if let truncation, truncation != "none" && TruncationStrategy(rawValue: truncation) == nil {
            throw ValidationError("--truncation must be longest_first, only_first, only_second or none, not '\(truncation)'")
        }
        if let padding, padding != "longest" && padding != "max_length" {
            throw ValidationError("--padding must be longest or max_length, not '\(padding)'")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let tokenizer = try BertTokenizer.load(directory: model)
        let options = try encodeOptions(tokenizer)
        var (firsts, seconds) = (texts, [String]())
        if let file { (firsts, seconds) = try TextFile.read(file, pairs: pair) }
        else if pair { (firsts, seconds) = (stride(from: 0, to: texts.count, by: 2).map { texts[$0] },
                                            stride(from: 1, to: texts.count, by: 2).map { texts[$0] }) }
        let threadCount = threads ?? Int(getenv("BERTKIT_THREADS").flatMap { Int(String(cString: $0)) } ?? 0)
        let start = MonotonicClock.seconds()
        let encodings = try tokenizer.encodeBatch(firsts, pairs: pair ? seconds : nil, options: options,
                                                  threads: threadCount > 0 ? threadCount : nil)
        let elapsed = MonotonicClock.seconds() - start
        if summary {
            printSummary(encodings, tokenizer, options, seconds: elapsed, threads: threadCount > 0 ? threadCount : BertTokenizer.processorCount)
        } else if json || jsonLines {
            var out = OutputBuffer()
            if json { out.append("{\"encodings\": [\n") }
            for (i, encoding) in encodings.enumerated() {
                EncodingJSON.write(encoding, to: &out)
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

    func encodeOptions(_ tokenizer: BertTokenizer) throws -> EncodeOptions {
        var options = EncodeOptions(addSpecialTokens: !noSpecialTokens)
        let strategy = truncation.flatMap(TruncationStrategy.init(rawValue:))
        if truncation != "none" && (maxLength != nil || strategy != nil) {
            guard let length = maxLength ?? tokenizer.modelMaxLength else {
                throw ValidationError("--truncation needs --max-length (the tokenizer states no model_max_length)")
            }
            options.truncation = Truncation(maxLength: length, strategy: strategy ?? .longestFirst)
        }
        switch padding {
        case "longest": options.padding = Padding(length: .longest)
        case "max_length":
            guard let length = maxLength ?? tokenizer.modelMaxLength else {
                throw ValidationError("--padding max_length needs --max-length (the tokenizer states no model_max_length)")
            }
            options.padding = Padding(length: .fixed(length))
        default: break
        }
        return options
    }

    private func printSummary(_ encodings: [Encoding], _ tokenizer: BertTokenizer, _ options: EncodeOptions,
                              seconds: Double, threads: Int) {
        let lengths = encodings.map { $0.attentionMask.reduce(0) { $0 + Int($1) } }
        let tokens = lengths.reduce(0, +)
        let unknownID = tokenizer.model.unknownID
        let unknown = encodings.reduce(0) { count, e in count + zip(e.ids, e.specialTokensMask).filter { $0 == unknownID && $1 == 0 }.count }
        let limit = options.truncation?.maxLength
        let truncated = limit.map { l in lengths.filter { $0 >= l }.count } ?? 0
        let maxLength = lengths.max() ?? 0
        let mean = encodings.isEmpty ? 0 : Double(tokens) / Double(encodings.count)
        let rate = seconds > 0 ? Double(tokens) / seconds : 0
        if json {
            Console.out("{\"texts\": \(encodings.count), \"tokens\": \(tokens), \"max_tokens\": \(maxLength), "
                        + "\"mean_tokens\": \(JSONWriter.formatDouble((mean * 100).rounded() / 100)), \"unknown\": \(unknown), "
                        + "\"at_max_length\": \(truncated), \"seconds\": \(JSONWriter.formatDouble(seconds)), \"threads\": \(threads)}")
        } else {
            Console.out("texts: \(encodings.count), tokens: \(tokens) (mean \(Format.oneDecimal(mean)), max \(maxLength)), "
                        + "[UNK]: \(unknown)" + (limit.map { ", at max length \($0): \(truncated)" } ?? ""))
            Console.out("encoded in \(Format.threeDecimals(seconds)) s (\(Format.oneDecimal(rate / 1e6)) M tokens/s, "
                        + "\(threads) thread\(threads == 1 ? "" : "s"))")
        }
    }
}

/// A texts file: one text per line; with pairs, split at the first tab.
enum TextFile {
    static func read(_ path: String, pairs: Bool) throws -> ([String], [String]) {
        let bytes = try withFileContext(path) { try readFileBytes(path) }
        var firsts: [String] = [], seconds: [String] = []
        var start = 0, line = 1
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            var stop = end
            if stop > start && bytes[stop - 1] == 0x0D { stop -= 1 }
            guard let text = String(validating: bytes[start..<stop], as: UTF8.self) else {
                throw FileError(path: path, cause: TokenizerError.invalidUTF8(line: line))
            }
            if pairs {
                guard let tab = text.unicodeScalars.firstIndex(of: "\t") else {
                    throw FileError(path: path, cause: TokenizerError.invalidOptions("line \(line) has no tab between the pair's texts"))
                }
                firsts.append(String(text.unicodeScalars[..<tab]))
                seconds.append(String(text.unicodeScalars[text.unicodeScalars.index(after: tab)...]))
            } else {
                firsts.append(text)
            }
            start = end + 1
            line += 1
        }
        return (firsts, seconds)
    }
}

/// One encoding as a JSON object on one line, fields in the documented order.
enum EncodingJSON {
    static func write(_ e: Encoding, to out: inout OutputBuffer) {
        out.append("{\"tokens\": [")
        for (i, token) in e.tokens.enumerated() {
            if i > 0 { out.append(", ") }
            out.append(JSONWriter.quote(token))
        }
        out.append("], \"input_ids\": ")
        ints(e.ids, &out)
        out.append(", \"token_type_ids\": ")
        ints(e.typeIDs, &out)
        out.append(", \"attention_mask\": ")
        ints(e.attentionMask, &out)
        out.append(", \"offsets\": [")
        for (i, offset) in e.offsets.enumerated() {
            if i > 0 { out.append(", ") }
            out.append("[\(offset.start), \(offset.end)]")
        }
        out.append("]}")
    }

    private static func ints(_ values: [Int32], _ out: inout OutputBuffer) {
        out.append("[")
        for (i, value) in values.enumerated() {
            if i > 0 { out.append(", ") }
            out.append(String(value))
        }
        out.append("]")
    }
}

/// Stdout in large writes.
struct OutputBuffer {
    private var text = ""
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
