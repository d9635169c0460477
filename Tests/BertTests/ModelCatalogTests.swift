import Testing
import Bert

/// The heads' names come from the class table, both ways.
@Suite struct ModelCatalogTests {
    @Test func everyHeadWritesAClassThatReadsBackAsIt() {
        for head in BertHead.allCases {
            #expect(BertHead(architecture: head.architecture) == head)
            #expect(BertClass.named(head.architecture)?.hasPooler == head.hasPooler)
        }
        #expect(BertHead(architecture: "BertForPreTraining") == .maskedLM)
        #expect(BertHead(architecture: "TFBertModel") == nil)
        #expect(BertHead(architecture: "RobertaModel") == nil)
    }

    @Test func peftTaskTypesReadBackOnlyWhereOneHeadHasThem() {
        #expect(BertHead(peftTaskType: "SEQ_CLS") == .sequenceClassification)
        #expect(BertHead(peftTaskType: "TOKEN_CLS") == .tokenClassification)
        #expect(BertHead(peftTaskType: "QUESTION_ANS") == .questionAnswering)
        #expect(BertHead(peftTaskType: "FEATURE_EXTRACTION") == nil)   // the base model's own head decides
        #expect(BertHead(peftTaskType: "CAUSAL_LM") == nil)
    }

    @Test func parameterKindsDecideDecayAndInitialisation() throws {
        var config = BertConfig()
        config.vocabSize = 12; config.hiddenSize = 4; config.numHiddenLayers = 1; config.numAttentionHeads = 2
        config.intermediateSize = 8; config.maxPositionEmbeddings = 8; config.padTokenId = 3
        let model = BertModel(config: config, head: .maskedLM)
        model.initialiseAll(seed: 7)
        for spec in model.layout.specs {
            let values = model.values(of: spec.name)!
            switch spec.kind {
            case .normWeight: #expect(values.allSatisfy { $0 == 1 }, "\(spec.name)"); #expect(!spec.decays)
            case .bias, .normBias: #expect(values.allSatisfy { $0 == 0 }, "\(spec.name)"); #expect(!spec.decays)
            case .wordEmbedding:
                #expect(values[12..<16].allSatisfy { $0 == 0 }, "the padding row")
                #expect(values.contains { $0 != 0 }); #expect(spec.decays)
            case .embedding, .linearWeight: #expect(values.contains { $0 != 0 }, "\(spec.name)"); #expect(spec.decays)
            }
        }
        #expect(model.layout.spec(named: "cls.predictions.bias")?.kind == .bias)
        #expect(model.layout.spec(named: "bert.encoder.layer.0.output.LayerNorm.weight")?.kind == .normWeight)
    }
}
