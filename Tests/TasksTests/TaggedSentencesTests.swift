// Issue 12: CoNLL and JSONL tagged sentences, and every refusal naming FILE:LINE.

import Testing
import Foundation
import TensorCore
import Tasks
import TestSupport

@Suite struct TaggedSentencesTests {
    func write(_ text: String, _ name: String, in folder: TemporaryDirectory) throws -> String {
        try text.write(toFile: folder.file(name), atomically: true, encoding: .utf8)
        return folder.file(name)
    }

    @Test func conllColumnsDocstartAndBlankLines() throws {
        let folder = TemporaryDirectory()
        let path = try write("-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n\nPeter\tNNP\tB-NP\tB-PER\nBlackburn NNP I-NP I-PER\r\n-DOCSTART- -X- -X- O\nBRUSSELS NNP B-NP B-LOC\n",
                             "train.conll", in: folder)
        let sentences = try TaggedSentences.read(path: path)
        #expect(sentences.map(\.words) == [["EU", "rejects"], ["Peter", "Blackburn"], ["BRUSSELS"]])
        #expect(sentences.map(\.tags) == [["B-ORG", "O"], ["B-PER", "I-PER"], ["B-LOC"]])
        #expect(sentences.map(\.line) == [3, 7, 10])
        #expect(sentences[1].line(ofWord: 1) == 8)
        let chunks = try TaggedSentences.read(path: path, columns: TaggedColumns(tags: "3"))
        #expect(chunks[0].tags == ["B-NP", "B-VP"])
    }

    @Test func jsonlWithNamesOrIds() throws {
        let folder = TemporaryDirectory()
        let path = try write(#"{"tokens": ["EU", "rejects"], "ner_tags": ["B-ORG", "O"]}"# + "\n\n" + #"{"tokens": ["Peter"], "ner_tags": [1]}"# + "\n",
                             "train.jsonl", in: folder)
        let sentences = try TaggedSentences.read(path: path)
        #expect(sentences.map(\.tags) == [["B-ORG", "O"], ["1"]])
        #expect(sentences.map(\.tagsAreIDs) == [false, true])
        #expect(sentences.map(\.line) == [1, 3])
        let renamed = try write(#"{"words": ["a"], "tags": ["O"]}"#, "renamed.jsonl", in: folder)
        #expect(try TaggedSentences.read(path: renamed, columns: TaggedColumns(words: "words", tags: "tags")).count == 1)
    }

    @Test(arguments: [
        ("a.conll", "EU B-ORG\nrejects\n", ":2: a word without a label: 1 column"),
        ("b.jsonl", #"{"tokens": ["EU"], "ner_tags": ["B-ORG"]}"# + "\n" + #"{"tokens": ["a", "b"], "ner_tags": ["O"]}"#, ":2: 2 tokens but 1 tags"),
        ("c.conll", "", ": no sentences"),
        ("d.conll", "-DOCSTART- -X- O\n\n\n", ": no sentences"),
        ("e.jsonl", #"{"tokens": "EU", "ner_tags": ["O"]}"#, ":1: 'tokens' must be a list of strings"),
        ("f.jsonl", #"{"tokens": ["EU"]}"#, ":1: no 'ner_tags'"),
        ("g.jsonl", "[1, 2]", ":1: not a JSON object"),
    ])
    func badFilesNameTheLine(_ name: String, _ contents: String, _ message: String) throws {
        let folder = TemporaryDirectory()
        let path = try write(contents, name, in: folder)
        #expect {
            try TaggedSentences.read(path: path)
        } throws: { error in
            "\(error)".hasPrefix(path + message)
        }
    }
}
