// The TF BERT classes of transformers 4.x (`modeling_tf_bert.py`) as one table: for each class, its
// top-level Keras layers in `model.layers` order and each layer's weights in Keras tracking order, with
// the PyTorch name of every weight. The writer uses it to lay out `tf_model.h5` exactly as
// `TFBert*.save_pretrained()` did; tests check that the reading rules map every TF name here back to
// the PyTorch name next to it.

import TensorCore
import ModelCatalog

/// A TF BERT model class (the `architectures` entry of config.json names its PyTorch twin). The cases are the
/// classes whose Keras layout `KerasBertLayout.layers` knows; what each class has comes from the catalogue.
package enum KerasBertClass: String, CaseIterable, Sendable {
    case model = "TFBertModel"
    case preTraining = "TFBertForPreTraining"
    case maskedLM = "TFBertForMaskedLM"
    case sequenceClassification = "TFBertForSequenceClassification"
    case tokenClassification = "TFBertForTokenClassification"
    case questionAnswering = "TFBertForQuestionAnswering"

    /// The class's row of the model catalogue (ModelCatalog/BertClasses.swift), where its facts live.
    var catalogue: BertClass { BertClass.named(tensorFlow: rawValue)! }

    /// The Keras model name, snake case of the class name: the first component of every variable name.
    package var modelName: String { catalogue.tensorFlow!.kerasModelName }

    /// The class for a config.json `architectures` entry (`BertForMaskedLM` or `TFBertForMaskedLM`).
    package init?(architecture: String) {
        guard let bertClass = BertClass.named(architecture) ?? BertClass.named(tensorFlow: architecture),
              let tensorFlow = bertClass.tensorFlow else { return nil }
        self.init(rawValue: tensorFlow.name)
    }

    /// Built with a pooler (`add_pooling_layer=True`).
    var hasPooler: Bool { catalogue.hasPooler }
    var hasMaskedLMHead: Bool { catalogue.hasMaskedLMHead }
}

/// One weight: its TF variable name (`<model>/bert/.../kernel:0`), its PyTorch name, whether the
/// PyTorch value is the transpose, and its TF shape.
package struct KerasWeight: Equatable, Sendable {
    package let variableName: String
    package let pytorchName: String
    package let transposed: Bool
    package let shape: [Int]
}

/// One top-level Keras layer: a group in the file, with its `weight_names` in order.
package struct KerasLayer: Equatable, Sendable {
    package let name: String
    package let weights: [KerasWeight]
}

/// Sizes read off a PyTorch BERT state dict.
package struct BertDimensions: Equatable, Sendable {
    package var vocabulary: Int, hidden: Int, intermediate: Int, positions: Int, tokenTypes: Int, layers: Int
    package var labels: Int?

    package init(vocabulary: Int, hidden: Int, intermediate: Int, positions: Int, tokenTypes: Int, layers: Int, labels: Int? = nil) {
        self.vocabulary = vocabulary
        self.hidden = hidden
        self.intermediate = intermediate
        self.positions = positions
        self.tokenTypes = tokenTypes
        self.layers = layers
        self.labels = labels
    }
}

