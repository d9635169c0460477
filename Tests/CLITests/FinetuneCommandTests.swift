// `bertkit finetune` end to end on the tiny fixture model (issues 7 and 8): bad input is refused with one
// `error: FILE: line N: …` line before training starts; a run killed with SIGKILL and resumed ends with the
// weights of an uninterrupted run (full and LoRA); early stopping, best-model loading and checkpoint
// pruning follow transformers 5.24's rules (Docs/specs/transformers_training.md §7, replayed here over
// the run's own evaluation log); the exported directory is a Hugging Face model directory.
// The data are sentences made from the tiny vocabulary (Tools/fixtures/make_bert_fixtures.py), so each
// run takes well under a second; the numbers transformers must agree with are in Tests/Interop.

import Testing
import Foundation
import BertKitInternals
import TestSupport
#if canImport(FoundationXML)
import FoundationXML
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Labelled sentences from the tiny fixtures' vocabulary: "the plot was very boring" → neg.
enum TinyReviews {
    static let positive = ["good", "great", "fun", "loved", "liked", "best"]
    static let negative = ["bad", "awful", "boring", "hated", "worst"]
    static let subjects = ["the movie", "this film", "the plot", "the story", "the actors", "it"]

    static func rows(_ count: Int, seed: UInt64, labels: (String, String) = ("pos", "neg")) -> [(text: String, label: String)] {
        var state = seed
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        return (0..<count).map { _ in
            let good = next(2) == 0
            let word = good ? positive[next(positive.count)] : negative[next(negative.count)]
            return ("\(subjects[next(subjects.count)]) was very \(word)", good ? labels.0 : labels.1)
        }
    }

    static func csv(_ rows: [(text: String, label: String)]) -> String {
        "text,label\n" + rows.map { "\($0.text),\($0.label)\n" }.joined()
    }

    static func jsonl(_ rows: [(text: String, label: String)]) -> String {
        rows.map { "{\"text\": \"\($0.text)\", \"label\": \"\($0.label)\"}\n" }.joined()
    }
}

/// A scratch folder with train/eval files and helpers to run `bertkit finetune` on the tiny classifier.
final class FinetuneSandbox {
    static let model = Fixtures.path("bert/tiny-seqcls")
    let folder = TemporaryDirectory()
    var train: String { folder.file("train.csv") }
    var eval: String { folder.file("eval.csv") }

    init(trainCount: Int = 64, evalCount: Int = 16) throws {
        try write(TinyReviews.csv(TinyReviews.rows(trainCount, seed: 1)), "train.csv")
        try write(TinyReviews.csv(TinyReviews.rows(evalCount, seed: 2)), "eval.csv")
    }

    @discardableResult
    func write(_ text: String, _ name: String) throws -> String {
        try text.write(toFile: folder.file(name), atomically: true, encoding: .utf8)
        return folder.file(name)
    }

    func arguments(output: String, _ extra: [String]) -> [String] {
        ["finetune", "--model", Self.model, "--output", output, "--threads", "1"] + extra
    }

    func finetune(output: String, _ extra: [String]) throws -> CommandResult {
        try Bertkit.run(arguments(output: output, extra))
    }

    /// The evaluation and logged-step lines of `training_log.jsonl`.
    func log(_ output: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: output + "/training_log.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    func evaluations(_ output: String) throws -> [(step: Int, loss: Double, accuracy: Double, f1: Double)] {
        try log(output).filter { $0["eval_loss"] != nil }.map {
            ($0["step"] as! Int, $0["eval_loss"] as! Double, $0["eval_accuracy"] as! Double, $0["eval_f1"] as! Double)
        }
    }

