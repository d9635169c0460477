// Word ids, offsets and label alignment against transformers (Fixtures/ner/alignment.json, made by
// Tools/fixtures/make_ner_fixtures.py): the MiniLM tokenizer with is_split_into_words=True on 325 real sentences and
// tricky words (empty, zero-width, accents, CJK, emoji, [SEP] inside a word, > 100 characters), and run_ner.py's
// tokenize_and_align_labels with and without label_all_tokens.

import Testing
import Foundation
import Tokenizer
import Tasks
import TestSupport

@Suite struct AlignmentGoldenTests {
    nonisolated(unsafe) static let golden = (try? Fixtures.json("ner/alignment.json")) as? [String: Any] ?? [:]

    @Test func bToIIsRunNers() {
        let labels = Self.golden["label_list"] as! [String]
        #expect(TokenClassificationTask.bToI(labels) == (Self.golden["b_to_i_label"] as! [Int]))
    }

    @Test func wordIdsOffsetsAndLabelsEqualTransformers() throws {
        let directory = Fixtures.cacheDirectory + "/models/all-MiniLM-L6-v2"
        try #require(FileManager.default.fileExists(atPath: directory + "/vocab.txt"), "run Tools/fetch first")
        let tokenizer = try BertTokenizer.load(directory: directory)
        let labels = Self.golden["label_list"] as! [String]
        let index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
        let bToI = TokenClassificationTask.bToI(labels)
        let sentences = Self.golden["sentences"] as! [[String: Any]]
        #expect(sentences.count >= 300)
        var failures = 0
        for sentence in sentences {
            let words = sentence["words"] as! [String], tags = (sentence["tags"] as! [String]).map { index[$0]! }
            let encoding = tokenizer.encode(words: words)
            let wordIDs = (sentence["word_ids"] as! [Any]).map { ($0 as? NSNumber)?.intValue }
            let ok = encoding.ids.map(Int.init) == (sentence["input_ids"] as! [Int])
                && encoding.typeIDs.map(Int.init) == (sentence["token_type_ids"] as! [Int])
                && encoding.wordIDs == wordIDs
                && encoding.offsets.map { [$0.start, $0.end] } == (sentence["offset_mapping"] as! [[Int]])
            #expect(ok, "\(words): \(encoding.tokens) \(encoding.wordIDs)")
            for (allTokens, key) in [(false, "labels"), (true, "labels_all_tokens")] {
                let inner = TokenClassificationTask.align(wordIDs: encoding.wordIDs.compactMap { $0 }, tags: tags, labelAllTokens: allTokens, bToI: bToI)
                var aligned = [Int](repeating: -100, count: encoding.count), k = 0
                for t in 0..<encoding.count where encoding.wordIDs[t] != nil { aligned[t] = inner[k]; k += 1 }
                #expect(aligned == (sentence[key] as! [Int]), "\(key) of \(words)")
                if aligned != (sentence[key] as! [Int]) { failures += 1 }
            }
            if failures > 5 { break }
        }
    }
}
