// Domain adaptation through the CLI: `finetune --task masked-lm` on raw text from a model without an MLM head, the
// export a BertForMaskedLM that `fill-mask` and `evaluate` read and that a classifier fine-tunes from; bad corpora
// refused with one `error:` line naming the file.

import Testing
import Foundation
import BertKitInternals
import TestSupport

@Suite struct MaskedLMCommandTests {
    static let sentences = ["the movie was very good !", "i hated this boring film", "alice visited paris and loved it",
                            "bob went to london", "the plot was awful but the actors were good", "it was the best film ever"]

    @Test func adaptThenEvaluateAndFillMask() throws {
        let folder = TemporaryDirectory()
        let text = (0..<40).map { Self.sentences[$0 % Self.sentences.count] }.joined(separator: "\n") + "\n\n"
        try text.write(toFile: folder.file("corpus.txt"), atomically: true, encoding: .utf8)
        let output = folder.file("adapted")
        let result = try Bertkit.run(["finetune", "--task", "masked-lm", "--model", Fixtures.path("bert/tiny-base"), "--train", folder.file("corpus.txt"),
                                      "--eval", folder.file("corpus.txt"), "--output", output, "--epochs", "2", "--lr", "1e-3",
                                      "--batch-size", "4", "--max-length", "16", "--threads", "1", "--save-every", "never"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("newly initialized") && result.stderr.contains("cls.predictions"), "\(result.stderr)")
        #expect(result.stdout.contains("perplexity"), "\(result.stdout)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output + "/config.json"))) as! [String: Any]
        #expect(config["architectures"] as? [String] == ["BertForMaskedLM"])
        let evaluation = try Bertkit.run(["evaluate", "--model", output, "--data", folder.file("corpus.txt"), "--max-length", "16", "--json"])
        #expect(evaluation.status == 0, "\(evaluation.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(evaluation.stdout.utf8)) as! [String: Any]
        #expect(Set(json.keys) == ["loss", "perplexity", "accuracy", "n"])
        let loss = json["loss"] as! Double, perplexity = json["perplexity"] as! Double
        #expect(abs(perplexity - Foundation.exp(loss)) <= 1e-9 * perplexity)
        // The same command twice: the evaluation masks are fixed.
        let again = try Bertkit.run(["evaluate", "--model", output, "--data", folder.file("corpus.txt"), "--max-length", "16", "--json"])
        #expect(again.stdout == evaluation.stdout)
        let filled = try Bertkit.run(["fill-mask", "--model", output, "--", "the movie was very [MASK] !"])
        #expect(filled.status == 0, "\(filled.stderr)")
        // A classifier from the adapted model: the MLM head is reported unused, the classifier is new.
        try "text,label\nthe movie was very good !,pos\ni hated this boring film,neg\n".write(toFile: folder.file("train.csv"), atomically: true, encoding: .utf8)
        let downstream = try Bertkit.run(["finetune", "--model", output, "--train", folder.file("train.csv"), "--output", folder.file("cls"),
                                          "--max-steps", "1", "--threads", "1", "--save-every", "never"])
        #expect(downstream.status == 0, "\(downstream.stderr)")
        #expect(downstream.stderr.contains("were not used") && downstream.stderr.contains("cls.") && downstream.stderr.contains("classifier.{bias,weight}"),
                "\(downstream.stderr)")
    }

    /// LoRA on a model with an MLM head trains adapters (the head stays frozen, as PEFT keeps it) and the adapter
    /// evaluates on its base; on a model without one it is refused: the new head would never be trained.
    @Test func loraAdaptsAModelWithAnMLMHeadAndRefusesOneWithout() throws {
        let folder = TemporaryDirectory()
        let text = (0..<40).map { Self.sentences[$0 % Self.sentences.count] }.joined(separator: "\n") + "\n"
        try text.write(toFile: folder.file("corpus.txt"), atomically: true, encoding: .utf8)
        let common = ["finetune", "--task", "masked-lm", "--train", folder.file("corpus.txt"), "--epochs", "1", "--lr", "1e-3",
                      "--batch-size", "4", "--max-length", "16", "--threads", "1", "--save-every", "never", "--lora-r", "4"]
        let adapted = try Bertkit.run(common + ["--model", Fixtures.path("bert/tiny-mlm"), "--output", folder.file("lora")])
        #expect(adapted.status == 0, "\(adapted.stderr)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder.file("lora/adapter_config.json")))) as! [String: Any]
        #expect(config["peft_type"] as? String == "LORA" && (config["modules_to_save"] == nil || config["modules_to_save"] is NSNull), "\(config)")
        let evaluation = try Bertkit.run(["evaluate", "--model", Fixtures.path("bert/tiny-mlm"), "--adapter", folder.file("lora"),
                                          "--data", folder.file("corpus.txt"), "--max-length", "16", "--json"])
        #expect(evaluation.status == 0, "\(evaluation.stderr)")
        let base = try Bertkit.run(["evaluate", "--model", Fixtures.path("bert/tiny-mlm"), "--data", folder.file("corpus.txt"),
                                    "--max-length", "16", "--json"])
        let loss = { (r: CommandResult) in (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any])["loss"] as! Double }
        #expect(try loss(evaluation) < loss(base), "the adapter did not lower the loss: \(evaluation.stdout) vs \(base.stdout)")

        let refused = try Bertkit.run(common + ["--model", Fixtures.path("bert/tiny-base"), "--output", folder.file("refused")])
        #expect(refused.status == 1 && refused.stderr.hasPrefix("error: ") && refused.stderr.contains("has no masked-LM head (cls."),
                "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("refused")))
    }

    @Test(arguments: [("empty.txt", Data(), "no text"), ("blank.txt", Data(" \n\n\t\n".utf8), "no text"),
                      ("binary.txt", Data([0x7F, 0x45, 0x4C, 0x46, 0x00, 0x01, 0xFF]), "not a text file")])
    func badCorporaAreRefused(_ name: String, _ contents: Data, _ message: String) throws {
        let folder = TemporaryDirectory()
        try contents.write(to: URL(fileURLWithPath: folder.file(name)))
        let result = try Bertkit.run(["finetune", "--task", "masked-lm", "--model", Fixtures.path("bert/tiny-base"), "--train", folder.file(name),
                                      "--output", folder.file("out"), "--threads", "1"])
        #expect(result.status == 1 && result.stderr.hasPrefix("error: \(folder.file(name)): \(message)"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: folder.file("out")))
    }
}
