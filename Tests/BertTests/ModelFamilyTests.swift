// Issue 23: the model family from config.json (model_type first, as AutoConfig; architectures when there is none),
// and the grouped names of the load report.

import Testing
import TensorCore
import Bert

@Suite struct ModelFamilyTests {
    func identify(_ json: String) throws(ModelFamilyError) -> ModelFamily {
        try ModelFamily.identify(config: try! JSONReader.parse(json))
    }

    @Test func modelTypeDecides() throws {
        #expect(try identify(#"{"model_type": "bert"}"#) == .bert)
        #expect(try identify(#"{"model_type": "bert", "architectures": ["ElectraForTokenClassification"]}"#) == .bert)
        #expect(throws: ModelFamilyError.unsupportedModelType("electra")) { try identify(#"{"model_type": "electra", "architectures": ["BertModel"]}"#) }
        #expect(try identify(#"{"model_type": "distilbert"}"#) == .distilbert)
        #expect(try identify(#"{"model_type": "roberta"}"#) == .roberta)
        #expect(throws: ModelFamilyError.unsupportedModelType("")) { try identify(#"{"model_type": ""}"#) }
        #expect(throws: ModelFamilyError.modelTypeNotAString("7")) { try identify(#"{"model_type": 7}"#) }
        #expect(ModelFamilyError.unsupportedModelType("gpt2").description == "model_type 'gpt2' is not supported (supported: bert, distilbert, roberta)")
    }

    @Test func withoutModelTypeTheArchitectureDecides() throws {
        #expect(try identify("{}") == .bert)
        #expect(try identify(#"{"model_type": null, "architectures": null}"#) == .bert)
        #expect(try identify(#"{"architectures": ["BertForPreTraining"]}"#) == .bert)
        #expect(try identify(#"{"architectures": ["TFBertForSequenceClassification"]}"#) == .bert)
        #expect(try identify(#"{"architectures": ["RobertaForMaskedLM"]}"#) == .roberta)
        #expect(try identify(#"{"architectures": ["TFDistilBertModel"]}"#) == .distilbert)
        #expect(throws: ModelFamilyError.unsupportedArchitecture("ElectraForMaskedLM")) { try identify(#"{"architectures": ["ElectraForMaskedLM"]}"#) }
    }

    @Test func bertBaseNamesFoldIntoFourGroups() {
        let names = ParameterLayout(config: BertConfig(), head: .sequenceClassification).specs.map(\.name)
        #expect(names.count == 201)
        #expect(NameGroups.summarise(names) == ["bert.embeddings.* (5)", "bert.encoder.layer.{0..11}.* (192)",
                                                "bert.pooler.dense.{bias,weight}", "classifier.{bias,weight}"])
        let pretraining = ["cls.predictions.bias", "cls.predictions.transform.dense.weight", "cls.predictions.transform.dense.bias",
                           "cls.predictions.transform.LayerNorm.weight", "cls.predictions.transform.LayerNorm.bias",
                           "cls.seq_relationship.weight", "cls.seq_relationship.bias"]
        #expect(NameGroups.summarise(pretraining) == ["cls.* (7)"])
        #expect(NameGroups.summarise(Array(pretraining.suffix(2))) == ["cls.seq_relationship.{bias,weight}"])
    }

    @Test func partialLayersShowWhichIndices() {
        let names = [0, 1, 2, 5, 7, 8].flatMap { ["encoder.layer.\($0).output.dense.weight", "encoder.layer.\($0).output.dense.bias"] }
        #expect(NameGroups.summarise(names) == ["encoder.layer.{0..2,5,7..8}.* (12)"])
        #expect(NameGroups.summarise(["encoder.layer.3.output.dense.weight", "encoder.layer.3.output.dense.bias"])
                == ["encoder.layer.3.output.dense.{bias,weight}"])
        #expect(NameGroups.summarise(["embeddings.word_embeddings.weight"]) == ["embeddings.word_embeddings.weight"])
        #expect(NameGroups.summarise([]) == [])
    }
}
