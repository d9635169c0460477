// The Pipelines module called directly (the CLI tests reach it through the binary): loading a model directory,
// parity with transformers' outputs, text inference with and without padding, and PEFT adapter configs.

import Testing
import Foundation
import Pipelines
import Bert
import Checkpoints
import Safetensors
import TensorCore
import TestSupport

@Suite struct PretrainedBertTests {
    /// Each head's tiny model reproduces transformers' outputs, through the library's own entry points.
    @Test(arguments: ["tiny-base", "tiny-seqcls", "tiny-tokcls", "tiny-qa", "tiny-mlm"])
    func parityWithTransformers(_ fixture: String) throws {
        let directory = Fixtures.path("bert/" + fixture)
        let loaded = try PretrainedBert.load(directory, head: nil)
        #expect(loaded.loadReport.lines(verbose: false).isEmpty || fixture == "tiny-mlm", "\(loaded.loadReport.lines(verbose: false))")
        let reference = try SafetensorsReader.read(path: directory + "/reference.safetensors")
        let result = try ParityCheck.run(model: loaded.model, reference: reference, atol: 1e-5, rtol: 0)
        #expect(result.ok, "\(result.comparisons.filter { !$0.ok }.map(\.name))")
        #expect(!result.comparisons.isEmpty)
    }

    /// The check can fail: one reference value moved by 0.05 is found.
    @Test func parityFindsAMovedValue() throws {
        let directory = Fixtures.path("bert/tiny-seqcls")
        let loaded = try PretrainedBert.load(directory, head: nil)
        var reference = try SafetensorsReader.read(path: directory + "/reference.safetensors")
        var logits = reference["logits"]!.float32Values()!
        logits[1] += 0.05
        reference["logits"] = Tensor(float32: logits, shape: reference["logits"]!.shape)
        let result = try ParityCheck.run(model: loaded.model, reference: reference, atol: 1e-5, rtol: 0)
        #expect(!result.ok)
        #expect(result.comparisons.first { $0.name == "logits" }?.ok == false)
    }

    @Test func theHeadFollowsConfigArchitectures() throws {
        #expect(try PretrainedBert.load(Fixtures.path("bert/tiny-qa"), head: nil).model.head == .questionAnswering)
        #expect(try PretrainedBert.load(Fixtures.path("bert/tiny-qa"), head: .base).model.head == .base)
    }
}

@Suite struct TextInferenceTests {
    /// Texts of different lengths: the packed (padding-free) batch gives the padded batch's predictions exactly.
    @Test func packedAndPaddedPredictionsAgree() throws {
        let loaded = try PretrainedBert.load(Fixtures.path("bert/tiny-seqcls"), head: nil)
        let texts = ["a short one", "a somewhat longer text with more words in it than the first", "mid length text here", "x"]
        func run(skipsPadding: Bool) throws -> [Prediction] {
            let inference = TextInference(model: loaded.model, tokenizer: try loaded.tokenizer(), adapters: nil, maxLength: nil)
            inference.skipsPadding = skipsPadding
            return try inference.predict(texts)
        }
        let packed = try run(skipsPadding: true), padded = try run(skipsPadding: false)
        #expect(packed.map(\.label) == padded.map(\.label))
        #expect(packed.map(\.logits) == padded.map(\.logits))
        #expect(packed.count == texts.count)
    }
}

@Suite struct PEFTAdapterConfigTests {
    @Test func readsPEFTsKeysAndRefusesOtherAdapters() throws {
        let config = try PEFTAdapterConfig(json: try JSONReader.parse(
            #"{"peft_type": "LORA", "r": 4, "lora_alpha": 16, "lora_dropout": 0.1, "target_modules": ["query", "value"], "task_type": "TOKEN_CLS"}"#))
        #expect(config.lora.rank == 4 && config.lora.alpha == 16)
        #expect(config.taskType == "TOKEN_CLS")
        #expect(throws: PEFTAdapterError.self) { try PEFTAdapterConfig(json: try JSONReader.parse(#"{"peft_type": "IA3", "r": 4}"#)) }
        #expect(throws: PEFTAdapterError.self) { try PEFTAdapterConfig(json: try JSONReader.parse(#"{"peft_type": "LORA"}"#)) }
    }
}

/// Without `--task`, fine-tuning takes the task from the model's class in every family (a CSV file would otherwise make
/// it sequence classification): DistilBERT's and RoBERTa's token classifiers and QA models keep their task.
@Suite struct InferredTaskTests {
    @Test(arguments: [("distilbert-tokcls", "token-classification"), ("roberta-qa", "question-answering"),
                      ("roberta-seqcls", "sequence-classification")])
    func theModelsClassDecides(_ fixture: String, _ task: String) throws {
        let folder = TemporaryDirectory()
        try "text,label\na fine film,1\n".write(toFile: folder.file("train.csv"), atomically: true, encoding: .utf8)
        let inferred = try FineTuneJob.inferTask(model: Fixtures.path("families/" + fixture), train: folder.file("train.csv"))
        #expect(inferred.rawValue == task)
    }
}
