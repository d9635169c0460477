// Each step on its own against Fixtures/tokenizer/components.json, which records what the reference's
// BertNormalizer (per option set and rule), BertPreTokenizer, WordPiece model and WordPiece decoder do
// with inputs chosen for one rule each, and how transformers reads an odd vocab.txt.

import Foundation
import Testing
import TensorCore
import TestSupport
import Tokenizer

@Suite struct ComponentTests {
    static let components: JSONValue = {
        (try? JSONReader.parse(Array(Fixtures.data("tokenizer/components.json")))) ?? .null
    }()

    static var normalizerRules: [String] {
        Array(Set((components["normalizer"]?.arrayValue ?? []).compactMap { $0["rule"]?.stringValue })).sorted()
    }

    @Test(arguments: normalizerRules)
    func normalizerRule(_ rule: String) throws {
        let cases = try #require(Self.components["normalizer"]?.arrayValue).filter { $0["rule"]?.stringValue == rule }
        #expect(!cases.isEmpty)
        for c in cases {
            let o = c["options"]!.arrayValue!
            let options = BertNormalizerOptions(cleanText: o[0].boolValue!, handleChineseChars: o[1].boolValue!,
                                                stripAccents: o[2].boolValue, lowercase: o[3].boolValue!)
            let input = c["input"]!.stringValue!, expected = c["output"]!.stringValue!
            let output = options.normalize(input)
            #expect(Array(output.unicodeScalars) == Array(expected.unicodeScalars),
                    "\(rule) with \(options): \(Golden.show(input)) → \(Golden.show(output)), expected \(Golden.show(expected))")
        }
    }

    @Test func preTokenizerSplitsOnWhitespaceAndPunctuation() throws {
        for c in try #require(Self.components["pre_tokenizer"]?.arrayValue) {
            let input = c["input"]!.stringValue!
            let expected = c["pieces"]!.arrayValue!.map { p in
                "\(Golden.show(p.arrayValue![0].stringValue!))@\(p.arrayValue![1].intValue!)-\(p.arrayValue![2].intValue!)"
            }
            let pieces = BertTokenizer.preTokenize(input).map { "\(Golden.show($0.word))@\($0.start)-\($0.end)" }
            #expect(pieces == expected, "\(Golden.show(input))")
        }
    }

    @Test func wordPieceGreedyLongestMatchAndUnknownWords() throws {
        let tokenizer = try GoldenTests.loadUncasedOrFail()
        for c in try #require(Self.components["wordpiece"]?.arrayValue) {
            let word = c["word"]!.stringValue!
            let pieces = tokenizer.model.tokenize(word: word)
            let expected = c["ids"]!.arrayValue!.map { Int32($0.intValue!) }
            #expect(pieces.map(\.id) == expected, "\(Golden.show(word))")
            #expect(pieces.map { Array($0.token.utf8) } == c["tokens"]!.arrayValue!.map { Array($0.stringValue!.utf8) })
        }
    }

    @Test func wordPieceDecoderJoinsPiecesAndCleansUp() throws {
        for c in try #require(Self.components["decoder"]?.arrayValue) {
            let tokens = c["tokens"]!.arrayValue!.map { $0.stringValue! }
            let decoder = WordPieceDecoder(prefix: "##", cleanup: c["cleanup"]!.boolValue!)
            let expected = c["output"]!.stringValue!
            let output = decoder.decode(tokens)
            #expect(Array(output.unicodeScalars) == Array(expected.unicodeScalars), "\(tokens) cleanup \(decoder.cleanup)")
        }
    }

    /// vocab.txt lines as the reference reads them: "\n" ends a line, trailing whitespace (\r, NBSP …)
    /// is trimmed, a duplicate keeps its last id, and tokens are compared byte for byte.
    @Test func oddVocabularyIsReadAsTheReferenceReadsIt() throws {
        let odd = try #require(Self.components["odd_vocab"])
        let tokenizer = try BertTokenizer.load(directory: Fixtures.path("tokenizer/odd_vocab"))
        for entry in odd["vocab"]!.arrayValue! {
            let token = entry.arrayValue![0].stringValue!, id = Int32(entry.arrayValue![1].intValue!)
            #expect(tokenizer.model.vocabulary.id(of: token) == id, "\(Golden.show(token))")
        }
        #expect(tokenizer.model.vocabulary.count == odd["vocab"]!.arrayValue!.count)
        for (id, token) in odd["id_to_token"]!.arrayValue!.enumerated() {
            #expect(tokenizer.token(of: Int32(id)).map { Array($0.unicodeScalars) } == token.stringValue.map { Array($0.unicodeScalars) },
                    "id \(id)")
        }
        for c in odd["encodings"]!.arrayValue! {
            let encoding = try tokenizer.encode(c["text"]!.stringValue!)
            #expect(Golden.compare(encoding, c, tokenizer) == nil)
        }
    }

    /// A batch on several threads equals encoding the texts one by one.
    @Test func parallelBatchEqualsSequentialEncoding() throws {
        let tokenizer = try BertTokenizer.load(directory: Fixtures.path("tokenizer/cased"))
        let root = try JSONReader.parse(Array(try Fixtures.data("tokenizer/cased_golden.json")))
        let texts = root["strings"]!.arrayValue!.map { $0.stringValue! }
        let options = EncodeOptions(truncation: Truncation(maxLength: 24), padding: Padding(length: .longest))
        let batch = try tokenizer.encodeBatch(texts, options: options, threads: 4)
        var one = try texts.map { try tokenizer.encode($0, options: EncodeOptions(truncation: Truncation(maxLength: 24))) }
        try tokenizer.pad(&one, Padding(length: .longest))
        #expect(batch == one)
        #expect(batch.count == texts.count && texts.count > 500)
    }
}
