// Every golden case of Fixtures/tokenizer (made by Tools/fixtures/make_tokenizer_fixtures.py with the
// reference `tokenizers` / transformers) must come out identical: ids, type ids, attention masks,
// offsets, tokens where recorded, truncation errors and decoded text. The real uncased vocabulary is
// read from the fetched all-MiniLM-L6-v2 directory; a missing cache fails the test (never a skip).

import Foundation
import Testing
import TensorCore
import TestSupport
import Tokenizer

@Suite struct GoldenTests {
    static let uncasedDirectory = Fixtures.cacheDirectory + "/models/all-MiniLM-L6-v2"

    /// The real uncased tokenizer from the fetched cache; records an issue (and throws) when missing.
    static func loadUncasedOrFail() throws -> BertTokenizer { try GoldenTests().loadUncased { $0 } }

    @Test func uncasedFromTokenizerJSON() throws {
        let tokenizer = try loadUncased { $0 }
        let report = try Golden.run("tokenizer/uncased_golden.json", tokenizer)
        #expect(report.singleTexts >= 2000, "the golden file should hold at least 2,000 strings")
    }

    /// The same goldens through the other loading path: vocab.txt + tokenizer_config.json.
    @Test func uncasedFromVocabTXT() throws {
        let folder = TemporaryDirectory()
        let tokenizer = try loadUncased { source in
            for name in ["vocab.txt", "tokenizer_config.json", "special_tokens_map.json"] {
                try FileManager.default.copyItem(atPath: source + "/" + name, toPath: folder.file(name))
            }
            return folder.path
        }
        #expect(!fileExists(folder.file("tokenizer.json")))
        try Golden.run("tokenizer/uncased_golden.json", tokenizer)
    }

    @Test(arguments: ["cased", "cased_json_a", "cased_json_b"])
    func casedVocabularies(_ name: String) throws {
        let tokenizer = try BertTokenizer.load(directory: Fixtures.path("tokenizer/" + name))
        try Golden.run("tokenizer/\(name)_golden.json", tokenizer)
    }

    func loadUncased(_ prepare: (String) throws -> String) throws -> BertTokenizer {
        let source = Self.uncasedDirectory
        guard fileExists(source + "/vocab.txt") && fileExists(source + "/tokenizer.json") else {
            Issue.record("\(source) is missing: run Tools/fetch (Tools/test does) to fetch the bert-base-uncased vocabulary")
            throw CancellationError()
        }
        return try BertTokenizer.load(directory: try prepare(source))
    }
}

/// Runs a golden file and records one issue listing the first mismatches.
enum Golden {
    struct Report { var cases = 0, singleTexts = 0, mismatches: [String] = [] }

