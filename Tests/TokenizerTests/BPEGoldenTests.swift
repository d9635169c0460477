// The byte-level BPE tokenizer against the reference: every golden case of Fixtures/tokenizer-bpe (a small
// vocabulary trained by `tokenizers`, in tokenizer.json variants and vocab.json + merges.txt directories, made
// by Tools/fixtures/make_bpe_fixtures.py), the pre-tokenizer's splits and the decoder on their own, and the
// real GPT-2 vocabulary (not committed: Tools/fixtures/fetch_bpe_reference.py fetches it and records its
// goldens into the cache; a missing cache fails the test, never a skip).

import Foundation
import Testing
import TensorCore
import TestSupport
import Tokenizer

@Suite struct BPEGoldenTests {
    static let tokenizerJSONVariants = ["roberta", "roberta_prefix", "roberta_untrimmed", "gpt2_style", "sequence"]
    static let vocabDirectories = ["vocab_roberta", "vocab_roberta_prefix", "vocab_bare", "vocab_gpt2"]

    @Test(arguments: tokenizerJSONVariants)
    func tokenizerJSON(_ name: String) throws {
        let tokenizer = try ByteLevelBPETokenizer.load(directory: Fixtures.path("tokenizer-bpe/" + name))
        let report = try Golden.run("tokenizer-bpe/\(name)_golden.json", tokenizer)
        #expect(report.cases >= 500)
    }

    @Test(arguments: vocabDirectories)
    func vocabAndMerges(_ name: String) throws {
        let folder = Fixtures.path("tokenizer-bpe/" + name)
        #expect(!fileExists(folder + "/tokenizer.json"))
        let tokenizer = try ByteLevelBPETokenizer.load(directory: folder)
        try Golden.run("tokenizer-bpe/\(name)_golden.json", tokenizer)
    }

    /// AutoTokenizer picks the byte-level BPE class for both kinds of directory, and BERT's for BERT's.
    @Test func autoTokenizerPicksTheClass() throws {
        #expect(try AutoTokenizer.load(directory: Fixtures.path("tokenizer-bpe/roberta")) is ByteLevelBPETokenizer)
        #expect(try AutoTokenizer.load(directory: Fixtures.path("tokenizer-bpe/vocab_roberta")) is ByteLevelBPETokenizer)
        #expect(try AutoTokenizer.load(directory: Fixtures.path("tokenizer/cased")) is BertTokenizer)
    }

    static let components: JSONValue = {
        (try? JSONReader.parse(Array(Fixtures.data("tokenizer-bpe/components.json")))) ?? .null
    }()

    @Test func preTokenizerSplitsLikeTheReference() throws {
        let cases = try #require(Self.components["split"]?.arrayValue)
        #expect(cases.count > 300)
        var mismatches: [String] = []
        for c in cases {
            let text = c["text"]!.stringValue!
            let prefix = c["prefix"]!.boolValue!
            let expected = c["pieces"]!.arrayValue!.map { p in
                "\(p.arrayValue![0].stringValue!)@\(p.arrayValue![1].intValue!)-\(p.arrayValue![2].intValue!)"
            }
            let got = ByteLevelBPETokenizer.preTokenize(text, addPrefixSpace: prefix).map { "\($0.word)@\($0.start)-\($0.end)" }
            if got != expected { mismatches.append("\(Golden.show(text)) prefix \(prefix): \(got), expected \(expected)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) splits differ; first: \(mismatches.prefix(5))")
    }

    @Test func decoderLikeTheReference() throws {
        for c in try #require(Self.components["decoder"]?.arrayValue) {
            let tokens = c["tokens"]!.arrayValue!.map { $0.stringValue! }
            let expected = c["text"]!.stringValue!
            #expect(Array(ByteLevel.decode(tokens).unicodeScalars) == Array(expected.unicodeScalars), "\(tokens)")
        }
    }

    @Test func byteMapIsGPT2s() {
        #expect(ByteLevel.byteToScalar[0x20] == 0x120)       // Ġ
        #expect(ByteLevel.byteToScalar[0x0A] == 0x10A)       // Ċ
        #expect(ByteLevel.byteToScalar[0x41] == 0x41)
        #expect(ByteLevel.byteToScalar[0xAD] == 0x143)       // the last of the 68 moved bytes
        #expect(Set(ByteLevel.byteToScalar).count == 256)
        #expect(ByteLevel.encode("é x") == "Ã©Ġx")
        #expect(ByteLevel.decode([ByteLevel.encode("naïve 😀\r\n")]) == "naïve 😀\r\n")
    }

    // MARK: The real GPT-2 vocabulary (fetched, never committed)

    static let referenceDirectory = Fixtures.cacheDirectory + "/bpe-reference"

    @Test(arguments: ["gpt2", "gpt2_vocab", "roberta_style", "roberta_style_vocab"])
    func realVocabulary(_ name: String) throws {
        let golden = Self.referenceDirectory + "/\(name)_golden.json"
        guard fileExists(golden) else {
            Issue.record("\(golden) is missing: run `Tools/python Tools/fixtures/fetch_bpe_reference.py` to fetch the GPT-2 vocabulary and record its goldens")
            return
        }
        let manifest = try JSONReader.parse(Array(try Data(contentsOf: URL(fileURLWithPath: golden))))
        let directory = Self.referenceDirectory + "/" + (manifest["tokenizer"]?.stringValue ?? "")
        let tokenizer = try ByteLevelBPETokenizer.load(directory: directory)
        let report = try Golden.run(file: golden, name: "bpe-reference/\(name)_golden.json", tokenizer)
        if name == "gpt2" || name == "roberta_style" {
            #expect(report.singleTexts >= 5000, "the golden file should hold thousands of real texts")
        }
    }
}