package enum KerasBertLayout {
    /// The layers of `bertClass` for a model of `dimensions`, in `model.layers` order. `pytorchPrefix`
    /// is `"bert."` or, for a bare BertModel state dict, `""`. `withPooler` nil means the class default.
    package static func layers(_ bertClass: KerasBertClass, _ d: BertDimensions, pytorchPrefix: String = "bert.",
                              withPooler: Bool? = nil) -> [KerasLayer] {
        let model = bertClass.modelName
        func weight(_ tf: String, _ pt: String, _ shape: [Int], transposed: Bool = false) -> KerasWeight {
            KerasWeight(variableName: "\(model)/\(tf):0", pytorchName: pt, transposed: transposed, shape: shape)
        }
        func dense(_ tf: String, _ pt: String, inputs: Int, outputs: Int) -> [KerasWeight] {
            [weight("\(tf)/kernel", "\(pt).weight", [inputs, outputs], transposed: true),
             weight("\(tf)/bias", "\(pt).bias", [outputs])]
        }
        func layerNorm(_ tf: String, _ pt: String) -> [KerasWeight] {
            [weight("\(tf)/gamma", "\(pt).weight", [d.hidden]), weight("\(tf)/beta", "\(pt).bias", [d.hidden])]
        }
        let p = pytorchPrefix
        let embeddings = [
            weight("bert/embeddings/word_embeddings/weight", "\(p)embeddings.word_embeddings.weight", [d.vocabulary, d.hidden]),
            weight("bert/embeddings/token_type_embeddings/embeddings", "\(p)embeddings.token_type_embeddings.weight", [d.tokenTypes, d.hidden]),
            weight("bert/embeddings/position_embeddings/embeddings", "\(p)embeddings.position_embeddings.weight", [d.positions, d.hidden]),
        ] + layerNorm("bert/embeddings/LayerNorm", "\(p)embeddings.LayerNorm")
        var bert = embeddings
        for i in 0..<d.layers {
            let tf = "bert/encoder/layer_._\(i)", pt = "\(p)encoder.layer.\(i)"
            for part in ["query", "key", "value"] {
                bert += dense("\(tf)/attention/self/\(part)", "\(pt).attention.self.\(part)", inputs: d.hidden, outputs: d.hidden)
            }
            bert += dense("\(tf)/attention/output/dense", "\(pt).attention.output.dense", inputs: d.hidden, outputs: d.hidden)
            bert += layerNorm("\(tf)/attention/output/LayerNorm", "\(pt).attention.output.LayerNorm")
            bert += dense("\(tf)/intermediate/dense", "\(pt).intermediate.dense", inputs: d.hidden, outputs: d.intermediate)
            bert += dense("\(tf)/output/dense", "\(pt).output.dense", inputs: d.intermediate, outputs: d.hidden)
            bert += layerNorm("\(tf)/output/LayerNorm", "\(pt).output.LayerNorm")
        }
        if withPooler ?? bertClass.hasPooler {
            bert += dense("bert/pooler/dense", "\(p)pooler.dense", inputs: d.hidden, outputs: d.hidden)
        }
        let labels = d.labels ?? 2
        // Keras names the classifier's Dropout by a process-wide counter: the encoder's 3 dropouts per
        // layer and the embeddings' one come first in a fresh process, so it is `dropout_<3L+1>`.
        let dropout = KerasLayer(name: "dropout_\(3 * d.layers + 1)", weights: [])
        // The masked-LM head holds its own weights, then (tied decoder) the embedding layer's again.
        let maskedLM = KerasLayer(name: "mlm___cls", weights: [
            weight("mlm___cls/predictions/bias", "cls.predictions.bias", [d.vocabulary]),
        ] + dense("mlm___cls/predictions/transform/dense", "cls.predictions.transform.dense", inputs: d.hidden, outputs: d.hidden)
          + layerNorm("mlm___cls/predictions/transform/LayerNorm", "cls.predictions.transform.LayerNorm")
          + embeddings)
        let bertLayer = KerasLayer(name: "bert", weights: bert)
        switch bertClass {
        case .model:
            return [bertLayer]
        case .preTraining:
            let nsp = KerasLayer(name: "nsp___cls", weights: dense("nsp___cls/seq_relationship", "cls.seq_relationship", inputs: d.hidden, outputs: 2))
            return [bertLayer, nsp, maskedLM]
        case .maskedLM:
            return [bertLayer, maskedLM]
        case .sequenceClassification, .tokenClassification:
            return [bertLayer, dropout, KerasLayer(name: "classifier", weights: dense("classifier", "classifier", inputs: d.hidden, outputs: labels))]
        case .questionAnswering:
            return [bertLayer, KerasLayer(name: "qa_outputs", weights: dense("qa_outputs", "qa_outputs", inputs: d.hidden, outputs: labels))]
        }
    }
}

/// Decides which TF class a PyTorch BERT state dict is, and checks it is exactly that class.
enum KerasBertPlan {
    static let tiedDecoder = [("cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight"),
                              ("cls.predictions.decoder.bias", "cls.predictions.bias")]

    /// The layers to write for `store`, or `HDF5Error.notKerasBert` saying why it does not fit. The
    /// class comes from the tensor names; `architecture` (config.json's first `architectures` entry)
    /// decides between classes the names cannot tell apart (a token classifier is a sequence classifier
    /// without a pooler, unless config.json says otherwise), and is ignored when the tensors do not
    /// fit it (bert-base-uncased's config says BertForMaskedLM over BertForPreTraining weights).
    static func make(for original: TensorStore, architecture: String? = nil) throws -> (KerasBertClass, [KerasLayer], TensorStore) {
        let store = normalized(original)
        let prefixed = store.contains("bert.embeddings.word_embeddings.weight")
        guard prefixed || store.contains("embeddings.word_embeddings.weight") else {
            throw HDF5Error.notKerasBert(reason: "no 'bert.embeddings.word_embeddings.weight'")
        }
        let prefix = prefixed ? "bert." : ""
        let dimensions = try dimensions(of: store, prefix: prefix)
        let guessed = guessClass(store, prefix: prefix)
        var candidates = architecture.flatMap(KerasBertClass.init(architecture:)).map { [$0] } ?? []
        if !candidates.contains(guessed) { candidates.append(guessed) }
        var guessedError: Error?
        for bertClass in candidates where prefixed || bertClass == .model {
            let pooler = store.contains("\(prefix)pooler.dense.weight")
            let layers = KerasBertLayout.layers(bertClass, dimensions, pytorchPrefix: prefix,
                                                withPooler: bertClass.hasPooler ? pooler : false)
            do {
                try check(store, against: layers, bertClass: bertClass)
                return (bertClass, layers, store)
            } catch {
                if bertClass == guessed { guessedError = error }
            }
        }
        throw guessedError ?? HDF5Error.notKerasBert(reason: "\(guessed.rawValue) needs 'bert.'-prefixed names")
    }

