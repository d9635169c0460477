// Question answering against the reference stack (Fixtures/qa, made by Tools/fixtures/make_qa_fixtures.py from
// transformers' own SQuAD test samples): run_qa.py's windows, offsets, sample mapping and labels at several lengths
// and strides; what happens when the stride leaves no room; postprocess_qa_predictions on the same logits (answers,
// n-best, null odds); the squad and squad_v2 metrics. Numbers are read with TensorCore's JSON reader (exact doubles).

import Testing
import Foundation
import TensorCore
import Tokenizer
import Tasks
import TestSupport

func qaFixture(_ name: String) -> JSONValue {
    (try? JSONReader.parse(readFileBytes(Fixtures.path("qa/" + name)))) ?? .null
}

func qaExample(_ record: JSONValue) -> QAExample {
    let answers = record["answers"]!
    let texts = answers["text"]!.arrayValue!.map { $0.stringValue! }, starts = answers["answer_start"]!.arrayValue!.map { $0.intValue! }
    return QAExample(id: record["id"]!.stringValue!, question: record["question"]?.stringValue ?? "", context: record["context"]?.stringValue ?? "",
                     answers: zip(texts, starts).map { QAExample.Answer(text: $0, start: $1) })
}

@Suite struct QAGoldenTests {
    nonisolated(unsafe) static let features = qaFixture("features.json")
    nonisolated(unsafe) static let postprocess = qaFixture("postprocess.json")
    nonisolated(unsafe) static let metrics = qaFixture("squad_metrics.json")

    static func minilm() throws -> BertTokenizer {
        let directory = Fixtures.cacheDirectory + "/models/all-MiniLM-L6-v2"
        try #require(FileManager.default.fileExists(atPath: directory + "/vocab.txt"), "run Tools/fetch first")
        return try BertTokenizer.load(directory: directory)
    }

    static func ints(_ value: JSONValue?) -> [Int] { value?.arrayValue?.map { $0.intValue! } ?? [] }

