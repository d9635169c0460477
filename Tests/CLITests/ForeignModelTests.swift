// Issue 23: checkpoints of architectures bertkit does not run (ELECTRA, DistilBERT, RoBERTa, GPT-2 folders made by
// transformers, Fixtures/foreign) are refused by every model-loading command from config.json's model_type, before a
// weight or a data file is read; a BERT-typed checkpoint from which no encoder weight loads is an error unless
// --allow-random-init; the load report is grouped, with every name behind --verbose.

import Testing
import Foundation
import BertKitInternals
import TestSupport

@Suite struct ForeignModelTests {
    /// Folder → the model_type transformers' AutoConfig reads from it (recorded by make_foreign_fixtures.py).
    static let folders: [String: String] = {
        let recorded = (try? Fixtures.json("foreign/auto_config.json")) as? [String: [String: Any]] ?? [:]
        return recorded.mapValues { $0["model_type"] as? String ?? "?" }
    }()

    /// Every command that loads a model, with what else it needs. Each data file named here does not exist:
    /// the refusal must come before it is read.
    static func commands(model: String, output: String) -> [String: [String]] {
        let missing = output + "-no-such-input"
        return [
            "predict": ["predict", "--model", model, "--", "a good movie"],
            "embed": ["embed", "--model", model, "--", "a good movie"],
            "fill-mask": ["fill-mask", "--model", model, "--", "a [MASK] movie"],
            "parity": ["parity", "--model", model, "--reference", missing],
            "evaluate": ["evaluate", "--model", model, "--data", missing],
            "merge": ["merge", "--model", model, "--adapter", missing, "--output", output],
            "benchmark forward": ["benchmark", "forward", "--model", model, "--iterations", "1"],
            "benchmark train-step": ["benchmark", "train-step", "--model", model, "--iterations", "1"],
            "finetune": ["finetune", "--model", model, "--train", missing, "--output", output],
            "finetune lora": ["finetune", "--model", model, "--train", missing, "--output", output, "--lora-r", "4"],
        ]
    }

    @Test func everyArchitectureWasRecorded() {
        #expect(Set(Self.folders.values) == ["electra", "distilbert", "roberta", "gpt2"], "\(Self.folders)")
    }

