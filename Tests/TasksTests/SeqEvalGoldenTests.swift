// SeqEval against seqeval 1.2.2 itself (Fixtures/ner/seqeval, made by Tools/fixtures/make_seqeval_fixtures.py): chunks,
// micro precision/recall/F1, token accuracy and the per-type report, in the default (conlleval) mode and in strict IOB2
// mode, on edge cases (I- after O, type changes, IOBES, tags without prefix, sentence boundaries) and random data.

import Testing
import Foundation
import TensorCore
import Tasks
import TestSupport

@Suite struct SeqEvalGoldenTests {
    nonisolated(unsafe) static let cases: [[String: Any]] = {
        let root = (try? Fixtures.json("ner/seqeval/seqeval_cases.json")) as? [String: Any]
        return root?["cases"] as? [[String: Any]] ?? []
    }()
    static let names = cases.map { $0["name"] as! String }
    /// The same cases parsed by TensorCore's JSON reader, by name.
    nonisolated(unsafe) static let exactCases: [String: JSONValue] = {
        guard let bytes = try? readFileBytes(Fixtures.path("ner/seqeval/seqeval_cases.json")),
              let root = try? JSONReader.parse(bytes), let cases = root["cases"]?.arrayValue else { return [:] }
        return Dictionary(cases.map { ($0["name"]?.stringValue ?? "", $0) }, uniquingKeysWith: { a, _ in a })
    }()

    @Test func everyCaseIsThere() {
        #expect(Self.cases.count >= 20)
    }

    static func tags(_ value: Any?) -> [[String]] { value as! [[String]] }

    @Test(arguments: names)
    func matchesSeqeval(_ name: String) throws {
        let c = try #require(Self.cases.first { $0["name"] as? String == name })
        let truth = Self.tags(c["y_true"]), predicted = Self.tags(c["y_pred"])
        for (mode, key) in [(SeqEval.Mode.default, "default"), (.strict, "strict")] {
            let expected = c[key] as! [String: Any]
            // Chunks, one sentence at a time (default: [type, start, end inclusive]; strict: [tag, start, end exclusive]).
            for (sentences, field) in [(truth, "entities_true"), (predicted, "entities_pred")] {
                guard let recorded = expected[field] as? [[[Any]]] else {
                    #expect(throws: SeqEval.Error.self, "\(key) \(field)") { for s in sentences { _ = try SeqEval.entities([s], mode: mode) } }
                    continue
                }
                for (sentence, chunks) in zip(sentences, recorded) {
                    let mine = try SeqEval.entities([sentence], mode: mode)
                    let theirs = chunks.map { SeqEval.Entity(type: $0[0] as! String, start: ($0[1] as! NSNumber).intValue,
                                                             end: ($0[2] as! NSNumber).intValue - (mode == .strict ? 1 : 0)) }
                    #expect(mine == theirs, "\(key) \(field) \(sentence)")
                }
            }
            if let flat = expected["entities_true_flat"] as? [[Any]], mode == .default {
                let mine = try SeqEval.entities(truth, mode: .default)
                #expect(mine.map { [$0.type, String($0.start), String($0.end)] } == flat.map { ["\($0[0])", "\($0[1])", "\($0[2])"] })
            }
            if expected["error"] is NSNull == false, expected["error"] != nil {
                #expect(throws: SeqEval.Error.self, "\(key): seqeval raised \(expected["error"]!)") {
                    try SeqEval.scores(truth: truth, predicted: predicted, mode: mode)
                }
                continue
            }
            // The numbers bit for bit: read with TensorCore's JSON reader, whose Double(String) rounds correctly
            // (Foundation's JSONSerialization on Linux can be off in the last bit).
            let exact = try #require(Self.exactCases[name]?[key])
            let scores = try SeqEval.scores(truth: truth, predicted: predicted, mode: mode)
            #expect(scores.precision == exact["precision"]?.doubleValue, "\(key) precision")
            #expect(scores.recall == exact["recall"]?.doubleValue, "\(key) recall")
            #expect(scores.f1 == exact["f1"]?.doubleValue, "\(key) f1")
            #expect(scores.accuracy == Self.exactCases[name]?["accuracy"]?.doubleValue, "accuracy")
            let report = try #require(exact["report"]?.objectValue)
            let types = report.members.map(\.key).filter { !$0.hasSuffix(" avg") }.sorted()
            #expect(scores.perType.map(\.type) == types, "\(key) types")
            for row in scores.perType {
                guard let theirs = report[row.type] else { continue }
                #expect(row.precision == theirs["precision"]?.doubleValue, "\(key) \(row.type) precision")
                #expect(row.recall == theirs["recall"]?.doubleValue, "\(key) \(row.type) recall")
                #expect(row.f1 == theirs["f1-score"]?.doubleValue, "\(key) \(row.type) f1")
                #expect(row.support == theirs["support"]?.intValue, "\(key) \(row.type) support")
            }
        }
    }
}
