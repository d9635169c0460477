// Entity-level metrics as seqeval 1.2.2 computes them (seqeval/metrics/sequence_labeling.py and v1.py,
// seqeval/scheme.py): entities are chunks of tags, scored as sets of (type, start, end) over all sentences.
// Two ways to find the chunks:
// - the default, conlleval-compatible one (`get_entities`): a chunk starts at B-, S-, or at an I-/E- that does not
//   continue the previous tag's type, and ends where the next tag cannot continue it — so `O I-PER` is an entity;
// - strict mode with the IOB2 scheme (`mode='strict', scheme=IOB2`): only B- starts an entity and only I- of the
//   same type continues it; a stray I- belongs to no entity.
// run_ner.py's `compute_metrics` reports precision, recall and F1 (micro over entities) and token accuracy.

package enum SeqEval {
    package enum Mode: String, Sendable, CaseIterable {
        /// conlleval's chunking (seqeval's default).
        case `default`
        /// IOB2 entities only (seqeval's `mode='strict', scheme=IOB2`).
        case strict
    }

    package struct Entity: Hashable, Sendable {
        package var type: String
        /// Tag positions over all sentences, sentences laid end to end (start and end inclusive).
        package var start: Int
        package var end: Int
        package init(type: String, start: Int, end: Int) { self.type = type; self.start = start; self.end = end }
    }

    package enum Error: Swift.Error, CustomStringConvertible, Equatable {
        /// Strict IOB2 accepts only B-, I- and O tags.
        case invalidTag(String)
        /// Truth and predictions of different lengths (seqeval raises too).
        case inconsistentLengths(truth: Int, predicted: Int)
        package var description: String {
            switch self {
            case .invalidTag(let tag): return "tag '\(tag)' is not IOB2 (strict mode takes tags starting with B, I or O)"
            case .inconsistentLengths(let truth, let predicted): return "\(truth) true tags but \(predicted) predicted"
            }
        }
    }

    /// Entities of sentences laid end to end. The default mode puts an `O` between sentences, as seqeval does
    /// with nested lists, so no entity crosses a sentence boundary; positions count that separator.
    package static func entities(_ sentences: [[String]], mode: Mode) throws(Error) -> [Entity] {
        switch mode {
        case .default:
            var flat: [String] = []
            for sentence in sentences { flat += sentence; flat.append("O") }
            return chunks(flat)
        case .strict:
            var result: [Entity] = [], offset = 0
            for sentence in sentences {
                result += try iob2Entities(sentence).map { Entity(type: $0.type, start: $0.start + offset, end: $0.end + offset) }
                offset += sentence.count
            }
            return result
        }
    }

    // MARK: Default mode: seqeval's get_entities / end_of_chunk / start_of_chunk

    /// `get_entities(seq)`: the tag is the first character, the type what follows the first '-' (or '_' when empty).
    static func chunks(_ sequence: [String]) -> [Entity] {
        var previousTag: Character = "O", previousType = "", begin = 0
        var result: [Entity] = []
        for (i, chunk) in (sequence + ["O"]).enumerated() {
            let tag = chunk.first ?? "O"
            let rest = chunk.dropFirst()
            var type = rest.firstIndex(of: "-").map { String(rest[rest.index(after: $0)...]) } ?? String(rest)
            if type.isEmpty { type = "_" }
            if endOfChunk(previousTag, tag, previousType, type) { result.append(Entity(type: previousType, start: begin, end: i - 1)) }
            if startOfChunk(previousTag, tag, previousType, type) { begin = i }
            previousTag = tag
            previousType = type
        }
        return result
    }

    static func endOfChunk(_ prevTag: Character, _ tag: Character, _ prevType: String, _ type: String) -> Bool {
        if prevTag == "E" || prevTag == "S" { return true }
        if prevTag == "B" && (tag == "B" || tag == "S" || tag == "O") { return true }
        if prevTag == "I" && (tag == "B" || tag == "S" || tag == "O") { return true }
        if prevTag != "O" && prevTag != "." && prevType != type { return true }
        return false
    }

    static func startOfChunk(_ prevTag: Character, _ tag: Character, _ prevType: String, _ type: String) -> Bool {
        if tag == "B" || tag == "S" { return true }
        if (prevTag == "E" || prevTag == "S" || prevTag == "O") && (tag == "E" || tag == "I") { return true }
        if tag != "O" && tag != "." && prevType != type { return true }
        return false
    }

    // MARK: Strict IOB2

    /// seqeval.scheme's `Tokens(sentence, IOB2).entities` (end exclusive there; inclusive here). A token's prefix is its
    /// first character and must be B, I or O (seqeval raises otherwise); its type is the rest with '-' stripped from
    /// both ends, or '_'. An entity starts only at B and runs over the following I of the same type; a stray I is in
    /// no entity.
    static func iob2Entities(_ sentence: [String]) throws(Error) -> [Entity] {
        var parsed: [(prefix: Character, type: String)] = []
        for tag in sentence {
            guard let prefix = tag.first, prefix == "B" || prefix == "I" || prefix == "O" else { throw .invalidTag(tag) }
            var type = tag.dropFirst()
            while type.first == "-" { type = type.dropFirst() }
            while type.last == "-" { type = type.dropLast() }
            parsed.append((prefix, type.isEmpty ? "_" : String(type)))
        }
        var result: [Entity] = []
        var i = 0
        while i < parsed.count {
            guard parsed[i].prefix == "B" else { i += 1; continue }
            var end = i + 1
            while end < parsed.count && parsed[end].prefix == "I" && parsed[end].type == parsed[i].type { end += 1 }
            result.append(Entity(type: parsed[i].type, start: i, end: end - 1))
            i = end
        }
        return result
    }

    // MARK: Scores

    package struct Scores: Sendable, Equatable {
        package var precision: Double
        package var recall: Double
        package var f1: Double
        /// Token accuracy (`accuracy_score`): equal tags over all tags.
        package var accuracy: Double
        /// Per entity type, sorted by name: precision, recall, F1 and support (true entities of the type).
        package var perType: [EntityTypeScoreValue]
    }

    package struct EntityTypeScoreValue: Sendable, Equatable {
        package var type: String
        package var precision: Double, recall: Double, f1: Double
        package var support: Int
    }

    /// run_ner.py's metrics: micro precision/recall/F1 over entities (0 where undefined, as seqeval's
    /// zero_division default after its warning), token accuracy, and the per-type report.
    package static func scores(truth: [[String]], predicted: [[String]], mode: Mode = .default) throws(Error) -> Scores {
        let trueCount = truth.reduce(0) { $0 + $1.count }, predictedCount = predicted.reduce(0) { $0 + $1.count }
        guard trueCount == predictedCount else { throw .inconsistentLengths(truth: trueCount, predicted: predictedCount) }
        let trueEntities = try entities(truth, mode: mode), predictedEntities = try entities(predicted, mode: mode)
        var trueByType: [String: Set<Entity>] = [:], predictedByType: [String: Set<Entity>] = [:]
        for e in trueEntities { trueByType[e.type, default: []].insert(e) }
        for e in predictedEntities { predictedByType[e.type, default: []].insert(e) }
        var tpSum = 0, predSum = 0, trueSum = 0
        var perType: [EntityTypeScoreValue] = []
        for type in Set(trueByType.keys).union(predictedByType.keys).sorted() {
            let t = trueByType[type] ?? [], p = predictedByType[type] ?? []
            let tp = t.intersection(p).count
            tpSum += tp; predSum += p.count; trueSum += t.count
            let (precision, recall, f1) = prf(tp: tp, predicted: p.count, actual: t.count)
            perType.append(EntityTypeScoreValue(type: type, precision: precision, recall: recall, f1: f1, support: t.count))
        }
        let (precision, recall, f1) = prf(tp: tpSum, predicted: predSum, actual: trueSum)
        let pairs = zip(truth.joined(), predicted.joined())
        let total = truth.reduce(0) { $0 + $1.count }
        let accuracy = total == 0 ? 0 : Double(pairs.filter { $0 == $1 }.count) / Double(total)
        return Scores(precision: precision, recall: recall, f1: f1, accuracy: accuracy, perType: perType)
    }

    static func prf(tp: Int, predicted: Int, actual: Int) -> (Double, Double, Double) {
        let precision = predicted == 0 ? 0 : Double(tp) / Double(predicted)
        let recall = actual == 0 ? 0 : Double(tp) / Double(actual)
        let f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
        return (precision, recall, f1)
    }
}
