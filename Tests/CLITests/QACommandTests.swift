// Question answering through the CLI: finetune → evaluate (SQuAD 1.1 and 2.0 numbers, prediction files) → answer,
// on data over the tiny models' vocabulary; bad data refused before training with one `error:` line naming the
// question id; a stride that leaves no room refused, never a hang.

import Testing
import Foundation
import BertKitInternals
import TestSupport

@Suite struct QACommandTests {
    /// Flattened SQuAD records over tiny-base's vocabulary; every fourth question has no answer when `impossible`.
    static func records(_ count: Int, seed: UInt64, impossible: Bool = false) -> String {
        var generator = SplitMix64(seed: seed)
        var data: [[String: Any]] = []
        for i in 0..<count {
            let person = ["alice", "bob"].randomElement(using: &generator)!, city = ["paris", "london"].randomElement(using: &generator)!
            let context = "the movie was good . \(person) lives in \(city) . it was a very good film"
            let askCity = i % 2 == 0
            var answers: [String: Any] = ["text": [askCity ? city : person], "answer_start": [Array(context.unicodeScalars).firstRange(of: Array((askCity ? city : person).unicodeScalars))!.lowerBound]]
            var question = askCity ? "where does \(person) live ?" : "who lives in \(city) ?"
            if impossible && i % 4 == 3 { question = "who loved the plot ?"; answers = ["text": [], "answer_start": []] }
            data.append(["id": "q\(i)", "question": question, "context": context, "answers": answers])
        }
        return String(decoding: try! JSONSerialization.data(withJSONObject: ["data": data]), as: UTF8.self)
    }

    @Test func finetuneEvaluateAnswer() throws {
        let folder = TemporaryDirectory()
        try Self.records(48, seed: 1).write(toFile: folder.file("train.json"), atomically: true, encoding: .utf8)
        try Self.records(16, seed: 2, impossible: true).write(toFile: folder.file("dev.json"), atomically: true, encoding: .utf8)
        let output = folder.file("qa")
        // A plain encoder and SQuAD-shaped data: the task is inferred. Windows of 24 tokens overlap by 4.
        let trained = try Bertkit.run(["finetune", "--model", Fixtures.path("bert/tiny-base"), "--train", folder.file("train.json"),
                                       "--output", output, "--epochs", "4", "--lr", "5e-3", "--batch-size", "8", "--threads", "1",
                                       "--save-every", "never", "--max-length", "24", "--doc-stride", "4"])
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(trained.stderr.contains("extra windows of"), "\(trained.stderr)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output + "/config.json"))) as! [String: Any]
        #expect(config["architectures"] as? [String] == ["BertForQuestionAnswering"])

        let evaluated = try Bertkit.run(["evaluate", "--model", output, "--data", folder.file("dev.json"), "--max-length", "24",
                                         "--doc-stride", "4", "--json", "--output", folder.file("predictions")])
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as! [String: Any]
        // The dev data has questions without an answer: SQuAD 2.0 scoring, with its split and thresholds.
        for key in ["exact_match", "f1", "n", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1", "best_exact", "best_exact_thresh",
                    "best_f1", "best_f1_thresh"] {
            #expect(json[key] != nil, "no \(key) in \(json.keys.sorted())")
        }
        #expect(json["n"] as? Int == 16 && json["HasAns_total"] as? Int == 12 && json["NoAns_total"] as? Int == 4, "\(json)")
        #expect((json["HasAns_f1"] as? Double ?? 0) > 50, "it learnt nothing: \(json)")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.file("predictions")))?.sorted() ?? []
        #expect(files == ["nbest_predictions.json", "null_odds.json", "predictions.json"])
        let predictions = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder.file("predictions/predictions.json")))) as! [String: String]
        #expect(predictions.count == 16)

        let answered = try Bertkit.run(["answer", "--model", output, "--question", "where does alice live ?",
                                        "--context", "the movie was good . alice lives in london . it was a very good film", "--top-k", "3", "--json"])
        #expect(answered.status == 0, "\(answered.stderr)")
        let answers = (try JSONSerialization.jsonObject(with: Data(answered.stdout.utf8)) as! [String: Any])["answers"] as! [[String: Any]]
        #expect(answers.count == 3 && Set(answers[0].keys) == ["score", "start", "end", "answer"])
        #expect(answers[0]["answer"] as? String == "london", "\(answers)")
        #expect(answers.map { $0["score"] as! Double } == answers.map { $0["score"] as! Double }.sorted(by: >))
    }

    @Test(arguments: [
        (#"{"data": [{"id": "q7", "question": "who ?", "context": "alice lives in paris", "answers": {"text": ["bob"], "answer_start": [0]}}]}"#,
         "question 'q7': the answer 'bob' is not at answer_start 0 of its context (found 'ali')"),
        (#"{"data": [{"id": "q8", "context": "alice lives in paris", "answers": {"text": [], "answer_start": []}}]}"#,
         "question 'q8': no 'question'"),
        (#"{"data": [{"title": "t", "paragraphs": [{"context": "alice lives in paris", "qas": [{"id": "q9", "question": "where ?", "answers": [{"text": "paris", "answer_start": 3}]}]}]}]}"#,
         "question 'q9': the answer 'paris' is not at answer_start 3 of its context (found 'ce li')"),
        (#"{"version": "v2.0"}"#, "no 'data' list"),
    ])
    func badDataIsRefusedBeforeTraining(_ contents: String, _ message: String) throws {
        let folder = TemporaryDirectory()
        try contents.write(toFile: folder.file("train.json"), atomically: true, encoding: .utf8)
        let result = try Bertkit.run(["finetune", "--task", "question-answering", "--model", Fixtures.path("bert/tiny-base"),
                                      "--train", folder.file("train.json"), "--output", folder.file("out"), "--threads", "1"])
        #expect(result.status == 1 && result.stderr.hasPrefix("error: \(folder.file("train.json")): \(message)"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("out")))
    }

    @Test func aStrideWithoutRoomIsAnError() throws {
        let folder = TemporaryDirectory()
        try Self.records(4, seed: 3).write(toFile: folder.file("train.json"), atomically: true, encoding: .utf8)
        let result = try Bertkit.run(["finetune", "--task", "question-answering", "--model", Fixtures.path("bert/tiny-base"),
                                      "--train", folder.file("train.json"), "--output", folder.file("out"), "--threads", "1",
                                      "--max-length", "16", "--doc-stride", "8"])
        #expect(result.status == 1 && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("error: \(folder.file("train.json")): the stride (8) must be smaller than the room"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("out")))
        let answer = try Bertkit.run(["answer", "--model", Fixtures.path("bert/tiny-qa"), "--question", "where does alice live ?",
                                      "--context", "the movie was good . alice lives in london . it was a very good film",
                                      "--max-length", "20", "--doc-stride", "6"])
        #expect(answer.status == 1 && answer.stderr.hasPrefix("error: --context: the stride (6) must be smaller"), "\(answer.stderr)")
    }
}

