// Masked-LM data and masking against transformers (Fixtures/mlm, made by Tools/fixtures/make_mlm_fixtures.py): the
// blocks of run_mlm.py's group_texts (map batches of 1,000 lines, each dropping its remainder) and its line-by-line
// examples, transformers 5's whole-word groups (tokens that touch), and DataCollatorForLanguageModeling's masking
// rates over many draws (within 4 sigma). The masks themselves come from bertkit's own streams, not torch's.

import Testing
import Foundation
import TensorCore
import Tokenizer
import Bert
import Training
import Tasks
import TestSupport

@Suite struct MaskedLMTests {
    nonisolated(unsafe) static let groupTexts = (try? Fixtures.json("mlm/group_texts.json")) as? [String: Any] ?? [:]
    nonisolated(unsafe) static let wholeWord = (try? Fixtures.json("mlm/whole_word.json")) as? [String: Any] ?? [:]

    static func minilm() throws -> BertTokenizer {
        let directory = Fixtures.cacheDirectory + "/models/all-MiniLM-L6-v2"
        try #require(FileManager.default.fileExists(atPath: directory + "/vocab.txt"), "run Tools/fetch first")
        return try BertTokenizer.load(directory: directory)
    }

    /// The fixture's lines read with TensorCore's JSON reader (Foundation's drops a lone U+FEFF line's character).
    static func lines() throws -> [String] {
        try JSONReader.parse(readFileBytes(Fixtures.path("mlm/group_texts.json")))["lines"]!.arrayValue!.map { $0.stringValue! }
    }

