// What the entity-tagging and question-answering tasks ask of the byte-level BPE tokenizer, against transformers
// (Fixtures/tokenizer-bpe/tasks_golden.json, Tools/fixtures/make_bpe_fixtures.py): pre-split words as run_ner.py
// encodes them for RoBERTa (loaded `add_prefix_space=True`, `is_split_into_words`) and a question beside a long
// context in overflowing windows as run_qa.py cuts it — ids, offsets (trimmed per window as RobertaProcessing trims
// each overflowing part), word ids and sequence ids; a stride too large for the room is refused, as it panics there.

import Foundation
import Testing
import TensorCore
import TestSupport
import Tokenizer

@Suite struct BPETaskEncodingTests {
    static let cases: JSONValue = {
        (try? JSONReader.parse(Array(Fixtures.data("tokenizer-bpe/tasks_golden.json")))) ?? .null
    }()

    static func tokenizer(_ name: String) throws -> ByteLevelBPETokenizer {
        try ByteLevelBPETokenizer.load(directory: Fixtures.path("tokenizer-bpe/" + name))
    }

    static func ints(_ value: JSONValue?) -> [Int?] { value?.arrayValue?.map { $0.intValue } ?? [] }
    static func offsets(_ value: JSONValue?) -> [[Int]] { value?.arrayValue?.map { $0.arrayValue!.map { $0.intValue! } } ?? [] }
    static func offsets(_ encoding: Encoding) -> [[Int]] { encoding.offsets.map { [$0.start, $0.end] } }

    @Test func preSplitWordsAsRunNERLoadsRoBERTa() throws {
        let cases = try #require(Self.cases["words"]?.arrayValue)
        #expect(cases.count >= 100)
        var mismatches: [String] = []
        for c in cases {
            let words = c["words"]!.arrayValue!.map { $0.stringValue! }
            let encoding = try Self.tokenizer(c["dir"]!.stringValue!).encode(words: words)
            if encoding.ids.map(Int.init) != Self.ints(c["ids"]).map({ $0! }) || Self.offsets(encoding) != Self.offsets(c["offsets"])
                || encoding.wordIDs != Self.ints(c["word_ids"]) {
                mismatches.append("\(words): \(encoding.tokens) \(Self.offsets(encoding)) \(encoding.wordIDs)")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) differ; first: \(mismatches.prefix(3))")
    }

    /// Saved "with a prefix space", the roberta fixture's tokenizer.json becomes the roberta_prefix fixture's (made by
    /// tokenizers with add_prefix_space=True) in its pre-tokenizer and post-processor, and tokenizer_config.json says so.
    @Test func savedWithAPrefixSpaceAsTransformersSavesIt() throws {
        let folder = TemporaryDirectory()
        try FileManager.default.copyItem(atPath: Fixtures.path("tokenizer-bpe/roberta/tokenizer.json"), toPath: folder.file("tokenizer.json"))
        #expect(try Self.tokenizer("roberta").encode("Hello").ids != (try Self.tokenizer("roberta_prefix").encode("Hello").ids))
        try ByteLevelBPETokenizer.savePrefixSpace(inTokenizerFilesOf: folder.path)
        let saved = try JSONReader.parse(Array(try Data(contentsOf: URL(fileURLWithPath: folder.file("tokenizer.json")))))
        let expected = try JSONReader.parse(Array(Fixtures.data("tokenizer-bpe/roberta_prefix/tokenizer.json")))
        #expect(saved["pre_tokenizer"] == expected["pre_tokenizer"])
        #expect(saved["post_processor"] == expected["post_processor"])
        let config = try JSONReader.parse(Array(try Data(contentsOf: URL(fileURLWithPath: folder.file("tokenizer_config.json")))))
        #expect(config["add_prefix_space"] == .bool(true))
        let reloaded = try ByteLevelBPETokenizer.load(directory: folder.path)
        #expect(try reloaded.encode("Hello").ids == (try Self.tokenizer("roberta_prefix").encode("Hello").ids))
    }

    /// Word ids stay one per token through padding, an empty text included (tokenizers pads `word_ids` with None), and
    /// a negative stride is an error rather than windows that skip tokens.
    @Test func wordIDsArePaddedAndANegativeStrideIsRefused() throws {
        let tokenizer = try Self.tokenizer("roberta")
        let options = EncodeOptions(addSpecialTokens: false, padding: Padding(length: .fixed(12)))
        for text in ["", "Hello"] {
            let encoding = try tokenizer.encode(text, options: options)
            let real = encoding.attentionMask.filter { $0 == 1 }.count
            #expect(encoding.count == 12 && encoding.wordIDs.count == 12, "\(text): \(encoding.wordIDs)")
            #expect(encoding.wordIDs.prefix(real).allSatisfy { $0 == 0 } && encoding.wordIDs.dropFirst(real).allSatisfy { $0 == nil })
        }
        #expect(throws: TokenizerError.self) { try tokenizer.encodeWindows("a question", String(repeating: "word ", count: 50), maxLength: 16, stride: -2) }
    }

    @Test func questionAndContextWindowsAsRunQACutsThem() throws {
        let cases = try #require(Self.cases["windows"]?.arrayValue)
        #expect(cases.count >= 50)
        var overflowing = 0, refused = 0
        var mismatches: [String] = []
        for c in cases {
            let tokenizer = try Self.tokenizer(c["dir"]!.stringValue!)
            let question = c["question"]!.stringValue!, context = c["context"]!.stringValue!
            let length = c["max_length"]!.intValue!, stride = c["stride"]!.intValue!
            guard let expected = c["windows"]?.arrayValue else {
                #expect(throws: TokenizerError.self) { try tokenizer.encodeWindows(question, context, maxLength: length, stride: stride) }
                refused += 1
                continue
            }
            let windows = try tokenizer.encodeWindows(question, context, maxLength: length, stride: stride)
            if windows.count > 1 { overflowing += 1 }
            guard windows.count == expected.count else {
                mismatches.append("\(Golden.show(context)) (\(length), \(stride)): \(windows.count) windows, expected \(expected.count)")
                continue
            }
            for (window, want) in zip(windows, expected) {
                let sequences = window.sequenceIDs.map { $0.map(Int.init) }
                if window.ids.map(Int.init) != Self.ints(want["ids"]).map({ $0! }) || Self.offsets(window) != Self.offsets(want["offsets"])
                    || sequences != Self.ints(want["sequence_ids"]) || window.wordIDs != Self.ints(want["word_ids"]) {
                    mismatches.append("\(Golden.show(context)) (\(length), \(stride)): \(window.tokens) \(Self.offsets(window))")
                }
            }
        }
        #expect(overflowing >= 10 && refused >= 5, "the cases must overflow and refuse: \(overflowing), \(refused)")
        #expect(mismatches.isEmpty, "\(mismatches.count) differ; first: \(mismatches.prefix(3))")
    }
}
