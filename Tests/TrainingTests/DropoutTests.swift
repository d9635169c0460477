// Dropout as transformers 5.24 applies it (Docs/specs/transformers_training.md §6): the classifier uses
// `classifier_dropout` when the config sets it (0 included) and `hidden_dropout_prob` otherwise, as
// BertForSequenceClassification.__init__ does; evaluation and inference run without any dropout whatever
// the config says (model.eval()).

import Testing
import Foundation
import TensorCore
import Safetensors
import Bert
import Training
import TestSupport

/// A fixture model with its config edited before the weights are loaded.
func loadModel(_ folder: String, editing edit: (inout BertConfig) -> Void) throws -> BertModel {
    var config = try BertConfig(json: JSONReader.parse(try readFileBytes(folder + "/config.json")))
    edit(&config)
    let head = try #require(config.architectures.compactMap(BertHead.init(architecture:)).first)
    let model = BertModel(config: config, head: head)
    let report = try BertCheckpointMapping.load(try SafetensorsReader.read(path: folder + "/model.safetensors"), into: model)
    #expect(report.missing.isEmpty)
    return model
}

/// The golden sequence-classification batch as examples (each row cut to its attention mask).
func goldenExamples() throws -> [EncodedExample] {
    let golden = try GoldenCase("seqcls")
    guard case .classes(let targets) = golden.labels else { throw LossError.wrongHead("labels") }
    let T = golden.batch.sequenceLength
    return targets.indices.map { b in
        let length = (0..<T).filter { golden.batch.attentionMask[b * T + $0] != 0 }.count
        return EncodedExample(ids: Array(golden.batch.inputIds[b * T..<b * T + length]),
                              typeIds: Array(golden.batch.tokenTypeIds[b * T..<b * T + length]), target: .classIndex(targets[b]), line: b + 2)
    }
}