/// `bertkit answer` against transformers 4.57.6's question-answering pipeline (Fixtures/qa/pipeline and, for a
/// RoBERTa with a byte-level BPE tokenizer, Fixtures/qa/pipeline-roberta; made by
/// Tools/fixtures/make_qa_pipeline_fixtures.py in its own venv): top_k 1 and 3, max_answer_len 15 and 4, with and
/// without the impossible answer, on 14 questions over 1 to 5 windows; scores within 1e-4 relative.
@Suite struct AnswerPipelineGoldenTests {
    @Test(arguments: ["qa/pipeline", "qa/pipeline-roberta"])
    func everyRunEqualsThePipeline(_ folder: String) throws {
        let golden = try #require(try Fixtures.json(folder + "/pipeline.json") as? [String: Any])
        let cases = golden["cases"] as? [[String: Any]] ?? []
        let model = Fixtures.path(folder + "/" + (golden["model"] as! String))
        #expect(cases.count >= 12)
        var runs = 0
        for c in cases {
            let question = c["question"] as! String, context = c["context"] as! String
            var window: [String] = []
            if let length = c["max_seq_len"] as? Int { window += ["--max-length", String(length)] }
            if let stride = c["doc_stride"] as? Int { window += ["--doc-stride", String(stride)] }
            for run in c["runs"] as! [[String: Any]] {
                runs += 1
                var arguments = ["answer", "--model", model, "--question", question, "--context", context, "--json",
                                 "--top-k", String(run["top_k"] as! Int), "--max-answer-length", String(run["max_answer_len"] as! Int)] + window
                if run["handle_impossible_answer"] as! Bool { arguments.append("--handle-impossible-answer") }
                let result = try Bertkit.run(arguments)
                #expect(result.status == 0, "\(result.stderr)")
                let mine = (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any])["answers"] as! [[String: Any]]
                let theirs = run["answers"] as! [[String: Any]]
                let context = "\(question) | top_k \(run["top_k"]!) max_answer_len \(run["max_answer_len"]!) impossible \(run["handle_impossible_answer"]!)"
                #expect(mine.count == theirs.count, "\(context): \(mine) vs \(theirs)")
                for (a, b) in zip(mine, theirs) {
                    #expect(a["answer"] as? String == b["answer"] as? String && a["start"] as? Int == b["start"] as? Int
                            && a["end"] as? Int == b["end"] as? Int, "\(context): \(a) vs \(b)")
                    let x = (a["score"] as! NSNumber).doubleValue, y = (b["score"] as! NSNumber).doubleValue
                    #expect(abs(x - y) <= 1e-4 * abs(y), "\(context): score \(x) vs \(y)")
                }
            }
        }
        #expect(runs >= 100)
    }
}
