// `bertkit tokenize` end to end on the committed cased tokenizer (Fixtures/tokenizer/cased): its JSON
// output must carry the reference's ids, type ids, masks and offsets (cased_golden.json, made by
// Tools/fixtures/make_tokenizer_fixtures.py), for texts, files, pairs and truncation; errors follow
// the CLI contract (one `error:` line, exit 1).

import Foundation
import Testing
import TestSupport

@Suite struct TokenizeCommandTests {
    static let model = Fixtures.path("tokenizer/cased")

    struct Golden {
        let strings: [String]
        let cases: [[String: Any]]

        init() throws {
            let root = try Fixtures.json("tokenizer/cased_golden.json") as! [String: Any]
            strings = root["strings"] as! [String]
            cases = root["cases"] as! [[String: Any]]
        }

        /// Plain single-text cases whose text fits on one line of a file.
        var plain: [(text: String, expected: [String: Any])] {
            cases.filter { Set($0.keys).isSubset(of: ["text", "ids", "offsets", "type_ids", "mask", "tokens"]) }
                .map { (strings[$0["text"] as! Int], $0) }
                .filter { !$0.text.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) && !$0.text.isEmpty }
        }
    }

    /// Compares one encoding of the CLI's JSON with a golden case.
    func check(_ encoding: [String: Any], _ expected: [String: Any], _ label: String,
               sourceLocation: SourceLocation = #_sourceLocation) {
        let ids = expected["ids"] as! [Int]
        let flat = expected["offsets"] as! [Int]
        let typeIDs = (expected["type_ids"] as? String).map { $0.map { Int(String($0))! } } ?? Array(repeating: 0, count: ids.count)
        let mask = (expected["mask"] as? String).map { $0.map { Int(String($0))! } } ?? Array(repeating: 1, count: ids.count)
        #expect(encoding["input_ids"] as? [Int] == ids, "\(label)", sourceLocation: sourceLocation)
        #expect((encoding["offsets"] as? [[Int]])?.flatMap { $0 } == flat, "\(label)", sourceLocation: sourceLocation)
        #expect(encoding["token_type_ids"] as? [Int] == typeIDs, "\(label)", sourceLocation: sourceLocation)
        #expect(encoding["attention_mask"] as? [Int] == mask, "\(label)", sourceLocation: sourceLocation)
        #expect((encoding["tokens"] as? [String])?.count == ids.count, "\(label)", sourceLocation: sourceLocation)
        if let tokens = expected["tokens"] as? [String] {
            #expect(encoding["tokens"] as? [String] == tokens, "\(label)", sourceLocation: sourceLocation)
        }
    }

    @Test func jsonMatchesTheReferenceForEachText() throws {
        let golden = try Golden()
        // argv is C strings: texts with NUL go through --file instead (next test).
        let sample = Array(golden.plain.filter { !$0.text.unicodeScalars.contains("\0") }.prefix(60))
        let result = try Bertkit.run(["tokenize", "--model", Self.model, "--json", "--"] + sample.map(\.text))
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        let encodings = json["encodings"] as! [[String: Any]]
        #expect(encodings.count == sample.count)
        for (encoding, (text, expected)) in zip(encodings, sample) { check(encoding, expected, text) }
        #expect(Array(encodings[0].keys).sorted() == ["attention_mask", "input_ids", "offsets", "token_type_ids", "tokens", "word_ids"])
    }

    @Test func fileWithJSONLines() throws {
        let golden = try Golden()
        let sample = golden.plain
        let folder = TemporaryDirectory()
        try (sample.map(\.text).joined(separator: "\n") + "\n").write(toFile: folder.file("texts.txt"), atomically: true, encoding: .utf8)
        let result = try Bertkit.run(["tokenize", "--model", Self.model, "--file", folder.file("texts.txt"), "--json-lines",
                                      "--threads", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == sample.count)
        for (line, (text, expected)) in zip(lines, sample) {
            check(try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any], expected, text)
        }
    }

    @Test func pairsWithTruncation() throws {
        let golden = try Golden()
        // Reference cases for a pair truncated longest_first on the right (what --max-length asks for).
        let cases = golden.cases.filter {
            $0["pair"] != nil && $0["error"] == nil && $0["no_special"] == nil && $0["pad"] == nil
                && ($0["trunc"] as? [Any]).map { ($0[1] as! String) == "lf" && ($0[2] as! String) == "r" && ($0[0] as! Int) >= 3 } == true
                && !golden.strings[$0["text"] as! Int].isEmpty && !golden.strings[$0["pair"] as! Int].isEmpty
        }
        #expect(cases.count >= 5)
        for c in cases.prefix(8) {
            let (first, second) = (golden.strings[c["text"] as! Int], golden.strings[c["pair"] as! Int])
            let maxLength = (c["trunc"] as! [Any])[0] as! Int
            let result = try Bertkit.run(["tokenize", "--model", Self.model, "--json", "--pair", "--max-length", String(maxLength),
                                          "--", first, second])
            #expect(result.status == 0, "\(result.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
            check((json["encodings"] as! [[String: Any]])[0], c, "\(first) | \(second) max \(maxLength)")
        }
    }

    @Test func humanOutputListsTheTokens() throws {
        let texts = try Golden().plain.filter { !$0.text.unicodeScalars.contains("\0") }.prefix(5).map(\.text)
        let human = try Bertkit.run(["tokenize", "--model", Self.model, "--"] + texts)
        let json = try Bertkit.run(["tokenize", "--model", Self.model, "--json", "--"] + texts)
        #expect(human.status == 0 && json.status == 0)
        let encodings = (try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any])["encodings"] as! [[String: Any]]
        #expect(human.stdout == encodings.map { ($0["tokens"] as! [String]).joined(separator: " ") + "\n" }.joined())
    }

    @Test func summaryCountsTokens() throws {
        let golden = try Golden()
        let sample = Array(golden.plain.filter { !$0.text.unicodeScalars.contains("\0") }.prefix(40))
        let result = try Bertkit.run(["tokenize", "--model", Self.model, "--summary", "--json", "--"] + sample.map(\.text))
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        #expect(summary["texts"] as? Int == sample.count)
        #expect(summary["tokens"] as? Int == sample.map { ($0.expected["ids"] as! [Int]).count }.reduce(0, +))
        #expect(summary["max_tokens"] as? Int == sample.map { ($0.expected["ids"] as! [Int]).count }.max())
    }

    @Test func missingModelDirectoryIsOneErrorLine() throws {
        let folder = TemporaryDirectory()
        let result = try Bertkit.run(["tokenize", "--model", folder.path, "--", "hello"])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("error: \(folder.path): "))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func malformedVocabularyNamesTheFile() throws {
        let folder = TemporaryDirectory()
        try Data([0x5B, 0x55, 0x4E, 0x4B, 0x5D, 0x0A, 0xC3, 0x28, 0x0A]).write(to: URL(fileURLWithPath: folder.file("vocab.txt")))
        let result = try Bertkit.run(["tokenize", "--model", folder.path, "--", "hello"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: \(folder.file("vocab.txt")): "), "\(result.stderr)")
        #expect(result.stderr.contains("line 2"))
    }

    @Test func invalidOptionsAreOneErrorLine() throws {
        for arguments in [["--truncation", "sideways", "--", "a"], ["--pair", "--", "a"], [], ["--padding", "max", "--", "a"]] {
            let result = try Bertkit.run(["tokenize", "--model", Self.model] + arguments)
            #expect(result.status == 1, "\(arguments): \(result.status)")
            #expect(result.stderr.hasPrefix("error: ") && result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }
}