    /// The state dict as transformers' PyTorch → TF loading sees it: old `gamma` / `beta` LayerNorm
    /// names read as `weight` / `bias` (the legacy renamings, LegacyNames), and the embeddings' index buffers (`position_ids`,
    /// `token_type_ids`, saved by older transformers), which TF has no variables for, left out.
    static func normalized(_ store: TensorStore) -> TensorStore {
        var result = TensorStore()
        for (name, tensor) in store.entries {
            if name.hasSuffix("embeddings.position_ids") || name.hasSuffix("embeddings.token_type_ids") { continue }
            result[normalizedName(name)] = tensor
        }
        result.metadata = store.metadata
        return result
    }

    static func normalizedName(_ name: String) -> String { LegacyNames.rename(name) }

    private static func guessClass(_ store: TensorStore, prefix: String) -> KerasBertClass {
        let maskedLM = store.contains("cls.predictions.bias"), nsp = store.contains("cls.seq_relationship.weight")
        if maskedLM && nsp { return .preTraining }
        if maskedLM { return .maskedLM }
        if store.contains("qa_outputs.weight") { return .questionAnswering }
        if store.contains("classifier.weight") {
            return store.contains("\(prefix)pooler.dense.weight") ? .sequenceClassification : .tokenClassification
        }
        return .model
    }

    private static func dimensions(of store: TensorStore, prefix: String) throws -> BertDimensions {
        func shape(_ name: String, rank: Int) throws -> [Int] {
            guard let tensor = store[prefix + name] else { throw HDF5Error.notKerasBert(reason: "no '\(prefix + name)'") }
            guard tensor.shape.count == rank else {
                throw HDF5Error.notKerasBert(reason: "'\(prefix + name)' has shape \(Shape.describe(tensor.shape))")
            }
            return tensor.shape
        }
        let words = try shape("embeddings.word_embeddings.weight", rank: 2)
        let positions = try shape("embeddings.position_embeddings.weight", rank: 2)
        let types = try shape("embeddings.token_type_embeddings.weight", rank: 2)
        var layers = 0
        while store.contains("\(prefix)encoder.layer.\(layers).attention.self.query.weight") { layers += 1 }
        let intermediate = layers > 0 ? try shape("encoder.layer.0.intermediate.dense.weight", rank: 2)[0] : 0
        let labels = (store["classifier.weight"] ?? store["qa_outputs.weight"]).map { $0.shape.first ?? 0 }
        return BertDimensions(vocabulary: words[0], hidden: words[1], intermediate: intermediate, positions: positions[0],
                              tokenTypes: types[0], layers: layers, labels: labels)
    }

    /// Every tensor must be a weight of the layout (tied decoder copies excepted, if they really are
    /// copies), with the shape the layout expects, and every weight must be there.
    private static func check(_ store: TensorStore, against layers: [KerasLayer], bertClass: KerasBertClass) throws {
        var expected: [String: KerasWeight] = [:]
        for layer in layers { for weight in layer.weights where expected[weight.pytorchName] == nil { expected[weight.pytorchName] = weight } }
        for (name, tensor) in store.entries {
            if let weight = expected[name] {
                let pytorchShape = weight.transposed ? Array(weight.shape.reversed()) : weight.shape
                guard tensor.shape == pytorchShape else {
                    throw HDF5Error.kerasShapeMismatch(tensor: name, expected: pytorchShape, actual: tensor.shape)
                }
                guard [.f32, .f16, .f64].contains(tensor.dtype) else {
                    throw HDF5Error.dtypeNotStorable(tensor: name, dtype: tensor.dtype.rawValue,
                                                     hint: "TensorFlow checkpoints hold F32, F16 or F64 (convert with --dtype f32)")
                }
            } else if let tie = tiedDecoder.first(where: { $0.0 == name }), bertClass.hasMaskedLMHead {
                guard let source = store[tie.1], source.data.isSameStorage(as: tensor.data) || source.isBitwiseEqual(to: tensor) else {
                    throw HDF5Error.untiedDecoder(tensor: name, tiedTo: tie.1)
                }
            } else {
                throw HDF5Error.notKerasBert(reason: "'\(name)' has no place in \(bertClass.rawValue)")
            }
        }
        for name in expected.keys.sorted() where !store.contains(name) {
            throw HDF5Error.notKerasBert(reason: "\(bertClass.rawValue) needs '\(name)', which is missing")
        }
    }
}