    static func corpus() throws -> (TemporaryDirectory, String) {
        let folder = TemporaryDirectory()
        let lines = try Self.lines()
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: folder.file("corpus.txt")))
        return (folder, folder.file("corpus.txt"))
    }

    @Test(arguments: [32, 128])
    func blocksEqualGroupTexts(_ length: Int) throws {
        let tokenizer = try Self.minilm()
        let (folder, path) = try Self.corpus()
        _ = folder
        let task = MaskedLMTask()
        let lines = try task.read(path)
        #expect(lines.count == (try Self.lines()).count - (Self.groupTexts["blank_lines"] as! Int))
        let labels = LabelSet(names: ["LABEL_0", "LABEL_1"], problemType: .singleLabelClassification)
        let encoded = try task.encode(lines, file: path, labels: labels, tokenizer: tokenizer, maxLength: length)
        let expected = (Self.groupTexts["grouped_without_blank_lines"] as! [String: [[Int]]])[String(length)]!
        #expect(encoded.examples.count == expected.count)
        #expect(encoded.examples.map { $0.ids.map(Int.init) } == expected)
    }

    @Test func lineByLineEqualsRunMLM() throws {
        let tokenizer = try Self.minilm()
        let all = try Self.lines()
        let folder = TemporaryDirectory()
        try Data((all.prefix(200).joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: folder.file("c.txt")))
        let task = MaskedLMTask(lineByLine: true)
        let lines = try task.read(folder.file("c.txt"))
        let encoded = try task.encode(lines, file: "c.txt", labels: LabelSet(names: [], problemType: .singleLabelClassification),
                                      tokenizer: tokenizer, maxLength: 32)
        let expected = ((Self.groupTexts["line_by_line"] as! [String: Any])["examples"] as! [[String: Any]]).map { $0["input_ids"] as! [Int] }
        #expect(encoded.examples.map { $0.ids.map(Int.init) } == expected)
    }

    /// Words as transformers 5's whole-word masking finds them under the Trainer (special ids recomputed).
    @Test func wholeWordGroupsEqualTransformers() throws {
        let tokenizer = try Self.minilm()
        let sentences = Self.wholeWord["sentences"] as! [[String: Any]]
        #expect(sentences.count >= 100)
        let specials = tokenizer.specialTokenIDs
        for sentence in sentences {
            let encoding = try tokenizer.encode(sentence["text"] as! String)
            #expect(encoding.ids.map(Int.init) == sentence["input_ids"] as! [Int])
            let flags = MaskedLMTask.flags(encoding, specialIDs: specials)
            var groups: [[Int]] = []
            for t in flags.indices where flags[t] & EncodedExample.specialToken == 0 {
                if flags[t] & EncodedExample.continuesWord != 0, !groups.isEmpty { groups[groups.count - 1].append(t) } else { groups.append([t]) }
            }
            #expect(groups == sentence["groups_ids_special"] as! [[Int]], "\(sentence["text"]!)")
        }
    }

    /// 15 % of the maskable tokens chosen, of those 80 % [MASK], 10 % random (any id), 10 % unchanged; specials
    /// never; the observable rates carry the 1/V chance that a random draw repeats [MASK] or the original token.
    @Test func maskingRatesAreTheCollators() throws {
        let blocks = (Self.groupTexts["grouped_without_blank_lines"] as! [String: [[Int]]])["128"]!.prefix(64)
        let maskID: Int32 = 103, vocabulary = 30522
        let specialIDs: Set<Int32> = [0, 100, 101, 102, 103]
        var masking = TokenMasking(probability: 0.15, wholeWordMask: false, maskID: maskID, vocabularySize: vocabulary, seed: 7)
        var maskable = 0, chosen = 0, asMask = 0, unchanged = 0
        for epoch in 0..<25 {
            for (index, block) in blocks.enumerated() {
                var example = EncodedExample(ids: block.map(Int32.init), typeIds: [], target: .tokens([]))
                example.feature = index
                example.tokenFlags = example.ids.map { specialIDs.contains($0) ? EncodedExample.specialToken : 0 }
                let (ids, labels) = masking.mask(example, pass: .training(epoch: epoch))
                for t in ids.indices {
                    if specialIDs.contains(example.ids[t]) {
                        #expect(labels[t] == Labels.ignoreIndex && ids[t] == example.ids[t], "a special token was masked")
                        continue
                    }
                    maskable += 1
                    guard labels[t] != Labels.ignoreIndex else { #expect(ids[t] == example.ids[t]); continue }
                    chosen += 1
                    #expect(labels[t] == Int(example.ids[t]))
                    if ids[t] == maskID { asMask += 1 } else if ids[t] == example.ids[t] { unchanged += 1 }
                }
            }
        }
        func within4Sigma(_ k: Int, _ n: Int, _ p: Double) -> Bool {
            abs(Double(k) - Double(n) * p) <= 4 * (Double(n) * p * (1 - p)).squareRoot()
        }
        #expect(within4Sigma(chosen, maskable, 0.15), "\(chosen) of \(maskable)")
        #expect(within4Sigma(asMask, chosen, 0.8 + 0.1 / Double(vocabulary)), "[MASK] \(asMask) of \(chosen)")
        #expect(within4Sigma(unchanged, chosen, 0.1 + 0.1 / Double(vocabulary)), "unchanged \(unchanged) of \(chosen)")
        // Reproducible from (seed, epoch, block); a new epoch draws anew; evaluation is one fixed set.
        var example = EncodedExample(ids: blocks.first!.map(Int32.init), typeIds: [], target: .tokens([]))
        example.tokenFlags = example.ids.map { specialIDs.contains($0) ? EncodedExample.specialToken : 0 }
        #expect(masking.mask(example, pass: .training(epoch: 3)).labels == masking.mask(example, pass: .training(epoch: 3)).labels)
        #expect(masking.mask(example, pass: .training(epoch: 3)).labels != masking.mask(example, pass: .training(epoch: 4)).labels)
        #expect(masking.mask(example, pass: .evaluation).labels == masking.mask(example, pass: .evaluation).labels)
        masking.seed = 8
        #expect(masking.mask(example, pass: .evaluation).labels != TokenMasking(probability: 0.15, wholeWordMask: false, maskID: maskID,
                                                                               vocabularySize: vocabulary, seed: 7).mask(example, pass: .evaluation).labels)
    }

    /// Whole words: every piece of a chosen word, [MASK] only; words chosen at 15 %.
    @Test func wholeWordMasking() throws {
        let tokenizer = try Self.minilm()
        let specials = tokenizer.specialTokenIDs
        let masking = TokenMasking(probability: 0.15, wholeWordMask: true, maskID: 103, vocabularySize: 30522, seed: 9)
        var words = 0, chosenWords = 0
        for (index, sentence) in (Self.wholeWord["sentences"] as! [[String: Any]]).enumerated() {
            let encoding = try tokenizer.encode(sentence["text"] as! String)
            var example = EncodedExample(ids: encoding.ids, typeIds: encoding.typeIDs, target: .tokens([]))
            example.feature = index
            example.tokenFlags = MaskedLMTask.flags(encoding, specialIDs: specials)
            let groups = sentence["groups_ids_special"] as! [[Int]]
            for epoch in 0..<40 {
                let (ids, labels) = masking.mask(example, pass: .training(epoch: epoch))
                for group in groups {
                    words += 1
                    let masked = group.map { labels[$0] != Labels.ignoreIndex }
                    #expect(masked.allSatisfy { $0 } || masked.allSatisfy { !$0 }, "a word half masked")
                    if masked[0] { chosenWords += 1; #expect(group.allSatisfy { ids[$0] == 103 }) }
                }
            }
        }
        #expect(abs(Double(chosenWords) - Double(words) * 0.15) <= 4 * (Double(words) * 0.15 * 0.85).squareRoot(), "\(chosenWords) of \(words)")
    }
}
