// Malformed byte-level BPE files: one test per error, each checking the case and that the message names
// the file at fault. Never a crash.

import Foundation
import Testing
import TensorCore
import TestSupport
import Tokenizer

@Suite struct BPELoadingErrorTests {
    /// Writes `files` into a fresh directory and loads it as a byte-level BPE tokenizer; returns the error.
    func loadError(_ files: [String: String]) throws -> (error: any Error, folder: TemporaryDirectory) {
        let folder = TemporaryDirectory()
        for (name, text) in files { try Data(text.utf8).write(to: URL(fileURLWithPath: folder.file(name))) }
        do {
            _ = try ByteLevelBPETokenizer.load(directory: folder.path)
        } catch {
            return (error, folder)
        }
        Issue.record("loading \(files.keys.sorted()) succeeded")
        throw CancellationError()
    }

    func cause(_ error: any Error) -> TokenizerError? { (error as? FileError)?.cause as? TokenizerError ?? error as? TokenizerError }

    static let vocab = #"{"a": 0, "b": 1, "ab": 2, "Ġ": 3, "<s>": 4}"#

    func tokenizerJSON(model: String = #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}"#,
                       pre: String = #"{"type": "ByteLevel", "add_prefix_space": false}"#,
                       post: String = "null", decoder: String = #"{"type": "ByteLevel"}"#, normalizer: String = "null") -> String {
        #"{"added_tokens": [], "normalizer": \#(normalizer), "pre_tokenizer": \#(pre), "post_processor": \#(post), "decoder": \#(decoder), "model": \#(model)}"#
    }

    @Test func mergesLineNotTwoTokens() throws {
        let (error, folder) = try loadError(["vocab.json": Self.vocab, "merges.txt": "#version: 0.2\na b\nab\n"])
        #expect(cause(error) == .invalidMerge(location: "line 3", found: "ab"))
        #expect("\(error)" == "\(folder.file("merges.txt")): line 3: a merge must be two tokens separated by one space, found \"ab\"")
    }

    @Test func mergesLineWithTwoSpaces() throws {
        let (error, _) = try loadError(["vocab.json": Self.vocab, "merges.txt": "a  b\n"])
        #expect(cause(error) == .invalidMerge(location: "line 1", found: "a  b"))
    }

    @Test func mergesEmptyLineInTheMiddle() throws {
        let (error, _) = try loadError(["vocab.json": Self.vocab, "merges.txt": "a b\n\na b\n"])
        #expect(cause(error) == .invalidMerge(location: "line 2", found: ""))
    }

    @Test func mergeTokenNotInVocabulary() throws {
        let (error, folder) = try loadError(["vocab.json": Self.vocab, "merges.txt": "a b\nb x\n"])
        #expect(cause(error) == .mergeTokenNotInVocabulary(location: "line 2", token: "x"))
        #expect("\(error)".hasPrefix(folder.file("merges.txt") + ": line 2: merge token \"x\""))
    }

    @Test func mergedTokenNotInVocabulary() throws {
        let (error, _) = try loadError(["vocab.json": Self.vocab, "merges.txt": "#version: 0.2\nb a\n"])
        #expect(cause(error) == .mergeTokenNotInVocabulary(location: "line 2", token: "ba"))
    }

