// LoRA against PEFT 0.21.2 (Fixtures/lora, made by Tools/fixtures/make_lora_fixtures.py): gradients
// through every kind of adapted layer, three AdamW updates from PEFT's own initial adapter, PEFT-trained
// adapters giving PEFT's logits, merging as merge_and_unload, and a fresh adapter leaving outputs unchanged.

import Testing
import Foundation
import TensorCore
import Safetensors
import Bert
import Training
import TestSupport

/// A LoRA config read from a PEFT adapter_config.json (the subset these tests need).
func loraConfig(_ folder: String) throws -> LoRAConfig {
    let json = try JSONReader.parse(try readFileBytes(folder + "/adapter_config.json"))
    var config = LoRAConfig()
    config.rank = json["r"]!.intValue!
    config.alpha = Float(json["lora_alpha"]!.doubleValue!)
    config.useRSLoRA = json["use_rslora"]?.boolValue ?? false
    config.targets = .names(json["target_modules"]!.arrayValue!.map { $0.stringValue! })
    config.modulesToSave = json["modules_to_save"]?.arrayValue?.compactMap(\.stringValue) ?? []
    return config
}

func loadBase(_ folder: String, head: BertHead = .sequenceClassification) throws -> BertModel {
    let config = try BertConfig(json: JSONReader.parse(try readFileBytes(folder + "/config.json")))
    let model = BertModel(config: config, head: head)
    _ = try BertCheckpointMapping.load(try SafetensorsReader.read(path: folder + "/model.safetensors"), into: model)
    return model
}

func lossAndLoRAGradients(_ model: BertModel, _ adapters: LoRAAdapters, _ trainable: TrainableParameters,
                          _ batch: TokenBatch, _ labels: [Int]) throws -> Double {
    let ws = BertWorkspace(config: model.config, head: model.head, batch: batch.batchSize, sequence: batch.sequenceLength, keepsEveryLayer: true)
    let bw = BertBackwardWorkspace(config: model.config, head: model.head, batch: batch.batchSize, sequence: batch.sequenceLength)
    model.forward(batch, workspace: ws, adapters: adapters)
    let loss = try model.loss(.classes(labels), workspace: ws, backward: bw, normaliser: Double(labels.count))
    model.backward(batch, workspace: ws, backward: bw, gradients: trainable.targets, adapters: (adapters, trainable.adapterGradients!))
    return loss / Double(labels.count)
}

@Suite struct LoRAGoldenTests {
    @Test func gradientsThroughEveryAdaptedLayerKindMatchPEFT() throws {
        let folder = Fixtures.path("lora/grad_all_kinds")
        let model = try loadBase(Fixtures.path("training/seqcls"))
        let adapters = try LoRAAdapters(model: model, config: try loraConfig(folder))
        #expect(Set(adapters.modules.map(\.kind)) == [.query, .key, .value, .attentionOutput, .intermediate, .output, .pooler])
        try adapters.loadPEFT(try SafetensorsReader.read(path: folder + "/adapter_model.safetensors"), into: model)
        let expected = try SafetensorsReader.read(path: folder + "/gradients.safetensors")
        let trainable = TrainableParameters(model: model, include: { name in adapters.savedModuleParameters(of: model).contains { $0.name == name } },
                                            adapters: adapters)
        let batch = try TokenBatch(inputIds: GoldenCase.rows(expected["input_ids"]!), attentionMask: GoldenCase.rows(expected["attention_mask"]!))
        let loss = try lossAndLoRAGradients(model, adapters, trainable, batch, expected["labels"]!.int64Values()!.map(Int.init))
        #expect(abs(loss - Double(expected["loss"]!.float32Values()![0])) < 1e-5)
        var checked = 0
        for tensor in trainable.tensors {
            let name = tensor.name.hasPrefix("base_model.") ? tensor.name : "base_model.model." + tensor.name
            let reference = try #require(expected["grad." + name], "no PEFT gradient for \(name)").float32Values()!
            let actual = Array(UnsafeBufferPointer(start: tensor.gradient, count: tensor.count))
            #expect(relativeError(actual, reference) < 1e-4, "\(name): relative error \(relativeError(actual, reference))")
            checked += 1
        }
        #expect(checked == expected.names.filter { $0.hasPrefix("grad.") }.count)
    }