@Suite struct DropoutTests {
    @Test(arguments: [("0.4", Float(0.1), Float(0.4)), ("0.0", 0.3, 0), ("null", 0.3, 0.3)])
    func classifierDropoutWinsOverHiddenDropout(_ classifier: String, _ hidden: Float, _ expected: Float) throws {
        let config = try BertConfig(json: JSONReader.parse(#"{"hidden_dropout_prob": \#(hidden), "classifier_dropout": \#(classifier)}"#))
        #expect(config.effectiveClassifierDropout == expected)
        let plan = DropoutPlan.training(config: config, head: .sequenceClassification, seed: 42, step: 3)
        #expect((plan.classifier?.probability ?? 0) == expected)
        #expect(plan.embeddings?.probability == hidden)
        #expect(plan.attentionOutput.allSatisfy { $0?.probability == hidden } && plan.ffnOutput.allSatisfy { $0?.probability == hidden })
    }

    @Test func theClassifierInputIsDroppedWithTheClassifierMaskOnly() throws {
        let golden = try GoldenCase("seqcls")
        // classifier_dropout 0.5 with everything else off: the classifier's input is the pooled output
        // masked by the classifier mask at p = 0.5, and nothing else changes.
        let model = try loadModel(Fixtures.path("training/seqcls")) { c in
            c.hiddenDropoutProb = 0; c.attentionProbsDropoutProb = 0; c.classifierDropout = 0.5
        }
        let plan = DropoutPlan.training(config: model.config, head: model.head, seed: 7, step: 1)
        let mask = try #require(plan.classifier)
        #expect(mask.probability == 0.5 && plan.embeddings == nil)
        let B = golden.batch.batchSize, H = model.config.hiddenSize
        let ws = BertWorkspace(config: model.config, head: model.head, batch: B, sequence: golden.batch.sequenceLength, keepsEveryLayer: true)
        model.forward(golden.batch, workspace: ws, dropout: plan)
        let pooled = Array(UnsafeBufferPointer(start: ws.pooled, count: B * H))
        let headInput = Array(UnsafeBufferPointer(start: ws.headInput, count: B * H))
        #expect(headInput == pooled.indices.map { mask.keeps($0) ? pooled[$0] * 2 : 0 })
        let dropped = pooled.indices.filter { !mask.keeps($0) }.count
        #expect(dropped > B * H / 4 && dropped < 3 * B * H / 4, "\(dropped) of \(B * H) dropped at p = 0.5")

        // hidden 0.5 with classifier_dropout 0: the encoder drops, the classifier's input is the pooled output.
        let hiddenOnly = try loadModel(Fixtures.path("training/seqcls")) { c in
            c.hiddenDropoutProb = 0.5; c.attentionProbsDropoutProb = 0; c.classifierDropout = 0
        }
        let hiddenPlan = DropoutPlan.training(config: hiddenOnly.config, head: hiddenOnly.head, seed: 7, step: 1)
        #expect(hiddenPlan.classifier == nil && hiddenPlan.embeddings?.probability == 0.5)
        hiddenOnly.forward(golden.batch, workspace: ws, dropout: hiddenPlan)
        let hiddenPooled = Array(UnsafeBufferPointer(start: ws.pooled, count: B * H))
        #expect(Array(UnsafeBufferPointer(start: ws.headInput, count: B * H)) == hiddenPooled)
        #expect(hiddenPooled != pooled, "hidden dropout changes the encoder's output")
    }

    @Test func evaluationRunsWithoutDropout() throws {
        // Every dropout probability 0.5 in the config: evaluation equals the dropout-free model and
        // PyTorch's loss (made with dropout 0), and runs the same twice; training-mode forwards differ.
        let examples = try goldenExamples()
        let expectedLoss = Double(try GoldenCase("seqcls").expected["loss"]!.float32Values()![0])
        let noisy = try loadModel(Fixtures.path("training/seqcls")) { c in
            c.hiddenDropoutProb = 0.5; c.attentionProbsDropoutProb = 0.5; c.classifierDropout = 0.5
        }
        let clean = try loadModel(Fixtures.path("training/seqcls")) { c in
            c.hiddenDropoutProb = 0; c.attentionProbsDropoutProb = 0; c.classifierDropout = nil
        }
        let first = try Trainer.evaluate(model: noisy, examples: examples, batchSize: 8, problemType: nil)
        let second = try Trainer.evaluate(model: noisy, examples: examples, batchSize: 3, problemType: nil)
        let reference = try Trainer.evaluate(model: clean, examples: examples, batchSize: 8, problemType: nil)
        #expect(first.loss == reference.loss && first.accuracy == reference.accuracy && first.metrics?.confusion == reference.metrics?.confusion)
        #expect(abs(first.loss - expectedLoss) <= 1e-5 * expectedLoss, "eval loss \(first.loss) vs PyTorch \(expectedLoss)")
        #expect(abs(second.loss - first.loss) <= 1e-6 * first.loss && second.metrics?.confusion == first.metrics?.confusion)

        // The same model in training mode: two steps' masks give two different losses, neither the clean one.
        let golden = try GoldenCase("seqcls")
        let ws = BertWorkspace(config: noisy.config, head: noisy.head, batch: 8, sequence: golden.batch.sequenceLength, keepsEveryLayer: true)
        let bw = BertBackwardWorkspace(config: noisy.config, head: noisy.head, batch: 8, sequence: golden.batch.sequenceLength)
        var trainingLosses: [Double] = []
        for step in [UInt64(0), 1] {
            noisy.forward(golden.batch, workspace: ws, dropout: DropoutPlan.training(config: noisy.config, head: noisy.head, seed: 42, step: step))
            trainingLosses.append(try noisy.loss(golden.labels, workspace: ws, backward: bw, normaliser: 8) / 8)
        }
        #expect(trainingLosses[0] != trainingLosses[1])
        #expect(trainingLosses.allSatisfy { abs($0 - expectedLoss) > 1e-3 }, "\(trainingLosses) vs \(expectedLoss)")
    }
}

/// Every (micro-batch, site) of a training run draws its own mask: over 64 steps of a 2-layer plan no two masks
/// agree on their first 256 elements (with a key linear in step + site, the classifier's mask of step s came back
/// as the embeddings' mask of step s + 1).
@Suite struct DropoutPlanTests {
    @Test func masksDifferAcrossStepsAndSites() throws {
        var config = BertConfig()
        config.numHiddenLayers = 2
        config.hiddenDropoutProb = 0.5
        config.attentionProbsDropoutProb = 0.5
        var signatures: [[Bool]: (step: Int, site: UInt64)] = [:]
        for step in 0..<64 {
            let plan = DropoutPlan.training(config: config, head: .sequenceClassification, seed: 42, step: UInt64(step))
            let masks = [plan.embeddings, plan.classifier] + plan.attentionProbs + plan.attentionOutput + plan.ffnOutput
            for mask in masks.compactMap({ $0 }) {
                let signature = (0..<256).map { mask.keeps($0) }
                #expect(signatures[signature] == nil, "step \(step) site \(mask.site) repeats \(String(describing: signatures[signature]))")
                signatures[signature] = (step, mask.site)
            }
        }
        #expect(signatures.count == 64 * 8)
    }
}

/// One `--seed`, one stream per purpose and epoch: no two of them start from the same number, and none from
/// the bare seed (which all of them used before).
@Suite struct SeedStreamTests {
    @Test func everyPurposeAndEpochHasItsOwnStream() {
        var starts = Set<UInt64>()
        for seed: UInt64 in [0, 1, 42, 43, .max] {
            for purpose in [SeedStream.trainSample, .evalSample, .epochOrder, .newHead, .adapters] {
                for index: UInt64 in 0..<4 {
                    let start = purpose.seed(seed, index: index)
                    #expect(start != seed)
                    #expect(starts.insert(start).inserted, "\(purpose) \(seed) \(index)")
                }
            }
        }
        #expect(Shuffle.permutation(50, seed: SeedStream.epochOrder.seed(42)) != Shuffle.permutation(50, seed: SeedStream.newHead.seed(42)))
    }
}