    /// Windows, type ids, sample mapping, validation offsets and training labels, unpadded (bertkit pads per batch).
    @Test func featuresEqualRunQA() throws {
        let tokenizer = try Self.minilm()
        let examples = Self.features["records"]!.arrayValue!.map(qaExample)
        #expect(examples.count >= 20)
        var settingsSeen = 0
        for setting in Self.features["settings"]!.arrayValue! where setting["pad_to_max_length"]?.boolValue == false {
            settingsSeen += 1
            let length = setting["max_seq_length"]!.intValue!, stride = setting["doc_stride"]!.intValue!
            let made = try QAFeatures.make(examples, tokenizer: tokenizer, maxLength: length, docStride: stride)
            let ids = setting["input_ids"]!.arrayValue!.map(Self.ints)
            #expect(made.count == ids.count, "(\(length), \(stride)): \(made.count) windows, run_qa \(ids.count)")
            let types = setting["token_type_ids"]!.arrayValue!.map(Self.ints)
            let mapping = Self.ints(setting["overflow_to_sample_mapping"])
            let starts = Self.ints(setting["train"]?["start_positions"]), ends = Self.ints(setting["train"]?["end_positions"])
            let offsets = setting["validation"]!["offset_mapping"]!.arrayValue!
            for (f, feature) in made.enumerated() where f < ids.count {
                let context = "(\(length), \(stride)) window \(f) of \(examples[feature.example].id)"
                #expect(feature.ids.map(Int.init) == ids[f] && feature.typeIds.map(Int.init) == types[f], "\(context)")
                #expect(feature.example == mapping[f], "\(context)")
                #expect(feature.startPosition == starts[f] && feature.endPosition == ends[f],
                        "\(context): (\(feature.startPosition), \(feature.endPosition)) vs (\(starts[f]), \(ends[f]))")
                let expected: [[Int]?] = offsets[f].arrayValue!.map { $0.isNull ? nil : Self.ints($0) }
                #expect(feature.offsets.map { $0.map { [$0.start, $0.end] } } == expected, "\(context) offsets")
            }
        }
        #expect(settingsSeen >= 5)
    }

    /// A stride that leaves no room is an error (tokenizers panics); room ≤ 0 is the truncation error; a context that
    /// fits needs no room. max_length ≤ 3 (no room for any context) is refused here, where tokenizers silently does not
    /// truncate (< 3) or makes four odd windows (= 3).
    @Test func strideWithoutRoom() throws {
        let tokenizer = try Self.minilm()
        for c in Self.features["no_room"]!.arrayValue! {
            let question = String(c["question"]!.stringValue!.drop(while: { $0.isWhitespace })), context = c["context"]!.stringValue!
            let length = c["max_length"]!.intValue!, stride = c["stride"]!.intValue!
            let note = c["note"]!.stringValue!
            if c["outcome"]!.stringValue! == "error" || length <= 3 {
                #expect(throws: TokenizerError.self, "\(note)") { try tokenizer.encodeWindows(question, context, maxLength: length, stride: stride) }
            } else {
                let windows = try tokenizer.encodeWindows(question, context, maxLength: length, stride: stride)
                #expect(windows.count == c["n_windows"]!.intValue!, "\(note)")
                #expect(windows.map { $0.ids.map(Int.init) } == c["input_ids"]!.arrayValue!.map(Self.ints), "\(note)")
            }
        }
    }

    /// postprocess_qa_predictions on run_qa's logits (each row cut to its window: the -100 padding never ranks).
    @Test(arguments: ["squad_v1", "squad_v2_threshold_0", "squad_v2_threshold_1.5"])
    func postprocessEqualsUtilsQA(_ name: String) throws {
        let root = Self.postprocess
        let examples = root["examples"]!.arrayValue!.map(qaExample)
        let index = Dictionary(uniqueKeysWithValues: examples.enumerated().map { ($1.id, $0) })
        let featureRecords = root["features"]!.arrayValue!
        let features = featureRecords.map { f -> QAFeature in
            let offsets: [TokenOffset?] = f["offset_mapping"]!.arrayValue!.map { $0.isNull ? nil : TokenOffset(Self.ints($0)[0], Self.ints($0)[1]) }
            return QAFeature(example: index[f["example_id"]!.stringValue!]!, ids: [], typeIds: [], offsets: offsets, startPosition: 0, endPosition: 0)
        }
        func rows(_ key: String) -> [[Float]] {
            zip(root["logits"]![key]!.arrayValue!, featureRecords).map { row, f in
                Array(row.arrayValue!.prefix(f["length"]!.intValue!).map { Float($0.doubleValue!) })
            }
        }
        let c = try #require(root["cases"]!.arrayValue!.first { $0["name"]?.stringValue == name })
        var options = QAPostprocessOptions()
        options.versionTwoWithNegative = c["version_2_with_negative"]!.boolValue!
        options.nullScoreDiffThreshold = Float(c["null_score_diff_threshold"]!.doubleValue!)
        options.nBestSize = c["n_best_size"]!.intValue!
        options.maxAnswerLength = c["max_answer_length"]!.intValue!
        let result = QAPostprocess.run(examples: examples, features: features, startLogits: rows("start_logits"), endLogits: rows("end_logits"), options: options)
        let answers = c["all_predictions"]!
        #expect(result.answers.count == examples.count)
        for (id, text) in result.answers { #expect(answers[id]?.stringValue == text, "\(name) \(id): '\(text)'") }
        for (id, candidates) in result.nBest {
            let expected = c["all_nbest_json"]![id]!.arrayValue!
            #expect(candidates.count == expected.count, "\(name) \(id): \(candidates.count) candidates, reference \(expected.count)")
            for (mine, theirs) in zip(candidates, expected) {
                #expect(mine.text == theirs["text"]!.stringValue!, "\(name) \(id)")
                #expect(Double(mine.startLogit) == theirs["start_logit"]!.doubleValue! && Double(mine.endLogit) == theirs["end_logit"]!.doubleValue!)
                #expect(abs(Double(mine.probability) - theirs["probability"]!.doubleValue!) <= 1e-6, "\(name) \(id) probability")
            }
        }
        if let odds = c["scores_diff_json"], !odds.isNull {
            #expect(result.nullOdds.count == examples.count)
            for (id, value) in result.nullOdds { #expect(Double(value) == odds[id]?.doubleValue, "\(name) \(id) null odds") }
        } else {
            #expect(result.nullOdds.isEmpty)
        }
    }

    @Test func normalisationEqualsTheScripts() {
        let cases = Self.metrics["normalize_answer"]!.arrayValue!
        #expect(cases.count >= 40)
        for c in cases {
            #expect(SQuADMetrics.normalize(c["s"]!.stringValue!) == c["squad_normalize_answer"]!.stringValue!, "\(c["s"]!)")
        }
    }

    static func references(_ c: JSONValue) -> [QAExample] { c["references"]!.arrayValue!.map(qaExample) }
    static func predictions(_ c: JSONValue) -> [String: String] {
        Dictionary(c["predictions"]!.arrayValue!.map { ($0["id"]!.stringValue!, $0["prediction_text"]!.stringValue!) }, uniquingKeysWith: { a, _ in a })
    }

    @Test func squadEqualsTheMetric() {
        for c in Self.metrics["squad"]!.arrayValue! where c["error"] == nil {
            let result = SQuADMetrics.squad(examples: Self.references(c), predictions: Self.predictions(c))
            let name = c["name"]!.stringValue!
            #expect(result.exactMatch == c["output"]!["exact_match"]!.doubleValue!, "\(name) exact match")
            #expect(abs(result.f1 - c["output"]!["f1"]!.doubleValue!) <= 1e-12, "\(name) f1 \(result.f1)")
        }
    }

    /// The squad_v2 metric with the no-answer probabilities as evaluate passes them (rounded to float32). A missing
    /// prediction is a KeyError there; bertkit predicts every question, so that case does not arise.
    @Test func squadV2EqualsTheMetric() {
        for c in Self.metrics["squad_v2"]!.arrayValue! where c["error"] == nil {
            let name = c["name"]!.stringValue!
            let odds = Dictionary(c["no_answer_probability_after_float32"]!.objectValue!.members.map { ($0.key, $0.value.doubleValue!) },
                                  uniquingKeysWith: { a, _ in a })
            let threshold = c["kwargs"]?["no_answer_threshold"]?.doubleValue ?? 1.0
            let r = SQuADMetrics.squadV2(examples: Self.references(c), predictions: Self.predictions(c), nullOdds: odds, threshold: threshold)
            let out = c["output"]!
            func same(_ mine: Double?, _ key: String) {
                let theirs = out[key]?.doubleValue
                #expect((mine == nil && theirs == nil) || (mine != nil && theirs != nil && abs(mine! - theirs!) <= 1e-12), "\(name) \(key): \(String(describing: mine)) vs \(String(describing: theirs))")
            }
            same(r.exactMatch, "exact"); same(r.f1, "f1")
            same(r.hasAnsExact, "HasAns_exact"); same(r.hasAnsF1, "HasAns_f1"); same(r.noAnsExact, "NoAns_exact"); same(r.noAnsF1, "NoAns_f1")
            same(r.bestExact, "best_exact"); same(r.bestExactThreshold, "best_exact_thresh"); same(r.bestF1, "best_f1"); same(r.bestF1Threshold, "best_f1_thresh")
            #expect(r.total == out["total"]!.intValue!)
        }
    }
}
