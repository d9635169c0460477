// Missing and malformed tokenizer files: one test per error, each checking the case and that the
// message names the file at fault.

import Foundation
import Testing
import TensorCore
import TestSupport
import Tokenizer

@Suite struct LoadingErrorTests {
    /// Writes `files` into a fresh directory and loads it; returns the error it throws.
    func loadError(_ files: [String: [UInt8]]) throws -> (error: any Error, folder: TemporaryDirectory) {
        let folder = TemporaryDirectory()
        for (name, bytes) in files { try Data(bytes).write(to: URL(fileURLWithPath: folder.file(name))) }
        do {
            _ = try BertTokenizer.load(directory: folder.path)
        } catch {
            return (error, folder)
        }
        Issue.record("loading \(files.keys.sorted()) succeeded")
        throw CancellationError()
    }

    func cause(_ error: any Error) -> TokenizerError? { (error as? FileError)?.cause as? TokenizerError ?? error as? TokenizerError }

    static let vocab = Array("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n".utf8)

    func tokenizerJSON(model: String = #"{"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 1}}"#,
                       normalizer: String = #"{"type": "BertNormalizer"}"#) -> [UInt8] {
        Array(#"{"added_tokens": [], "normalizer": \#(normalizer), "pre_tokenizer": {"type": "BertPreTokenizer"}, "post_processor": null, "decoder": null, "model": \#(model)}"#.utf8)
    }

    @Test func directoryWithoutVocabulary() throws {
        let (error, folder) = try loadError(["config.json": Array("{}".utf8)])
        #expect(cause(error) == .noVocabulary(directory: folder.path))
        #expect("\(error)".contains(folder.path))
    }

    @Test func vocabTXTNotUTF8() throws {
        let (error, folder) = try loadError(["vocab.txt": Array("[UNK]\nok\n".utf8) + [0x66, 0xFF, 0x0A]])
        #expect(cause(error) == .invalidUTF8(line: 3))
        #expect("\(error)".hasPrefix(folder.file("vocab.txt") + ": "))
    }

    @Test func vocabTXTEmpty() throws {
        let (error, folder) = try loadError(["vocab.txt": []])
        #expect(cause(error) == .emptyVocabulary)
        #expect("\(error)".contains(folder.file("vocab.txt")))
    }

    @Test func vocabTXTWithoutUnknownToken() throws {
        let (error, folder) = try loadError(["vocab.txt": Array("[PAD]\nhello\n".utf8)])
        #expect(cause(error) == .unknownTokenMissing("[UNK]"))
        #expect("\(error)".contains(folder.file("vocab.txt")))
    }

    @Test func tokenizerConfigMalformed() throws {
        let (error, folder) = try loadError(["vocab.txt": Self.vocab, "tokenizer_config.json": Array(#"{"do_lower_case": "yes"}"#.utf8)])
        #expect(cause(error) == .invalidField(path: "do_lower_case", expected: "true or false"))
        #expect("\(error)".contains(folder.file("tokenizer_config.json")))
        let (notJSON, _) = try loadError(["vocab.txt": Self.vocab, "tokenizer_config.json": Array("{".utf8)])
        guard case .invalidJSON = cause(notJSON) else { Issue.record("\(notJSON)"); return }
    }

    @Test func tokenizerJSONNotJSON() throws {
        let (error, folder) = try loadError(["tokenizer.json": Array("{\"model\": ".utf8)])
        guard case .invalidJSON(let reason) = cause(error) else { Issue.record("\(error)"); return }
        #expect(reason.contains("byte"))
        #expect("\(error)".contains(folder.file("tokenizer.json")))
    }

    @Test func tokenizerJSONOtherModel() throws {
        let (error, _) = try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "BPE", "vocab": {}, "merges": []}"#)])
        #expect(cause(error) == .unsupported(component: "model", type: "BPE"))
    }

    @Test func tokenizerJSONBadVocabularyEntry() throws {
        let (error, _) = try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "WordPiece", "vocab": {"[UNK]": 0, "a": "1"}}"#)])
        #expect(cause(error) == .invalidField(path: #"model.vocab["a"]"#, expected: "a token id (a non-negative integer)"))
    }

    @Test func tokenizerJSONMissingVocabulary() throws {
        let (error, _) = try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "WordPiece"}"#)])
        #expect(cause(error) == .invalidField(path: "model.vocab", expected: "an object of token ids"))
    }

    @Test func tokenizerJSONOtherNormalizer() throws {
        let (error, _) = try loadError(["tokenizer.json": tokenizerJSON(normalizer: #"{"type": "NFKC"}"#)])
        #expect(cause(error) == .unsupported(component: "normalizer", type: "NFKC"))
    }

    @Test func tokenizerJSONWithoutUnknownToken() throws {
        let (error, _) = try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "WordPiece", "vocab": {"a": 0}}"#)])
        #expect(cause(error) == .unknownTokenMissing("[UNK]"))
    }

    @Test func templateNamesAMissingSpecialToken() throws {
        let post = #"{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "pair": [], "special_tokens": {}}"#
        let json = String(decoding: tokenizerJSON(), as: UTF8.self).replacingOccurrences(of: #""post_processor": null"#,
                                                                                         with: #""post_processor": \#(post)"#)
        let (error, _) = try loadError(["tokenizer.json": Array(json.utf8)])
        #expect(cause(error) == .templateTokenMissing("[CLS]"))
    }

    @Test func paddingWithoutPadToken() throws {
        let folder = TemporaryDirectory()
        try Data(tokenizerJSON()).write(to: URL(fileURLWithPath: folder.file("tokenizer.json")))
        let tokenizer = try BertTokenizer.load(directory: folder.path)
        #expect(tokenizer.padToken == nil)
        #expect(throws: TokenizerError.self) { try tokenizer.encode("a", options: EncodeOptions(padding: Padding(length: .fixed(4)))) }
        #expect(try tokenizer.encode("a a").ids == [1, 1])
    }
}
