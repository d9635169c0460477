// Long sentences become overlapping windows, never cut short (issue 12): every window fits, every word's label is
// placed exactly once, from the window where it has the most context.

import Testing
import Tokenizer
import Training
import Bert
import Tasks
import TestSupport

@Suite struct WindowTests {
    @Test(arguments: [(10, 4), (11, 4), (100, 30), (31, 30), (30, 30), (7, 1), (0, 5)])
    func everyTokenHasOneOwnerInsideItsWindow(_ count: Int, _ room: Int) {
        let windows = TokenWindows(count: count, room: room)
        #expect(windows.owner.count == count)
        #expect(windows.ranges.allSatisfy { $0.count <= room })
        #expect(windows.ranges.first?.lowerBound == 0 && windows.ranges.last?.upperBound == count)
        for t in 0..<count { #expect(windows.ranges[windows.owner[t]].contains(t)) }
        if count <= room { #expect(windows.ranges.count == 1) }
        // Ownership moves forward only: each window owns one contiguous run.
        #expect(windows.owner == windows.owner.sorted())
    }

    @Test func aLongSentenceIsSplitAndEveryWordLabelledOnce() throws {
        let tokenizer = try BertTokenizer.load(directory: Fixtures.path("ner/tiny-ner"))
        let words = (0..<40).map { ["alice", "visited", "paris", "."][$0 % 4] }
        let tags = (0..<40).map { ["B-PER", "O", "B-LOC", "O"][$0 % 4] }
        let labels = LabelSet(names: ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"], problemType: .singleLabelClassification)
        let task = TokenClassificationTask()
        let sentence = TaggedSentence(words: words, tags: tags, line: 7, oneWordPerLine: true)
        let encoded = try task.encode([sentence], file: "x.conll", labels: labels, tokenizer: tokenizer, maxLength: 16)
        #expect(encoded.examples.count > 2 && encoded.sourceCount == 1)
        #expect(encoded.notes.count == 1 && encoded.notes[0].hasPrefix("1 sentence of x.conll longer than 16 tokens was split"))
        var placed: [Int] = []
        for example in encoded.examples {
            #expect(example.ids.count <= 16 && example.line == 7)
            guard case .tokens(let targets) = example.target else { Issue.record("not token targets"); return }
            placed += targets.filter { $0 != Labels.ignoreIndex }
        }
        // "visited" is two pieces (visit ##ed) here or one, either way each word is labelled once, in order.
        #expect(placed == tags.map { labels.names.firstIndex(of: $0)! })
        let short = try task.encode([sentence], file: "x.conll", labels: labels, tokenizer: tokenizer, maxLength: 512)
        #expect(short.examples.count == 1 && short.notes.isEmpty)
    }
}