    static func checkpoints(_ output: String) -> [Int] {
        ((try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []).compactMap { name in
            name.hasPrefix("checkpoint-") ? Int(name.dropFirst("checkpoint-".count)) : nil
        }.sorted()
    }

    static func tensors(_ path: String) throws -> [String: Tensor] {
        let store = try SafetensorsReader.read(path: path)
        return Dictionary(uniqueKeysWithValues: store.entries.map { ($0.name, $0.tensor) })
    }

    /// Every tensor of two safetensors files has the same dtype, shape and bytes.
    static func bitwiseEqual(_ a: String, _ b: String) throws -> Bool {
        let x = try tensors(a), y = try tensors(b)
        return x.keys.sorted() == y.keys.sorted() && x.allSatisfy { y[$0.key].map($0.value.isBitwiseEqual) ?? false }
    }
}

// MARK: - Bad input

@Suite struct FinetuneBadInputTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let file: String
        let contents: String
        let extra: [String]
        /// Fragments the one error line must hold (after "error: <file>: ").
        let fragments: [String]
        var testDescription: String { name }
    }

    static let good = TinyReviews.rows(12, seed: 3)
    static let cases: [Case] = [
        Case(name: "CSV without the text column", file: "train.csv", contents: "sentence,label\nthe movie was good,pos\n",
             extra: [], fragments: ["line 1", "no column 'text'", "sentence, label"]),
        Case(name: "CSV without the label column named by --label-column", file: "train.csv", contents: TinyReviews.csv(good),
             extra: ["--label-column", "sentiment"], fragments: ["line 1", "no column 'sentiment'"]),
        Case(name: "JSONL record without the label", file: "train.jsonl",
             contents: TinyReviews.jsonl(good) + "{\"text\": \"it was fun\"}\n", extra: [], fragments: ["line 13", "no 'label'"]),
        Case(name: "JSONL record without the text", file: "train.jsonl",
             contents: TinyReviews.jsonl(Array(good.prefix(3))) + "{\"txt\": \"it was fun\", \"label\": \"pos\"}\n" + TinyReviews.jsonl(good),
             extra: [], fragments: ["line 4", "no 'text'"]),
        Case(name: "JSONL line that is not JSON", file: "train.jsonl",
             contents: TinyReviews.jsonl(Array(good.prefix(5))) + "text: it was fun, label: pos\n", extra: [], fragments: ["line 6", "not a JSON object"]),
        Case(name: "JSONL line that is JSON but not an object", file: "train.jsonl",
             contents: TinyReviews.jsonl(Array(good.prefix(2))) + "[\"it was fun\", \"pos\"]\n", extra: [], fragments: ["line 3", "not a JSON object"]),
        Case(name: "CSV row with a field too many", file: "train.csv",
             contents: TinyReviews.csv(Array(good.prefix(7))) + "it was fun,really,pos\n", extra: [], fragments: ["line 9", "3 fields", "header has 2"]),
        Case(name: "CSV row with a field too few", file: "train.csv",
             contents: TinyReviews.csv(Array(good.prefix(4))) + "it was fun\n", extra: [], fragments: ["line 6", "1 fields"]),
        Case(name: "empty CSV", file: "train.csv", contents: "", extra: [], fragments: ["no examples"]),
        Case(name: "CSV with only a header", file: "train.csv", contents: "text,label\n", extra: [], fragments: ["no examples"]),
        Case(name: "empty JSONL", file: "train.jsonl", contents: "\n", extra: [], fragments: ["no examples"]),
        Case(name: "a training label outside --labels", file: "train.csv", contents: TinyReviews.csv(good),
             extra: ["--labels", "pos,neu"], fragments: ["line \(2 + good.firstIndex { $0.label == "neg" }!)", "unknown label 'neg'", "pos, neu"]),
    ]

    /// Exit 1, one `error: FILE: …` line naming the line, and no output folder: nothing was trained.
    @Test(arguments: cases)
    func refusedBeforeTraining(_ c: Case) throws {
        let sandbox = try FinetuneSandbox()
        let file = try sandbox.write(c.contents, c.file)
        let output = sandbox.folder.file("out")
        let result = try sandbox.finetune(output: output, ["--train", file] + c.extra)
        #expect(result.status == 1, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 1 && lines[0].hasPrefix("error: \(file): "), "\(result.stderr)")
        for fragment in c.fragments { #expect(result.stderr.contains(fragment), "'\(fragment)' not in: \(result.stderr)") }
        #expect(!FileManager.default.fileExists(atPath: output), "an output folder was made: \(sandbox.folder.contents)")
    }

    @Test func unknownLabelInTheEvaluationData() throws {
        let sandbox = try FinetuneSandbox()
        let rows = Self.good.map { "\($0.text),\($0.label)\n" }
        let eval = try sandbox.write("text,label\n" + rows.prefix(5).joined() + "it was fun,great\n" + rows.joined(), "eval.csv")
        let output = sandbox.folder.file("out")
        let result = try sandbox.finetune(output: output, ["--train", sandbox.train, "--eval", eval])
        #expect(result.status == 1)
        #expect(result.stderr == "error: \(eval): line 7: unknown label 'great' (known: neg, neu, pos)\n", "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test func missingTrainingFileAndUnknownFormat() throws {
        let sandbox = try FinetuneSandbox()
        let output = sandbox.folder.file("out")
        let missing = try sandbox.finetune(output: output, ["--train", sandbox.folder.file("nope.csv")])
        #expect(missing.status == 1 && missing.stderr.hasPrefix("error: \(sandbox.folder.file("nope.csv")): "), "\(missing.stderr)")
        let text = try sandbox.write("the movie was good\tpos\n", "train.txt")
        let unknown = try sandbox.finetune(output: output, ["--train", text])
        #expect(unknown.status == 1 && unknown.stderr.contains(".csv, .tsv or .jsonl"), "\(unknown.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    /// Option errors: one `error:` line naming the option and exit 1, before any file is read.
    @Test(arguments: [
        (["--epochs", "0"], "--epochs"), (["--batch-size", "0"], "--batch-size"), (["--lr", "0"], "--lr"),
        (["--eval-every", "sometimes"], "--eval-every"), (["--save-every", "0"], "--save-every"), (["--metric", "loss"], "--metric"),
        (["--save-format", "onnx"], "--save-format"), (["--problem-type", "ranking"], "--problem-type"), (["--lora-r", "0"], "--lora-r"),
        (["--early-stopping-patience", "2"], "--eval"), (["--load-best-at-end"], "--eval"), (["--task", "text-generation"], "--task"),
        (["--max-train-examples", "0"], "--max-train-examples"), (["--max-steps", "0"], "--max-steps"),
        (["--warmup-ratio", "1.5"], "--warmup-ratio"), (["--labels", "pos,neg,pos"], "--labels"),
        (["--precision", "int8"], "--precision"), (["--precision", "fp16"], "--precision"),
    ])
    func optionErrors(_ arguments: [String], _ option: String) throws {
        let sandbox = try FinetuneSandbox()
        let output = sandbox.folder.file("out")
        let result = try sandbox.finetune(output: output, ["--train", sandbox.train, "--epochs", "1"] + arguments)
        #expect(result.status == 1, "\(arguments): exit \(result.status) \(result.stderr)")
        #expect(result.stderr.hasPrefix("error: ") && result.stderr.split(separator: "\n").count == 1 && result.stderr.contains(option),
                "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test func unknownLoRATargetAndNothingToResume() throws {
        let sandbox = try FinetuneSandbox()
        let output = sandbox.folder.file("out")
        let targets = try sandbox.finetune(output: output, ["--train", sandbox.train, "--lora-r", "4", "--lora-targets", "querry"])
        #expect(targets.status == 1 && targets.stderr.hasPrefix("error: ") && targets.stderr.contains("querry"), "\(targets.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
        let resume = try sandbox.finetune(output: output, ["--train", sandbox.train, "--resume"])
        #expect(resume.status == 1 && resume.stderr.contains("nothing to resume"), "\(resume.stderr)")
    }
}

// MARK: - Resume after SIGKILL

@Suite struct FinetuneResumeTests {
    /// 64 examples, batch 4: 16 updates an epoch, 320 in all, a checkpoint every 2 (most of them mid-epoch),
    /// evaluation every 8, the loss logged at every checkpoint (a resumed run, like the Trainer, starts a new
    /// logging window); dropout on (the fixture's 0.1), so the resumed run must also restore the masks' position.
    static let recipe = ["--epochs", "20", "--batch-size", "4", "--lr", "3e-3", "--warmup-ratio", "0.1", "--save-every", "2",
                         "--eval-every", "8", "--logging-steps", "2"]

    func killedAndResumedEqualsUninterrupted(_ extra: [String], weights: String) throws {
        let sandbox = try FinetuneSandbox()
        let data = ["--train", sandbox.train, "--eval", sandbox.eval] + Self.recipe + extra
        let straight = sandbox.folder.file("straight"), resumed = sandbox.folder.file("resumed")
        let reference = try sandbox.finetune(output: straight, data)
        #expect(reference.status == 0, "\(reference.stderr)")

        // Start the same run as a child, wait for a checkpoint some way in, and kill it with SIGKILL.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Bertkit.executable)
        process.arguments = sandbox.arguments(output: resumed, data)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < deadline && !(FinetuneSandbox.checkpoints(resumed).last.map { $0 >= 40 } ?? false) {
            usleep(2_000)
        }
        let wasRunning = process.isRunning
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try #require(wasRunning, "the run finished before it could be killed")
        #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL)
        let left = FinetuneSandbox.checkpoints(resumed)
        try #require((left.last ?? 0) >= 40, "no checkpoint after 2 minutes: \(left)")
        #expect(!FileManager.default.fileExists(atPath: resumed + "/" + weights), "the killed run got to its final export")
        #expect(left.last! < 320, "\(left)")

        let again = try Bertkit.run(sandbox.arguments(output: resumed, data + ["--resume"]))
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("resumed at step"), "\(again.stderr)")
        #expect(try FinetuneSandbox.bitwiseEqual(straight + "/" + weights, resumed + "/" + weights), "final weights differ after resume")

        // The log holds the same history (losses, learning rates, gradient norms, evaluations), once.
        func comparable(_ entries: [[String: Any]]) -> [[String: Double]] {
            entries.map { entry in
                var numbers: [String: Double] = [:]
                for (key, value) in entry where key != "examples_per_second" { numbers[key] = (value as? NSNumber)?.doubleValue }
                return numbers
            }
        }
        #expect(comparable(try sandbox.log(straight)) == comparable(try sandbox.log(resumed)))
    }

    @Test func fullFineTuning() throws {
        try killedAndResumedEqualsUninterrupted([], weights: "model.safetensors")
    }

    @Test func loraFineTuning() throws {
        try killedAndResumedEqualsUninterrupted(["--lora-r", "4", "--lora-alpha", "8", "--lora-dropout", "0.1",
                                                 "--lora-targets", "query,value,intermediate.dense"],
                                                weights: "adapter_model.safetensors")
    }

    /// Resuming with a different recipe would not reproduce anything: refused, naming what changed.
    @Test func resumeWithAnotherRecipeIsRefused() throws {
        let sandbox = try FinetuneSandbox()
        let output = sandbox.folder.file("out")
        let first = try sandbox.finetune(output: output, ["--train", sandbox.train, "--epochs", "1", "--batch-size", "8", "--save-every", "4"])
        #expect(first.status == 0, "\(first.stderr)")
        let other = try sandbox.finetune(output: output, ["--train", sandbox.train, "--epochs", "1", "--batch-size", "4", "--resume"])
        #expect(other.status == 1 && other.stderr.contains("cannot resume") && other.stderr.contains("batch=8"), "\(other.stderr)")
        let bf16 = try sandbox.finetune(output: output, ["--train", sandbox.train, "--epochs", "1", "--batch-size", "8", "--resume",
                                                         "--precision", "bf16"])
        #expect(bf16.status == 1 && bf16.stderr.contains("cannot resume") && bf16.stderr.contains("precision=bf16]"), "\(bf16.stderr)")
    }

    /// `--precision bf16` trains the tiny classifier as fp32 does (same data, seed and recipe): it learns the task (well
    /// above the 0.5 of chance on the 16 evaluation sentences) to fp32's accuracy within one sentence, and its weights
    /// are fp32's up to bf16's rounding — close, but not equal (the products really were bf16).
    @Test func bf16FineTuningLearnsAsFP32Does() throws {
        let sandbox = try FinetuneSandbox()
        var weights: [String: [String: Tensor]] = [:], accuracy: [String: Double] = [:]
        for precision in ["fp32", "bf16"] {
            let output = sandbox.folder.file(precision)
            let result = try sandbox.finetune(output: output, ["--train", sandbox.train, "--eval", sandbox.eval, "--epochs", "4",
                                                               "--batch-size", "8", "--lr", "1e-3", "--precision", precision])
            #expect(result.status == 0, "\(result.stderr)")
            let evaluations = try sandbox.evaluations(output)
            #expect(evaluations.last!.accuracy >= 0.75, "\(precision): \(evaluations)")
            accuracy[precision] = evaluations.last!.accuracy
            #expect(evaluations.last!.loss < evaluations.first!.loss, "\(precision): \(evaluations)")
            weights[precision] = try FinetuneSandbox.tensors(output + "/model.safetensors")
        }
        var largest: Float = 0, largestValue: Float = 0
        for (name, fp32) in weights["fp32"]! {
            let a = fp32.float32Values()!, b = weights["bf16"]![name]!.float32Values()!
            largest = max(largest, zip(a, b).map { abs($0 - $1) }.max() ?? 0)
            largestValue = max(largestValue, a.map(abs).max() ?? 0)
        }
        #expect(largest > 0 && largest < 0.05 * largestValue, "largest weight difference \(largest) of \(largestValue)")
        #expect(abs(accuracy["bf16"]! - accuracy["fp32"]!) <= 1.0 / 16, "\(accuracy)")
    }
}