    @Test func threeAdamWUpdatesFromPEFTsInitialAdapterMatchPEFT() throws {
        let folder = Fixtures.path("lora/adamw_default")
        let model = try loadBase(Fixtures.path("training/seqcls"))
        let adapters = try LoRAAdapters(model: model, config: try loraConfig(folder + "/initial"))
        try adapters.loadPEFT(try SafetensorsReader.read(path: folder + "/initial/adapter_model.safetensors"), into: model)
        let saved = Set(adapters.savedModuleParameters(of: model).map(\.name))
        let trainable = TrainableParameters(model: model, include: saved.contains, adapters: adapters)
        let decayed = try Fixtures.json("lora/adamw_default/decay_parameters.json") as! [String]
        #expect(trainable.tensors.filter(\.decays).map { $0.name.hasPrefix("base_model.") ? $0.name : "base_model.model." + $0.name }.sorted() == decayed)
        let optimizer = AdamW(settings: AdamWSettings(), tensors: trainable.tensors)
        let schedule = LinearSchedule(peak: 1e-3, warmupSteps: 1, totalSteps: 3)
        let steps = try SafetensorsReader.read(path: folder + "/steps.safetensors")
        for step in 0..<3 {
            trainable.zeroGradients()
            let batch = try TokenBatch(inputIds: GoldenCase.rows(steps["step\(step).input_ids"]!),
                                       attentionMask: GoldenCase.rows(steps["step\(step).attention_mask"]!))
            let loss = try lossAndLoRAGradients(model, adapters, trainable, batch, steps["step\(step).labels"]!.int64Values()!.map(Int.init))
            #expect(abs(loss - Double(steps["step\(step).loss"]!.float32Values()![0])) < 1e-5)
            let norm = GradientClipping.clip(trainable.tensors, maxNorm: 0.5)
            #expect(abs(Double(norm) - Double(steps["step\(step).grad_norm"]!.float32Values()![0])) < 1e-4 * Double(norm))
            optimizer.update(lr: schedule.learningRate(update: step))
        }
        let after = try SafetensorsReader.read(path: folder + "/after/adapter_model.safetensors")
        let mine = adapters.peftStateDict(model: model)
        #expect(Set(mine.names) == Set(after.names))
        for name in after.names {
            assertClose(mine[name]!.float32Values()!, after[name]!.float32Values()!, rtol: 1e-5, atol: 1e-6, name)
        }
    }

    @Test func peftTrainedAdapterGivesPEFTsLogitsAndMergesLikeMergeAndUnload() throws {
        let folder = Fixtures.path("lora/peft_trained")
        let model = try loadBase(Fixtures.path("bert/tiny-seqcls"))
        let adapters = try LoRAAdapters(model: model, config: try loraConfig(folder))
        try adapters.loadPEFT(try SafetensorsReader.read(path: folder + "/adapter_model.safetensors"), into: model)
        let reference = try Reference(folder + "/reference.safetensors")
        let ws = BertWorkspace(config: model.config, head: model.head, batch: reference.batch.batchSize,
                               sequence: reference.batch.sequenceLength, keepsEveryLayer: false)
        model.forward(reference.batch, workspace: ws, adapters: adapters)
        let count = reference.batch.batchSize * model.config.numLabels
        assertClose(Array(UnsafeBufferPointer(start: ws.logits, count: count)), reference.expected("logits")!, rtol: 0, atol: 1e-5, "adapter logits")
        adapters.merge(into: model)
        model.forward(reference.batch, workspace: ws)
        assertClose(Array(UnsafeBufferPointer(start: ws.logits, count: count)), reference.expected("merged_logits")!, rtol: 0, atol: 1e-5, "merged logits")
        let merged = try SafetensorsReader.read(path: folder + "/merged.safetensors")
        for spec in model.layout.specs {
            assertClose(model.values(of: spec.name)!, merged[spec.name]!.float32Values()!, rtol: 1e-6, atol: 1e-6, spec.name)
        }
    }

    @Test func aFreshAdapterLeavesTheOutputsExactlyUnchanged() throws {
        let model = try loadBase(Fixtures.path("bert/tiny-seqcls"))
        var config = LoRAConfig()
        config.targets = .names(["query", "key", "value", "dense"])
        let adapters = try LoRAAdapters(model: model, config: config)
        adapters.initialise(seed: 5)
        let reference = try Reference(Fixtures.path("bert/tiny-seqcls/reference.safetensors"))
        let plain = BertWorkspace(config: model.config, head: model.head, batch: reference.batch.batchSize,
                                  sequence: reference.batch.sequenceLength, keepsEveryLayer: false)
        let adapted = BertWorkspace(config: model.config, head: model.head, batch: reference.batch.batchSize,
                                    sequence: reference.batch.sequenceLength, keepsEveryLayer: false)
        model.forward(reference.batch, workspace: plain)
        model.forward(reference.batch, workspace: adapted, adapters: adapters)
        let n = reference.batch.batchSize * model.config.numLabels
        #expect(Array(UnsafeBufferPointer(start: plain.logits, count: n)) == Array(UnsafeBufferPointer(start: adapted.logits, count: n)))
        let a = adapters.parameters.array(offset: adapters.modules[0].aOffset, count: 8 * 32)
        #expect(a.contains { $0 != 0 } && a.allSatisfy { abs($0) <= 1 / Float(32).squareRoot() })
    }
}

/// A parity reference file's inputs and outputs (as in the Bert tests).
struct Reference {
    let batch: TokenBatch
    let outputs: TensorStore
    init(_ path: String) throws {
        outputs = try SafetensorsReader.read(path: path)
        batch = try TokenBatch(inputIds: GoldenCase.rows(outputs["input_ids"]!), attentionMask: GoldenCase.rows(outputs["attention_mask"]!),
                               tokenTypeIds: GoldenCase.rows(outputs["token_type_ids"]!))
    }
    func expected(_ name: String) -> [Float]? { outputs[name]?.float32Values() }
}
