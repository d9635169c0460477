// Issue 22: DistilBERT and RoBERTa on the family seam — every head's loss and every gradient against PyTorch
// (float64 references, Tools/fixtures/make_family_fixtures.py), the base models' outputs, and the family facts the
// model relies on (names, embeddings, heads).

import Testing
import TensorCore
import Safetensors
import Bert
import TestSupport

@Suite struct FamilyGoldenTests {
    static let trained = ["distilbert-seqcls", "distilbert-tokcls", "distilbert-qa", "distilbert-mlm",
                          "roberta-seqcls", "roberta-tokcls", "roberta-qa", "roberta-mlm"]

    @Test(arguments: trained)
    func lossAndEveryGradientMatchPyTorch(_ name: String) throws {
        let golden = try GoldenCase(name, root: "families/")
        let family = golden.model.config.family
        #expect(family.rawValue == name.split(separator: "-")[0])
        try GoldenTrainingTests.expectLossAndGradientsMatch(golden, name)
    }

    @Test(arguments: ["distilbert-base", "roberta-base"])
    func baseModelOutputsMatchTransformers(_ name: String) throws {
        let folder = Fixtures.path("families/" + name)
        let config = try BertConfig(json: JSONReader.parse(try readFileBytes(folder + "/config.json")))
        let model = BertModel(config: config, head: .base)
        let report = try BertCheckpointMapping.load(try SafetensorsReader.read(path: folder + "/model.safetensors"), into: model)
        #expect(report.isClean, "\(report.missing) \(report.unexpected)")
        let expected = try SafetensorsReader.read(path: folder + "/outputs.safetensors")
        let batch = try TokenBatch(inputIds: GoldenCase.rows(expected["input_ids"]!), attentionMask: GoldenCase.rows(expected["attention_mask"]!),
                                   tokenTypeIds: GoldenCase.rows(expected["token_type_ids"]!))
        let B = batch.batchSize, T = batch.sequenceLength, H = config.hiddenSize
        let ws = BertWorkspace(config: config, head: .base, batch: B, sequence: T, keepsEveryLayer: false)
        model.forward(batch, workspace: ws)
        let mask = expected["attention_mask"]!.int64Values()!
        let reference = expected["last_hidden_state"]!.float32Values()!
        var worst: Float = 0
        for row in 0..<(B * T) where mask[row] != 0 {
            for i in 0..<H { worst = max(worst, abs(ws.lastHiddenState[row * H + i] - reference[row * H + i])) }
        }
        #expect(worst <= 1e-5, "\(name): last_hidden_state differs by \(worst)")
        #expect(model.hasPoolerOutput == (expected["pooler_output"] != nil))
        if let pooled = expected["pooler_output"]?.float32Values() {
            let actual = Array(UnsafeBufferPointer(start: ws.pooled, count: B * H))
            #expect(zip(actual, pooled).allSatisfy { abs($0 - $1) <= 1e-5 }, "\(name): pooler_output")
        }
    }

    @Test func familyConfigsReadTheirOwnKeysAndWriteThemBack() throws {
        let distil = try BertConfig(json: JSONReader.parse(try readFileBytes(Fixtures.path("families/distilbert-qa/config.json"))))
        #expect(distil.family == .distilbert && distil.hiddenSize == 32 && distil.numHiddenLayers == 2 && distil.intermediateSize == 37)
        #expect(distil.maxSequenceLength == 32 && distil.headDropout(.questionAnswering) == 0)
        let text = distil.jsonText(architecture: "DistilBertForQuestionAnswering")
        let written = try JSONReader.parse(Array(text.utf8)).objectValue!
        #expect(written["dim"]?.intValue == 32 && written["hidden_size"] == nil && written["model_type"]?.stringValue == "distilbert")
        #expect(written["type_vocab_size"] == nil && written["hidden_act"] == nil && written["activation"]?.stringValue == "gelu")
        let roberta = try BertConfig(json: JSONReader.parse(try readFileBytes(Fixtures.path("families/roberta-mlm/config.json"))))
        #expect(roberta.family == .roberta && roberta.padTokenId == 1 && roberta.maxSequenceLength == 32)
        #expect(ModelFamily.head(ofArchitecture: "RobertaForTokenClassification")! == (.roberta, .tokenClassification))
        #expect(ModelFamily.head(ofArchitecture: "BertForPreTraining")! == (.bert, .maskedLM))
        #expect(ModelFamily.head(ofArchitecture: "ElectraModel") == nil)
    }
}