// MARK: - Evaluation, best model, early stopping, checkpoints, logs

@Suite struct FinetuneTrainingLoopTests {
    /// transformers 5.24's EarlyStoppingCallback.check_metric_value and Trainer._determine_best_metric over a
    /// sequence of evaluations: the step at which training stops (nil if it never does), and the best step.
    static func replay(_ values: [(step: Int, value: Double)], greaterIsBetter: Bool, patience: Int?, threshold: Double)
        -> (stop: Int?, best: Int?) {
        var bestMetric: Double? = nil, bestStep: Int? = nil, counter = 0
        for (step, value) in values {
            if patience != nil {
                if let best = bestMetric, !((greaterIsBetter ? value > best : value < best) && abs(value - best) > threshold) {
                    counter += 1
                } else {
                    counter = 0
                }
            }
            if greaterIsBetter ? value > (bestMetric ?? -.infinity) : value < (bestMetric ?? .infinity) {
                bestMetric = value
                bestStep = step
            }
            if let patience, counter >= patience { return (step, bestStep) }
        }
        return (nil, bestStep)
    }

    /// transformers 5.24's rotate_checkpoints after each save: keep the newest and the best, delete the oldest
    /// others until `limit` remain (never fewer than the protected ones).
    static func rotate(saves: [Int], evaluations: [(step: Int, value: Double)], greaterIsBetter: Bool, limit: Int) -> [Int] {
        var kept: [Int] = []
        for save in saves {
            kept.append(save)
            let best = replay(evaluations.filter { $0.step <= save }, greaterIsBetter: greaterIsBetter, patience: nil, threshold: 0).best
            let protected = Set([save] + (best.map { kept.contains($0) ? [$0] : [] } ?? []))
            let keep = max(limit, protected.count)
            while kept.count > keep, let oldest = kept.first(where: { !protected.contains($0) }) { kept.removeAll { $0 == oldest } }
        }
        return kept
    }

