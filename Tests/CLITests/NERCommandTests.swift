// Issue 12 through the CLI: `predict` on a token classifier gives transformers' token-classification pipeline output
// for every aggregation strategy (Fixtures/ner/pipeline.json on the fine-tuned Fixtures/ner/tiny-ner); `finetune --task
// token-classification` trains from CoNLL and JSONL, `evaluate` reports seqeval's numbers; bad data is refused
// before training with `error: FILE:LINE: cause`.

import Testing
import Foundation
import BertKitInternals
import TestSupport

@Suite struct NERCommandTests {
    nonisolated(unsafe) static let golden = (try? Fixtures.json("ner/pipeline.json")) as? [String: Any] ?? [:]
    static var texts: [[String: Any]] { golden["texts"] as? [[String: Any]] ?? [] }
    static let model = Fixtures.path("ner/tiny-ner")

    func predict(_ text: String, _ extra: [String]) throws -> [[String: Any]] {
        let result = try Bertkit.run(["predict", "--model", Self.model, "--json"] + extra + ["--", text])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        let predictions = json["predictions"] as! [[String: Any]]
        #expect(predictions.count == 1 && predictions[0]["text"] as? String == text)
        return predictions[0]["entities"] as! [[String: Any]]
    }

    /// Every field equal but the score, which is float32 arithmetic on both sides (1e-5).
    func assertSame(_ mine: [[String: Any]], _ theirs: [[String: Any]], _ context: String) {
        #expect(mine.count == theirs.count, "\(context): \(mine.count) vs \(theirs.count) items\n\(mine)\n\(theirs)")
        for (a, b) in zip(mine, theirs) {
            #expect(Set(a.keys) == Set(b.keys), "\(context): keys \(a.keys.sorted()) vs \(b.keys.sorted())")
            for key in ["entity", "entity_group", "word"] where b[key] != nil { #expect(a[key] as? String == b[key] as? String, "\(context) \(key): \(a) vs \(b)") }
            for key in ["start", "end", "index"] where b[key] != nil {
                #expect((a[key] as? NSNumber)?.intValue == (b[key] as? NSNumber)?.intValue, "\(context) \(key): \(a) vs \(b)")
            }
            let score = (a["score"] as! NSNumber).doubleValue, expected = (b["score"] as! NSNumber).doubleValue
            #expect(abs(score - expected) <= 1e-5, "\(context) score \(score) vs \(expected)")
        }
    }

    @Test(arguments: ["none", "simple", "first", "average", "max"])
    func predictEqualsThePipeline(_ strategy: String) throws {
        #expect(Self.texts.count >= 8)
        for item in Self.texts {
            let text = item["text"] as! String
            let expected = (item["entities"] as! [String: [[String: Any]]])[strategy]!
            let mine = try predict(text, ["--aggregation", strategy])
            let offsets = item["offset_mapping"] as! [[Int]]
            if offsets.count >= 64 && offsets[offsets.count - 2][1] < text.unicodeScalars.count - 1 {
                // The pipeline silently truncated this text to model_max_length (64); bertkit windows it, so the tokens
                // near the cut see other context. The first half, where both see the same tokens, must agree.
                let cut = offsets[24][1]
                assertSame(mine.filter { ($0["end"] as! Int) <= cut }, expected.filter { ($0["end"] as! Int) <= cut }, "\(strategy) \(text) (start)")
                continue
            }
            assertSame(mine, expected, "\(strategy) \(text)")
            if let all = (item["entities_ignore_labels_empty"] as? [String: [[String: Any]]])?[strategy] {
                assertSame(try predict(text, ["--aggregation", strategy, "--ignore-labels", ""]), all, "\(strategy) ignore none \(text)")
            }
        }
    }

    /// A text past the model's 64 positions is not cut short (the pipeline would truncate it): it is windowed, and
    /// entities come from its whole length; where the pipeline sees the text, the results agree.
    @Test func longTextsAreWindowedNotTruncated() throws {
        let sentence = "alice visited paris and bob went to london . "
        let text = String(repeating: sentence, count: 12)
        let entities = try predict(text, ["--aggregation", "first"])
        // 48 names in the text (the tiny model may miss or mistype one or two); the last ones are found too.
        #expect(entities.count >= 44, "\(entities)")
        #expect((entities.last?["end"] as? Int ?? 0) > text.unicodeScalars.count - 12, "\(entities.last ?? [:])")
        let seven = String(repeating: sentence, count: 7)   // 64 tokens with [CLS] and [SEP]: one window, as the pipeline
        let golden = Self.texts.first { $0["text"] as? String == seven }
        #expect(golden != nil, "pipeline.json no longer holds the 64-token text")
    }

    // MARK: Fine-tuning and evaluation

    /// Sentences over tiny-ner's vocabulary: names are PER, cities LOC.
    static func conll(_ count: Int, seed: UInt64) -> String {
        var generator = SplitMix64(seed: seed)
        let people = ["alice", "bob", "carol", "dave"], places = ["paris", "london", "berlin", "rome"]
        var out = "-DOCSTART- -X- -X- O\n\n"
        for _ in 0..<count {
            let person = people.randomElement(using: &generator)!, place = places.randomElement(using: &generator)!
            let words: [(String, String)] = Bool.random(using: &generator)
                ? [(person, "B-PER"), ("visited", "O"), (place, "B-LOC"), (".", "O")]
                : [("the", "O"), ("movie", "O"), ("in", "O"), (place, "B-LOC"), ("was", "O"), ("good", "O")]
            out += words.map { "\($0.0) X X \($0.1)\n" }.joined() + "\n"
        }
        return out
    }

    @Test func finetuneEvaluateAndPredictFromCoNLL() throws {
        let folder = TemporaryDirectory()
        try Self.conll(48, seed: 1).write(toFile: folder.file("train.conll"), atomically: true, encoding: .utf8)
        try Self.conll(16, seed: 2).write(toFile: folder.file("eval.conll"), atomically: true, encoding: .utf8)
        let output = folder.file("out")
        // A plain encoder and a CoNLL file: the task is inferred.
        let result = try Bertkit.run(["finetune", "--model", Fixtures.path("bert/tiny-base"), "--train", folder.file("train.conll"),
                                      "--eval", folder.file("eval.conll"), "--output", output, "--epochs", "4", "--lr", "5e-3",
                                      "--batch-size", "8", "--threads", "1", "--save-every", "never", "--metric", "f1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("evaluation (16 sentences)") && result.stdout.contains("entity precision"), "\(result.stdout)")
        #expect(result.stderr.contains("labels: B-LOC, B-PER, O"), "\(result.stderr)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output + "/config.json"))) as! [String: Any]
        #expect(config["architectures"] as? [String] == ["BertForTokenClassification"])
        #expect(config["id2label"] as? [String: String] == ["0": "B-LOC", "1": "B-PER", "2": "O"])

        let evaluation = try Bertkit.run(["evaluate", "--model", output, "--data", folder.file("eval.conll"), "--json"])
        #expect(evaluation.status == 0, "\(evaluation.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(evaluation.stdout.utf8)) as! [String: Any]
        #expect(Set(json.keys) == ["precision", "recall", "f1", "accuracy", "loss", "n", "per_type"], "\(json.keys)")
        #expect(json["n"] as? Int == 16)
        let perType = json["per_type"] as! [String: [String: Any]]
        #expect(Set(perType.keys).isSubset(of: ["LOC", "PER"]) && perType["LOC"]?["support"] as? Int ?? 0 > 0, "\(perType)")
        // It learnt the task (the data is trivially separable).
        #expect((json["f1"] as! Double) > 0.8, "\(json)")
        let tagged = try Bertkit.run(["predict", "--model", output, "--", "alice visited london ."])
        #expect(tagged.status == 0 && tagged.stdout.contains("PER") && tagged.stdout.contains("LOC"), "\(tagged.stdout)\(tagged.stderr)")
    }

    @Test func jsonlWithIdsNeedsNamesAndTrainsWithThem() throws {
        let folder = TemporaryDirectory()
        let line = #"{"tokens": ["alice", "visited", "paris"], "ner_tags": [1, 0, 3]}"#
        try (Array(repeating: line, count: 8).joined(separator: "\n") + "\n").write(toFile: folder.file("train.jsonl"), atomically: true, encoding: .utf8)
        let base = ["finetune", "--task", "token-classification", "--model", Fixtures.path("bert/tiny-base"), "--train", folder.file("train.jsonl"),
                    "--max-steps", "1", "--threads", "1", "--save-every", "never"]
        let refused = try Bertkit.run(base + ["--output", folder.file("a")])
        #expect(refused.status == 1 && refused.stderr.hasPrefix("error: \(folder.file("train.jsonl")):1: tags are integer ids"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("a")))
        let named = try Bertkit.run(base + ["--output", folder.file("b"), "--labels", "O,B-PER,I-PER,B-LOC,I-LOC"])
        #expect(named.status == 0, "\(named.stderr)")
        // A model that names its labels (tiny-tokcls: O, B-PER, I-PER, B-LOC, I-LOC) needs no --labels.
        let fromConfig = try Bertkit.run(["finetune", "--model", Fixtures.path("bert/tiny-tokcls"), "--train", folder.file("train.jsonl"),
                                          "--max-steps", "1", "--threads", "1", "--save-every", "never", "--output", folder.file("c")])
        #expect(fromConfig.status == 0 && fromConfig.stderr.contains("labels: O, B-PER, I-PER, B-LOC, I-LOC"), "\(fromConfig.stderr)")
    }

    /// Strict IOB2 metrics cannot score IOBES tags: refused before training, not reported as zeros.
    @Test func strictModeNeedsIOB2Labels() throws {
        let folder = TemporaryDirectory()
        try "alice S-PER\nvisited O\nparis S-LOC\n".write(toFile: folder.file("train.conll"), atomically: true, encoding: .utf8)
        let base = ["finetune", "--model", Fixtures.path("bert/tiny-base"), "--train", folder.file("train.conll"), "--max-steps", "1",
                    "--threads", "1", "--save-every", "never"]
        let strict = try Bertkit.run(base + ["--output", folder.file("a"), "--metric-mode", "strict"])
        #expect(strict.status == 1 && strict.stderr == "error: \(folder.file("train.conll")): tag 'S-LOC' is not IOB2 (strict mode takes tags starting with B, I or O)\n",
                "\(strict.stderr)")
        let conlleval = try Bertkit.run(base + ["--output", folder.file("b")])
        #expect(conlleval.status == 0, "\(conlleval.stderr)")
    }

    @Test(arguments: [
        ("train.conll", "alice B-PER\nvisited\n", "train.conll:2: a word without a label"),
        ("train.jsonl", #"{"tokens": ["alice", "visited"], "ner_tags": ["B-PER"]}"#, "train.jsonl:1: 2 tokens but 1 tags"),
        ("train.conll", "\n\n", "train.conll: no sentences"),
        ("eval.conll", "alice B-PER\nvisited O\n\nbob B-ORG\n", "eval.conll:4: label 'B-ORG' is not in the label set"),
    ])
    func badDataIsRefusedBeforeTraining(_ file: String, _ contents: String, _ message: String) throws {
        let folder = TemporaryDirectory()
        try "alice B-PER\nvisited O\nparis B-LOC\n".write(toFile: folder.file("good.conll"), atomically: true, encoding: .utf8)
        try contents.write(toFile: folder.file(file), atomically: true, encoding: .utf8)
        let train = file.hasPrefix("eval") ? folder.file("good.conll") : folder.file(file)
        var arguments = ["finetune", "--task", "token-classification", "--model", Fixtures.path("bert/tiny-base"), "--train", train,
                         "--output", folder.file("out"), "--threads", "1"]
        if file.hasPrefix("eval") { arguments += ["--eval", folder.file(file)] }
        let result = try Bertkit.run(arguments)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("error: \(folder.path)/\(message)") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("out")))
    }
}