    @discardableResult
    static func run(_ fixture: String, _ tokenizer: any TextTokenizer,
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> Report {
        try run(file: Fixtures.path(fixture), name: fixture, tokenizer, sourceLocation: sourceLocation)
    }

    /// A golden file anywhere (the fetched cache's, for vocabularies that are not committed).
    @discardableResult
    static func run(file: String, name: String, _ tokenizer: any TextTokenizer,
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> Report {
        let fixture = name
        let root = try JSONReader.parse(Array(try Data(contentsOf: URL(fileURLWithPath: file))))
        let strings = (root["strings"]?.arrayValue ?? []).map { $0.stringValue ?? "" }
        var report = Report()
        for (index, case_) in (root["cases"]?.arrayValue ?? []).enumerated() {
            report.cases += 1
            if let problem = check(case_, strings, tokenizer, &report) {
                report.mismatches.append("case \(index): \(problem)")
            }
        }
        #expect(report.cases > 0, "\(fixture) holds no cases", sourceLocation: sourceLocation)
        if !report.mismatches.isEmpty {
            let first = report.mismatches.prefix(12).joined(separator: "\n")
            Issue.record("\(fixture): \(report.mismatches.count) of \(report.cases) cases differ from the reference; first ones:\n\(first)",
                         sourceLocation: sourceLocation)
        }
        return report
    }

    static func check(_ c: JSONValue, _ strings: [String], _ tokenizer: any TextTokenizer, _ report: inout Report) -> String? {
        if let ids = c["decode"]?.arrayValue {
            let text = tokenizer.decode(ids.map { Int32($0.intValue!) }, skipSpecialTokens: c["skip_special_tokens"]?.boolValue ?? false)
            let expected = c["text"]!.stringValue!
            return text == expected ? nil : "decode(\(ids.map { $0.intValue! })): got \(show(text)), expected \(show(expected))"
        }
        let options = self.options(c)
        if let batch = c["batch"]?.arrayValue {
            let texts = batch.map { strings[$0.intValue!] }
            let pairs = c["pairs"]?.arrayValue.map { $0.map { strings[$0.intValue!] } }
            let expected = c["encodings"]!.arrayValue!
            do {
                let encodings = try tokenizer.encodeBatch(texts, pairs: pairs, options: options, threads: 2)
                guard encodings.count == expected.count else { return "batch: \(encodings.count) encodings, expected \(expected.count)" }
                for (i, (encoding, want)) in zip(encodings, expected).enumerated() {
                    if let problem = compare(encoding, want, tokenizer) { return "batch item \(i) \(show(texts[i])): \(problem)" }
                }
                return nil
            } catch {
                return "batch threw \(error)"
            }
        }
        let text = strings[c["text"]!.intValue!]
        let pair = c["pair"].map { strings[$0.intValue!] }
        if c.objectValue!.keys.allSatisfy({ ["text", "ids", "offsets", "type_ids", "mask", "tokens", "special"].contains($0) }) {
            report.singleTexts += 1
        }
        let label = show(text) + (pair.map { " + " + show($0) } ?? "") + (c["trunc"].map { " trunc \(JSONWriter.compact($0))" } ?? "")
            + (c["pad"].map { " pad \(JSONWriter.compact($0))" } ?? "") + (c["no_special"] != nil ? " no specials" : "")
        do {
            let encoding = try tokenizer.encode(text, pair: pair, options: options)
            if let error = c["error"]?.stringValue { return "\(label): expected error \(error), got \(encoding.ids)" }
            return compare(encoding, c, tokenizer).map { "\(label): \($0)" }
        } catch {
            let code: String
            switch error {
            case .secondSequenceNotProvided: code = "no_second"
            case .sequenceTooShort: code = "too_short"
            default: code = "\(error)"
            }
            return c["error"]?.stringValue == code ? nil : "\(label): threw \(error)"
        }
    }

    static func options(_ c: JSONValue) -> EncodeOptions {
        var options = EncodeOptions()
        options.addSpecialTokens = c["no_special"] == nil
        if let t = c["trunc"]?.arrayValue {
            let strategy: TruncationStrategy = ["lf": .longestFirst, "of": .onlyFirst, "os": .onlySecond][t[1].stringValue!]!
            options.truncation = Truncation(maxLength: t[0].intValue!, strategy: strategy, direction: t[2].stringValue == "l" ? .left : .right)
        }
        if let p = c["pad"]?.arrayValue {
            options.padding = Padding(length: p[0].intValue.map { .fixed($0) } ?? .longest, side: p[1].stringValue == "l" ? .left : .right,
                                      multipleOf: p[2].intValue)
        }
        return options
    }

    static func compare(_ e: Encoding, _ want: JSONValue, _ tokenizer: any TextTokenizer) -> String? {
        let ids = want["ids"]!.arrayValue!.map { Int32($0.intValue!) }
        let flat = want["offsets"]!.arrayValue!.map { $0.intValue! }
        let offsets = stride(from: 0, to: flat.count, by: 2).map { TokenOffset(flat[$0], flat[$0 + 1]) }
        let typeIDs = want["type_ids"]?.stringValue.map { $0.map { Int32(String($0))! } } ?? Array(repeating: 0, count: ids.count)
        let mask = want["mask"]?.stringValue.map { $0.map { Int32(String($0))! } } ?? Array(repeating: 1, count: ids.count)
        let tokens = want["tokens"]?.arrayValue?.map { $0.stringValue! } ?? ids.map { tokenizer.token(of: $0) ?? "?" }
        if e.ids != ids { return "ids \(e.ids) (\(e.tokens)), expected \(ids) (\(ids.map { tokenizer.token(of: $0) ?? "?" }))" }
        if e.offsets != offsets { return "offsets \(e.offsets), expected \(offsets)" }
        if e.typeIDs != typeIDs { return "type ids \(e.typeIDs), expected \(typeIDs)" }
        if e.attentionMask != mask { return "attention mask \(e.attentionMask), expected \(mask)" }
        if let special = want["special"]?.stringValue.map({ $0.map { Int32(String($0))! } }), e.specialTokensMask != special {
            return "special tokens mask \(e.specialTokensMask), expected \(special)"
        }
        // Byte-exact: String == would accept canonically equivalent tokens.
        if e.tokens.map({ Array($0.utf8) }) != tokens.map({ Array($0.utf8) }) { return "tokens \(e.tokens), expected \(tokens)" }
        let consistent = e.ids.count == e.typeIDs.count && e.ids.count == e.specialTokensMask.count && e.ids.count == e.sequenceIDs.count
        return consistent ? nil : "encoding arrays differ in length"
    }

    /// A string with its invisible characters spelled out.
    static func show(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars.prefix(80) {
            if scalar.value < 0x20 || (0x7F...0xA0).contains(scalar.value) || scalar.properties.generalCategory == .format
                || scalar.properties.isWhitespace && scalar != " " {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out + (s.unicodeScalars.count > 80 ? "…\"" : "\"")
    }
}