    static let plateau = ["--epochs", "6", "--batch-size", "4", "--lr", "5e-3", "--eval-every", "4", "--save-every", "4"]

    @Test func earlyStoppingWithThresholdAsTheCallback() throws {
        let sandbox = try FinetuneSandbox()
        let output = sandbox.folder.file("out")
        let result = try sandbox.finetune(output: output, ["--train", sandbox.train, "--eval", sandbox.eval] + Self.plateau
                                          + ["--early-stopping-patience", "2", "--early-stopping-threshold", "0.2"])
        #expect(result.status == 0, "\(result.stderr)")
        let losses = try sandbox.evaluations(output).map { ($0.step, $0.loss) }
        let rule = Self.replay(losses, greaterIsBetter: false, patience: 2, threshold: 0.2)
        let stop = try #require(rule.stop, "transformers' rule would not stop on these evaluations: \(losses)")
        #expect(losses.last!.0 == stop, "stopped after \(losses.last!.0), the callback stops at \(stop)")
        #expect(result.stderr.contains("early stopping at step \(stop)") && result.stderr.contains("(stopped early)"), "\(result.stderr)")
        #expect(FinetuneSandbox.checkpoints(output).last == stop, "the stopping step is saved")
        // The threshold decided it: with threshold 0 the same evaluations would not have stopped there.
        #expect(Self.replay(losses, greaterIsBetter: false, patience: 2, threshold: 0).stop != stop, "\(losses)")
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output + "/checkpoint-\(stop)/trainer_state.json"))) as! [String: Any]
        #expect(state["best_global_step"] as? Int == rule.best && state["early_stopping_counter"] as? Int == 2)
    }

    @Test func earlyStoppingOnAccuracyWithPatienceOnly() throws {
        let sandbox = try FinetuneSandbox()
        let output = sandbox.folder.file("out")
        let result = try sandbox.finetune(output: output, ["--train", sandbox.train, "--eval", sandbox.eval] + Self.plateau
                                          + ["--metric", "accuracy", "--early-stopping-patience", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        let accuracy = try sandbox.evaluations(output).map { ($0.step, $0.accuracy) }
        let stop = try #require(Self.replay(accuracy, greaterIsBetter: true, patience: 2, threshold: 0).stop, "\(accuracy)")
        #expect(accuracy.last!.0 == stop && result.stderr.contains("early stopping at step \(stop)"), "\(accuracy) \(result.stderr)")
    }

    /// --load-best-at-end: the exported weights are the best checkpoint's (not the last one's); with
    /// --save-total-limit 2 only the best and the newest checkpoints remain, as rotate_checkpoints leaves them.
    @Test func loadBestAtEndAndSaveTotalLimit() throws {
        let sandbox = try FinetuneSandbox()
        let output = sandbox.folder.file("out")
        let result = try sandbox.finetune(output: output, ["--train", sandbox.train, "--eval", sandbox.eval] + Self.plateau
                                          + ["--metric", "accuracy", "--load-best-at-end", "--save-total-limit", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        let accuracy = try sandbox.evaluations(output).map { ($0.step, $0.accuracy) }
        let best = try #require(Self.replay(accuracy, greaterIsBetter: true, patience: nil, threshold: 0).best)
        let last = accuracy.last!.0
        try #require(best != last, "the best evaluation is the last one: nothing to tell apart (\(accuracy))")
        #expect(FinetuneSandbox.checkpoints(output) == Self.rotate(saves: Array(stride(from: 4, through: last, by: 4)), evaluations: accuracy,
                                                                    greaterIsBetter: true, limit: 2))
        #expect(FinetuneSandbox.checkpoints(output) == [best, last])
        #expect(try FinetuneSandbox.bitwiseEqual(output + "/model.safetensors", output + "/checkpoint-\(best)/model.safetensors"))
        #expect(try !FinetuneSandbox.bitwiseEqual(output + "/model.safetensors", output + "/checkpoint-\(last)/model.safetensors"))
        #expect(result.stderr.contains("best accuracy: \(String(format: "%.4f", accuracy.first { $0.0 == best }!.1)) at step \(best)"))
        // The final evaluation printed is the best model's.
        #expect(result.stdout.contains(String(format: "accuracy %.4f", accuracy.first { $0.0 == best }!.1)), "\(result.stdout)")
    }

    /// Without --load-best-at-end the limit still bounds the folders, the best and the newest kept.
    @Test(arguments: [1, 3])
    func saveTotalLimitWithoutLoadBest(_ limit: Int) throws {
        let sandbox = try FinetuneSandbox()
        let output = sandbox.folder.file("out")
        let result = try sandbox.finetune(output: output, ["--train", sandbox.train, "--eval", sandbox.eval] + Self.plateau
                                          + ["--metric", "accuracy", "--save-total-limit", "\(limit)"])
        #expect(result.status == 0, "\(result.stderr)")
        let accuracy = try sandbox.evaluations(output).map { ($0.step, $0.accuracy) }
        let saves = Array(stride(from: 4, through: accuracy.last!.0, by: 4))
        let kept = FinetuneSandbox.checkpoints(output)
        #expect(kept == Self.rotate(saves: saves, evaluations: accuracy, greaterIsBetter: true, limit: limit), "\(kept)")
        #expect(kept.count <= max(limit, 2) && kept.last == saves.last)
    }

    /// --eval-every N evaluates at every N-th update (not at epoch ends), --save-every N saves there, and
    /// --logging-steps N logs the mean training loss every N updates and at the last one.
    @Test func evaluationSavingAndLoggingIntervals() throws {
        let sandbox = try FinetuneSandbox()
        let output = sandbox.folder.file("out")
        let result = try sandbox.finetune(output: output, ["--train", sandbox.train, "--eval", sandbox.eval, "--epochs", "2", "--batch-size", "4",
                                                           "--eval-every", "3", "--save-every", "5", "--logging-steps", "7"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("training: 64 examples, 32 optimizer steps"), "\(result.stderr)")
        let log = try sandbox.log(output)
        #expect(try sandbox.evaluations(output).map(\.step) == Array(stride(from: 3, through: 32, by: 3)))
        #expect(log.filter { $0["loss"] != nil }.map { $0["step"] as! Int } == [7, 14, 21, 28, 32])
        #expect(FinetuneSandbox.checkpoints(output) == [5, 10, 15, 20, 25, 30])

        let epochs = sandbox.folder.file("epochs")
        let byEpoch = try sandbox.finetune(output: epochs, ["--train", sandbox.train, "--eval", sandbox.eval, "--epochs", "2", "--batch-size", "4"])
        #expect(byEpoch.status == 0)
        #expect(try sandbox.evaluations(epochs).map(\.step) == [16, 32])
        #expect(FinetuneSandbox.checkpoints(epochs) == [16, 32])
    }

    /// --grad-accum 2: half the optimizer updates, and (dropout off) the update of one batch twice the size.
    @Test func gradientAccumulation() throws {
        let sandbox = try FinetuneSandbox()
        // The tiny classifier with dropout off, so the two runs see the same function.
        let model = sandbox.folder.file("model")
        try FileManager.default.copyItem(atPath: FinetuneSandbox.model, toPath: model)
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: model + "/config.json"))) as! [String: Any]
        config["hidden_dropout_prob"] = 0.0
        config["attention_probs_dropout_prob"] = 0.0
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: model + "/config.json"))
        func run(_ name: String, _ extra: [String]) throws -> (CommandResult, String) {
            let output = sandbox.folder.file(name)
            let result = try Bertkit.run(["finetune", "--model", model, "--output", output, "--threads", "1", "--train", sandbox.train,
                                          "--epochs", "2", "--lr", "1e-3", "--save-every", "never", "--max-grad-norm", "0"] + extra)
            #expect(result.status == 0, "\(result.stderr)")
            return (result, output)
        }
        let (accumulated, a) = try run("accumulated", ["--batch-size", "4", "--grad-accum", "2"])
        let (large, b) = try run("large", ["--batch-size", "8"])
        let (small, c) = try run("small", ["--batch-size", "4"])
        #expect(accumulated.stderr.contains("64 examples, 16 optimizer steps") && large.stderr.contains("64 examples, 16 optimizer steps"))
        #expect(small.stderr.contains("64 examples, 32 optimizer steps"))
        let x = try FinetuneSandbox.tensors(a + "/model.safetensors"), y = try FinetuneSandbox.tensors(b + "/model.safetensors")
        let z = try FinetuneSandbox.tensors(c + "/model.safetensors")
        var worstAccumulated = 0.0, worstSmall = 0.0
        for (name, tensor) in x {
            worstAccumulated = max(worstAccumulated, maxAbsDifference(tensor.float32Values()!, y[name]!.float32Values()!))
            worstSmall = max(worstSmall, maxAbsDifference(z[name]!.float32Values()!, y[name]!.float32Values()!))
        }
        #expect(worstAccumulated < 1e-5, "batch 4 × 2 vs batch 8: \(worstAccumulated)")
        #expect(worstSmall > 1e-3, "batch 4 without accumulation should differ: \(worstSmall)")
        // The logged training loss is the mean over the accumulated examples (transformers 5.24 would log the sum
        // of the micro-batch means for BERT: see Trainer.swift's header), so it is the large batch's loss.
        let lossA = try sandbox.log(a).compactMap { $0["loss"] as? Double }, lossB = try sandbox.log(b).compactMap { $0["loss"] as? Double }
        #expect(lossA.count == lossB.count && !lossA.isEmpty)
        assertClose(lossA, lossB, rtol: 1e-5, atol: 1e-7, "logged loss, batch 4 × 2 vs batch 8")
    }

    /// On a terminal (a pseudo-terminal from util-linux's `script`) stderr carries a redrawn progress bar with
    /// step, epoch, loss, learning rate and examples/s, and no plain step lines; through a pipe, plain step lines
    /// and no bar.
    @Test func progressBarOnATerminalPlainLinesOtherwise() throws {
        let sandbox = try FinetuneSandbox()
        let quote = { (word: String) in "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let extra = ["--train", sandbox.train, "--epochs", "2", "--batch-size", "8", "--logging-steps", "2"]
        let terminalOutput = sandbox.folder.file("tty")
        let command = ([Bertkit.executable] + sandbox.arguments(output: terminalOutput, extra)).map(quote).joined(separator: " ")
        let terminal = try runProcess("/usr/bin/script", ["-qec", command, "/dev/null"])
        #expect(terminal.status == 0, "\(terminal.stdout)")
        let bars = terminal.stdout.split(separator: "\r").filter { $0.hasPrefix("[") }
        #expect(bars.count >= 2, "\(terminal.stdout)")
        let last = bars.last.map(String.init) ?? ""
        for fragment in ["step 16/16", "epoch 2.00", "loss ", "lr ", "ex/s"] { #expect(last.contains(fragment), "\(last)") }
        #expect(!terminal.stdout.contains("grad_norm"), "plain log lines on a terminal: \(terminal.stdout)")

        let piped = try sandbox.finetune(output: sandbox.folder.file("pipe"), extra)
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(!piped.stderr.contains("\r"))
        #expect(piped.stderr.split(separator: "\n").filter { $0.hasPrefix("step ") && $0.contains("grad_norm") }.count == 8, "\(piped.stderr)")
    }

    /// training_log.jsonl: one JSON object a line, steps in order, logged steps with finite loss, learning rate
    /// and gradient norm, evaluations with loss, accuracy, F1 and count; training_curves.svg: an SVG with a
    /// line for each series holding one point per logged value.
    @Test func logAndCurvesAreWellFormed() throws {
        let sandbox = try FinetuneSandbox()
        let output = sandbox.folder.file("out")
        let result = try sandbox.finetune(output: output, ["--train", sandbox.train, "--eval", sandbox.eval, "--epochs", "3", "--batch-size", "8",
                                                           "--logging-steps", "2", "--lr", "5e-3"])
        #expect(result.status == 0, "\(result.stderr)")
        let log = try sandbox.log(output)
        let steps = log.map { $0["step"] as! Int }
        #expect(steps == steps.sorted() && !log.isEmpty)
        let logged = log.filter { $0["loss"] != nil }, evaluated = log.filter { $0["eval_loss"] != nil }
        #expect(logged.count == 12 && evaluated.count == 3 && logged.count + evaluated.count == log.count)
        for entry in logged {
            for key in ["loss", "learning_rate", "grad_norm", "examples_per_second", "epoch"] {
                #expect((entry[key] as? Double)?.isFinite == true, "\(key) in \(entry)")
            }
            #expect((entry["loss"] as! Double) > 0 && (entry["learning_rate"] as! Double) > 0)
        }
        for entry in evaluated {
            #expect(entry["eval_count"] as? Int == 16)
            for key in ["eval_loss", "eval_accuracy", "eval_f1"] { #expect((entry[key] as? Double)?.isFinite == true, "\(key) in \(entry)") }
            #expect((0...1).contains(entry["eval_accuracy"] as! Double) && (0...1).contains(entry["eval_f1"] as! Double))
        }
        #expect(evaluated.map { $0["epoch"] as! Double } == [1, 2, 3])

        let svg = try Data(contentsOf: URL(fileURLWithPath: output + "/training_curves.svg"))
        let reader = SVGReader()
        let parser = XMLParser(data: svg)
        parser.delegate = reader
        #expect(parser.parse(), "training_curves.svg is not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "")")
        #expect(reader.root == "svg")
        // Training loss, eval loss, accuracy, macro-F1, in that order.
        #expect(reader.polylinePointCounts == [logged.count, evaluated.count, evaluated.count, evaluated.count], "\(reader.polylinePointCounts)")
        #expect(reader.text.contains("training loss") && reader.text.contains("accuracy"))
    }
}

final class SVGReader: NSObject, XMLParserDelegate {
    var root: String?
    var polylinePointCounts: [Int] = []
    var text = ""
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if root == nil { root = name }
        if name == "polyline", let points = attributes["points"] {
            let pairs = points.split(separator: " ")
            let valid = pairs.allSatisfy { $0.split(separator: ",").compactMap { Double($0) }.filter(\.isFinite).count == 2 }
            polylinePointCounts.append(valid ? pairs.count : -1)
        }
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
}

// MARK: - The exported directory

@Suite struct FinetuneExportTests {
    func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    /// Labels that are not the model's: a new head, id2label/label2id from the data (sorted), the problem
    /// type, the architecture, and the tokenizer files copied unchanged.
    @Test func configLabelsAndTokenizerFiles() throws {
        let sandbox = try FinetuneSandbox()
        let train = try sandbox.write(TinyReviews.jsonl(TinyReviews.rows(48, seed: 5, labels: ("positive", "negative"))), "train.jsonl")
        let output = sandbox.folder.file("out")
        let result = try sandbox.finetune(output: output, ["--train", train, "--epochs", "1", "--save-every", "never"])
        #expect(result.status == 0, "\(result.stderr)")
        let config = try json(output + "/config.json")
        #expect(config["architectures"] as? [String] == ["BertForSequenceClassification"])
        #expect(config["id2label"] as? [String: String] == ["0": "negative", "1": "positive"])
        #expect(config["label2id"] as? [String: Int] == ["negative": 0, "positive": 1])
        #expect(config["problem_type"] as? String == "single_label_classification")
        #expect(config["model_type"] as? String == "bert" && config["hidden_size"] as? Int == 32)
        for name in ["vocab.txt", "tokenizer.json", "tokenizer_config.json"] {
            #expect(FileManager.default.contentsEqual(atPath: output + "/" + name, andPath: FinetuneSandbox.model + "/" + name), "\(name)")
        }
        let store = try SafetensorsReader.read(path: output + "/model.safetensors")
        #expect(store.metadata["format"] == "pt")
        #expect(store["classifier.weight"]?.shape == [2, 32])
        #expect(!FileManager.default.fileExists(atPath: output + "/pytorch_model.bin"))
        // The export reloads in bertkit with the same labels.
        let predicted = try Bertkit.run(["predict", "--model", output, "--json", "the movie was very good"])
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let prediction = (try JSONSerialization.jsonObject(with: Data(predicted.stdout.utf8)) as! [String: Any])["predictions"] as! [[String: Any]]
        #expect(Set((prediction[0]["probabilities"] as! [String: Double]).keys) == ["negative", "positive"])
    }

    @Test func regressionAndExtraFormats() throws {
        let sandbox = try FinetuneSandbox()
        let rows = TinyReviews.rows(32, seed: 6).enumerated().map { "\($1.text),\($1.label == "pos" ? 0.75 + Double($0 % 3) * 0.1 : 0.125)\n" }
        let train = try sandbox.write("text,score\n" + rows.joined(), "train.csv")
        let output = sandbox.folder.file("out")
        let result = try sandbox.finetune(output: output, ["--train", train, "--label-column", "score", "--epochs", "1", "--save-every", "never",
                                                           "--save-format", "pytorch", "--save-format", "hdf5"])
        #expect(result.status == 0, "\(result.stderr)")
        let config = try json(output + "/config.json")
        #expect(config["problem_type"] as? String == "regression" && (config["id2label"] as? [String: String])?.count == 1)
        for name in ["model.safetensors", "pytorch_model.bin", "tf_model.h5"] {
            #expect(FileManager.default.fileExists(atPath: output + "/" + name), "\(name)")
        }
    }

    /// A base model whose config.json says problem_type "regression": integer targets are regression
    /// targets, not class ids, as transformers would train them.
    @Test func theBaseConfigsProblemTypeIsUsed() throws {
        let sandbox = try FinetuneSandbox()
        let base = sandbox.folder.file("base")
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        for name in ["model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt"] {
            try FileManager.default.copyItem(atPath: FinetuneSandbox.model + "/" + name, toPath: base + "/" + name)
        }
        var baseConfig = try json(FinetuneSandbox.model + "/config.json")
        #expect(baseConfig["problem_type"] == nil || baseConfig["problem_type"] is NSNull)
        baseConfig["problem_type"] = "regression"
        try JSONSerialization.data(withJSONObject: baseConfig).write(to: URL(fileURLWithPath: base + "/config.json"))
        let rows = TinyReviews.rows(32, seed: 7).enumerated().map { "\($1.text),\($0 % 4)\n" }
        let train = try sandbox.write("text,label\n" + rows.joined(), "train.csv")
        let output = sandbox.folder.file("out")
        let result = try Bertkit.run(["finetune", "--model", base, "--output", output, "--threads", "1", "--train", train,
                                      "--epochs", "1", "--save-every", "never"])
        #expect(result.status == 0, "\(result.stderr)")
        let config = try json(output + "/config.json")
        #expect(config["problem_type"] as? String == "regression" && (config["id2label"] as? [String: String])?.count == 1)
        #expect(try SafetensorsReader.read(path: output + "/model.safetensors")["classifier.weight"]?.shape == [1, 32])
        // evaluate: with problem_type removed, num_labels 1 still means regression (no accuracy, an MSE loss).
        var exported = config
        exported.removeValue(forKey: "problem_type")
        try JSONSerialization.data(withJSONObject: exported).write(to: URL(fileURLWithPath: output + "/config.json"))
        let evaluated = try Bertkit.run(["evaluate", "--model", output, "--data", train, "--json"])
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        let metrics = try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as! [String: Any]
        #expect(metrics["accuracy"] is NSNull && (metrics["loss"] as? Double).map { $0 > 0 && $0.isFinite } == true, "\(metrics)")
    }

    /// A LoRA run writes a PEFT adapter folder (adapter_config.json as PEFT 0.21.2 writes it), not full weights.
    @Test func loraOutputIsAPEFTAdapter() throws {
        let sandbox = try FinetuneSandbox()
        let output = sandbox.folder.file("out")
        let result = try sandbox.finetune(output: output, ["--train", sandbox.train, "--epochs", "1", "--lora-r", "4", "--lora-alpha", "16",
                                                           "--lora-targets", "query,key,value,attention.output.dense", "--lora-rslora",
                                                           "--save-every", "never"])
        #expect(result.status == 0, "\(result.stderr)")
        let config = try json(output + "/adapter_config.json")
        #expect(config["peft_type"] as? String == "LORA" && config["task_type"] as? String == "SEQ_CLS")
        #expect(config["r"] as? Int == 4 && config["lora_alpha"] as? Int == 16 && config["use_rslora"] as? Bool == true)
        #expect(config["target_modules"] as? [String] == ["query", "key", "value", "attention.output.dense"])
        #expect(config["modules_to_save"] as? [String] == ["classifier", "score"])
        #expect(config["base_model_name_or_path"] as? String == FinetuneSandbox.model)
        let store = try SafetensorsReader.read(path: output + "/adapter_model.safetensors")
        let names = Set(store.names)
        #expect(names.contains("base_model.model.classifier.weight") && names.contains("base_model.model.classifier.bias"))
        for layer in 0..<2 {
            for module in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"] {
                let prefix = "base_model.model.bert.encoder.layer.\(layer).\(module)"
                #expect(store[prefix + ".lora_A.weight"]?.shape == [4, 32] && store[prefix + ".lora_B.weight"]?.shape == [32, 4], "\(prefix)")
            }
        }
        #expect(names.count == 2 + 2 * 4 * 2, "\(names.sorted())")
        #expect(!FileManager.default.fileExists(atPath: output + "/model.safetensors"))
    }
}