    /// distilbert-seqcls and roberta-mlm were refused too until issue 22 made them families of their own.
    @Test(arguments: ["electra-tokcls", "gpt2-lm"])
    func everyCommandRefusesTheModelType(_ name: String) throws {
        let modelType = try #require(Self.folders[name])
        // A copy whose weights file is garbage: the refusal must not depend on reading it.
        let source = Fixtures.path("foreign/" + name), folder = TemporaryDirectory()
        for file in try FileManager.default.contentsOfDirectory(atPath: source) {
            try FileManager.default.copyItem(atPath: source + "/" + file, toPath: folder.file(file))
        }
        try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: folder.file("model.safetensors")))
        let sandbox = TemporaryDirectory()
        for (command, arguments) in Self.commands(model: folder.path, output: sandbox.file("out")).sorted(by: { $0.key < $1.key }) {
            let result = try Bertkit.run(arguments)
            let lines = result.stderr.split(separator: "\n")
            #expect(result.status == 1, "\(command): exit \(result.status): \(result.stderr)")
            #expect(lines.count == 1, "\(command): \(result.stderr)")
            #expect(result.stderr == "error: \(folder.file("config.json")): model_type '\(modelType)' is not supported (supported: bert, distilbert, roberta)\n",
                    "\(command): \(result.stderr)")
            #expect(result.stdout.isEmpty, "\(command): \(result.stdout)")
            #expect(sandbox.contents.isEmpty, "\(command) left \(sandbox.contents)")
        }
    }

    /// The reported bug: an ELECTRA token classifier whose `classifier.*` names are BERT's. Without model_type, the
    /// architectures entry decides; with a model_type that says bert, no encoder weight loads, which is an error.
    @Test func electraClassifierIsNeverTrainedAsAFreshBert() throws {
        let source = Fixtures.path("foreign/electra-tokcls")
        let sandbox = TemporaryDirectory()
        let train = sandbox.file("train.csv")
        try "text,label\nalice visited paris,O\nthe movie was good,B-PER\nbad film,I-PER\ni hated it,B-LOC\nloved it,I-LOC\n"
            .write(toFile: train, atomically: true, encoding: .utf8)
        func variant(_ edit: (inout [String: Any]) -> Void) throws -> TemporaryDirectory {
            let folder = TemporaryDirectory()
            for file in try FileManager.default.contentsOfDirectory(atPath: source) where file != "config.json" {
                try FileManager.default.copyItem(atPath: source + "/" + file, toPath: folder.file(file))
            }
            var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: source + "/config.json"))) as! [String: Any]
            edit(&config)
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: folder.file("config.json")))
            return folder
        }
        let untyped = try variant { $0.removeValue(forKey: "model_type") }
        let result = try Bertkit.run(["finetune", "--model", untyped.path, "--train", train, "--output", sandbox.file("a"), "--task",
                                      "sequence-classification"])
        #expect(result.status == 1 && result.stderr == "error: \(untyped.file("config.json")): architectures names 'ElectraForTokenClassification' "
                + "and no model_type: not a model of a supported type (supported: bert, distilbert, roberta)\n", "\(result.stderr)")

        // Labelled bert: the classifier fits BERT's names, the encoder does not.
        let mislabelled = try variant { $0["model_type"] = "bert"; $0["architectures"] = ["BertForSequenceClassification"] }
        let base = ["finetune", "--model", mislabelled.path, "--train", train, "--max-steps", "1", "--save-every", "never",
                    "--threads", "1", "--labels", "O,B-PER,I-PER,B-LOC,I-LOC"]
        let refused = try Bertkit.run(base + ["--output", sandbox.file("b")])
        #expect(refused.status == 1 && refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
        #expect(refused.stderr.hasPrefix("error: \(mislabelled.file("model.safetensors")): no encoder weight of the checkpoint fits "
                                         + "BertForSequenceClassification"), "\(refused.stderr)")
        #expect(refused.stderr.contains("'electra.") && refused.stderr.contains("--allow-random-init"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.file("b")))
        let predicted = try Bertkit.run(["predict", "--model", mislabelled.path, "--", "a good movie"])
        #expect(predicted.status == 1 && predicted.stderr.contains("no encoder weight"), "\(predicted.stderr)")

        // Asked for, a fresh encoder trains; the report is grouped and counted, every name behind --verbose.
        let allowed = try Bertkit.run(base + ["--output", sandbox.file("c"), "--allow-random-init"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        let warning = allowed.stderr.split(separator: "\n").first { $0.contains("newly initialized") }.map(String.init) ?? ""
        #expect(warning.contains("bert.encoder.layer.{0..1}.* (32)") && warning.contains("bert.embeddings.* (5)"), "\(allowed.stderr)")
        #expect(!warning.contains("bert.encoder.layer.0.attention.self.query.weight"), "\(warning)")
        let unused = allowed.stderr.split(separator: "\n").first { $0.contains("were not used") }.map(String.init) ?? ""
        #expect(unused.contains("electra.* ("), "\(allowed.stderr)")
        let verbose = try Bertkit.run(base + ["--output", sandbox.file("d"), "--allow-random-init", "--verbose"])
        #expect(verbose.status == 0 && verbose.stderr.contains("bert.encoder.layer.1.output.LayerNorm.bias,"), "\(verbose.stderr)")
        #expect(verbose.stderr.contains("electra.embeddings.word_embeddings.weight"), "\(verbose.stderr)")
    }

    /// `tokenize` reads a tokenizer, not a model (ELECTRA's and DistilBERT's are BERT's WordPiece). Byte-level BPE was
    /// refused until issue 22; now RoBERTa's tokenizer.json wraps the text in <s> … </s> and GPT-2's adds nothing
    /// (Tests/Interop/test_bpe_tokenizer_interop.py checks every id and offset against `tokenizers`).
    @Test(arguments: [("roberta-mlm", true), ("gpt2-lm", false)])
    func tokenizeReadsByteLevelBPE(_ name: String, _ roberta: Bool) throws {
        let folder = Fixtures.path("foreign/" + name)
        let result = try Bertkit.run(["tokenize", "--model", folder, "--", "a good movie"])
        #expect(result.status == 0, "\(result.stderr)")
        let tokens = result.stdout.split(separator: "\n").first.map { $0.split(separator: " ").map(String.init) } ?? []
        #expect(tokens.contains("Ġ"), "\(tokens)")   // byte-level: the space is GPT-2's Ġ (these tiny vocabularies merge nothing)
        #expect((tokens.first == "<s>" && tokens.last == "</s>") == roberta, "\(tokens)")
    }

    /// A BERT checkpoint with a missing head is still a warning (the normal fine-tuning start), not an error.
    @Test func aBertEncoderWithANewHeadStillLoads() throws {
        let result = try Bertkit.run(["predict", "--model", Fixtures.path("bert/tiny-base"), "--head", "sequence-classification",
                                      "--", "a good movie"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("newly initialized (2 tensors): classifier.{bias,weight}."), "\(result.stderr)")
    }
}