    @Test func mergesNotUTF8() throws {
        let folder = TemporaryDirectory()
        try Data(Self.vocab.utf8).write(to: URL(fileURLWithPath: folder.file("vocab.json")))
        try Data([0x61, 0x20, 0x62, 0x0A, 0x61, 0x20, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: folder.file("merges.txt")))
        #expect { try ByteLevelBPETokenizer.load(directory: folder.path) } throws: { error in
            cause(error) == .invalidUTF8(line: 2) && "\(error)".hasPrefix(folder.file("merges.txt"))
        }
    }

    @Test func vocabNotAnObject() throws {
        let (error, folder) = try loadError(["vocab.json": #"["a", "b"]"#, "merges.txt": ""])
        #expect(cause(error) == .invalidField(path: "the file", expected: "an object of token ids"))
        #expect("\(error)".hasPrefix(folder.file("vocab.json") + ": "))
    }

    @Test func vocabIDNotAnInteger() throws {
        let (error, folder) = try loadError(["vocab.json": #"{"a": 0, "b": "one"}"#, "merges.txt": ""])
        #expect(cause(error) == .invalidField(path: "[\"b\"]", expected: "a token id (an integer from 0 to 16777215)"))
        #expect("\(error)".contains(folder.file("vocab.json")))
    }

    @Test func vocabHugeID() throws {
        let (error, _) = try loadError(["vocab.json": #"{"a": 2147483647}"#, "merges.txt": ""])
        #expect(cause(error) == .invalidField(path: "[\"a\"]", expected: "a token id (an integer from 0 to 16777215)"))
    }

    @Test func vocabEmpty() throws {
        let (error, _) = try loadError(["vocab.json": "{}", "merges.txt": ""])
        #expect(cause(error) == .emptyVocabulary)
    }

    @Test func vocabNotJSON() throws {
        let (error, folder) = try loadError(["vocab.json": #"{"a": 0,"#, "merges.txt": ""])
        guard case .invalidJSON = cause(error) else { Issue.record("\(error)"); return }
        #expect("\(error)".hasPrefix(folder.file("vocab.json") + ": "))
    }

    @Test func unknownTokenizerClass() throws {
        let (error, folder) = try loadError(["vocab.json": Self.vocab, "merges.txt": "a b\n",
                                             "tokenizer_config.json": #"{"tokenizer_class": "XLMRobertaTokenizer"}"#])
        #expect(cause(error) == .unsupportedSetting(path: "tokenizer_class", value: "\"XLMRobertaTokenizer\""))
        #expect("\(error)".contains(folder.file("tokenizer_config.json")))
    }

    @Test func tokenizerJSONMergeNotTwoTokens() throws {
        let (error, folder) = try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b", "a b c"]}"#)])
        #expect(cause(error) == .invalidMerge(location: "model.merges[1]", found: "a b c"))
        #expect("\(error)".hasPrefix(folder.file("tokenizer.json") + ": "))
    }

    @Test func tokenizerJSONMergePairMalformed() throws {
        let (error, _) = try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "BPE", "vocab": {"a": 0}, "merges": [["a"]]}"#)])
        #expect(cause(error) == .invalidField(path: "model.merges[0]", expected: "\"a b\" or [\"a\", \"b\"]"))
    }

    @Test func tokenizerJSONMergeTokenMissing() throws {
        let (error, _) = try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a", "b"]]}"#)])
        #expect(cause(error) == .mergeTokenNotInVocabulary(location: "model.merges[0]", token: "ab"))
    }

    @Test func tokenizerJSONWordPieceModel() throws {
        let (error, _) = try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "WordPiece", "vocab": {"a": 0}}"#)])
        #expect(cause(error) == .unsupportedSetting(path: "model.type", value: "\"WordPiece\""))
    }

    @Test func tokenizerJSONDropout() throws {
        let (error, _) = try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "BPE", "dropout": 0.1, "vocab": {"a": 0}, "merges": []}"#)])
        #expect(cause(error) == .unsupportedSetting(path: "model.dropout", value: "0.1"))
    }

    @Test func tokenizerJSONOtherSplitPattern() throws {
        let pre = #"{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "use_regex": false}]}"#
        let (error, _) = try loadError(["tokenizer.json": tokenizerJSON(pre: pre)])
        #expect(cause(error) == .unsupportedSetting(path: "pre_tokenizer.pretokenizers[0].pattern", value: "\"\\\\s+\""))
    }

    @Test func tokenizerJSONMetaspace() throws {
        let (error, _) = try loadError(["tokenizer.json": tokenizerJSON(pre: #"{"type": "Metaspace"}"#)])
        #expect(cause(error) == .unsupportedSetting(path: "pre_tokenizer.type", value: "\"Metaspace\""))
        #expect("\(error)".hasSuffix("pre_tokenizer.type \"Metaspace\" is not supported by bertkit's byte-level BPE tokenizer"))
    }

    @Test func tokenizerJSONNormalizer() throws {
        let (error, _) = try loadError(["tokenizer.json": tokenizerJSON(normalizer: #"{"type": "NFC"}"#)])
        #expect(cause(error) == .unsupportedSetting(path: "normalizer.type", value: "\"NFC\""))
    }

    @Test func tokenizerJSONRobertaWithoutIDs() throws {
        let (error, _) = try loadError(["tokenizer.json": tokenizerJSON(post: #"{"type": "RobertaProcessing", "sep": ["</s>"], "cls": ["<s>", 0]}"#)])
        #expect(cause(error) == .invalidField(path: "post_processor.sep", expected: "a [token, id] pair"))
    }

    @Test func hostileInputsNeverCrash() throws {
        // Truncated and garbled versions of a valid tokenizer.json load or fail with an error, never trap.
        let valid = Array(tokenizerJSON().utf8)
        let folder = TemporaryDirectory()
        for cut in stride(from: 0, to: valid.count, by: 7) {
            try Data(valid[..<cut]).write(to: URL(fileURLWithPath: folder.file("tokenizer.json")))
            _ = try? ByteLevelBPETokenizer.load(directory: folder.path)
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15       // a fixed-seed LCG: the same garbling every run
        func next() -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(state >> 33) }
        for _ in 0..<200 {
            var bytes = valid
            for _ in 0..<3 { bytes[next() % bytes.count] = UInt8(next() & 0xFF) }
            try Data(bytes).write(to: URL(fileURLWithPath: folder.file("tokenizer.json")))
            if let tokenizer = try? ByteLevelBPETokenizer.load(directory: folder.path) {
                _ = try? tokenizer.encode("ab a b 😀 <s>", pair: "x")
            }
        }
    }

    @Test func paddingWithoutPadTokenIsRefused() throws {
        let folder = TemporaryDirectory()
        try Data(tokenizerJSON().utf8).write(to: URL(fileURLWithPath: folder.file("tokenizer.json")))
        let tokenizer = try ByteLevelBPETokenizer.load(directory: folder.path)
        #expect(tokenizer.padToken == nil)
        #expect(throws: TokenizerError.self) { try tokenizer.encode("ab", options: EncodeOptions(padding: Padding(length: .fixed(4)))) }
        // bytes the tiny vocabulary lacks are dropped (no unk_token), as in the reference
        #expect(try tokenizer.encode("ab xa").ids == [2, 0])
    }
}
