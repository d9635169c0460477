// A model directory as an ONNX graph ONNX Runtime runs: inputs and outputs named as optimum names them, opset 17,
// the weights as initializers under their Hugging Face names (so `convert model.onnx OUT` gives the state dict back,
// bit for bit), LoRA merged first. The node sequence is the one ONNX Runtime's BERT fusions recognise
// (onnxruntime 1.32 transformers/fusion_attention.py, fusion_embedlayer.py, fusion_skiplayernorm.py,
// fusion_biasgelu.py): Formats/ONNX/SPEC.md §4 lists it.

import TensorCore
import Checkpoints
import ModelCatalog
import Bert
import ONNX

public struct ONNXExportReport: Sendable {
    public var path: String
    public var head: BertHead
    public var outputs: [String]
    public var nodeCount: Int
    public var initializerCount: Int
    public var notes: [String] = []
}

public enum ONNXExportError: Error, CustomStringConvertible {
    case missingWeight(String)
    case unsupportedFamily(ModelFamily)

    public var description: String {
        switch self {
        case .missingWeight(let name): return "the model has no '\(name)', which the graph needs"
        case .unsupportedFamily(let family):
            return "ONNX export writes BERT graphs; this is a \(family.rawValue) model (its embeddings and heads are not in the graph yet)"
        }
    }
}

public enum ONNXExport {
    /// The outputs optimum's BERT export names per task (optimum exporters/onnx/model_configs.py, BertOnnxConfig;
    /// the base model also gives `pooler_output`, as BertModel returns it).
    public static func outputNames(_ head: BertHead) -> [String] {
        switch head {
        case .base: return ["last_hidden_state", "pooler_output"]
        case .sequenceClassification, .tokenClassification, .maskedLM: return ["logits"]
        case .questionAnswering: return ["start_logits", "end_logits"]
        }
    }

    /// Loads `directory` (with `adapter` merged when given) and writes its graph to `path`.
    public static func export(modelDirectory directory: String, to path: String, adapter: String? = nil,
                              externalDataThreshold: Int? = nil) throws -> ONNXExportReport {
        var loaded = try adapter.map { try PretrainedBert.load(directory, head: nil, adapter: $0) } ?? PretrainedBert.load(directory)
        var notes: [String] = []
        if let adapters = loaded.adapters {
            adapters.merge(into: loaded.model)
            loaded.adapters = nil
            notes.append("LoRA adapter merged into the weights (PEFT's merge_and_unload)")
        }
        if loaded.config.family != .bert {   // decided by config.json, before any graph is built
            throw FileError(path: loaded.directory + "/config.json", cause: ONNXExportError.unsupportedFamily(loaded.config.family))
        }
        let builder = try withFileContext(loaded.weightsFiles.first ?? directory) { try graph(loaded.model) }
        let head = loaded.model.head
        try builder.write(to: path, metadata: [("bertkit.architecture", loaded.model.architecture)],
                          externalDataThreshold: externalDataThreshold ?? ONNXGraphBuilder.externalDataThreshold)
        return ONNXExportReport(path: path, head: head, outputs: outputNames(head), nodeCount: builder.nodeCount,
                                initializerCount: builder.initializerCount, notes: notes)
    }

    /// The graph of `model` (its config, head and current weights).
    public static func graph(_ model: BertModel) throws -> ONNXGraphBuilder {
        let config = model.config, head = model.head
        guard config.family == .bert else { throw ONNXExportError.unsupportedFamily(config.family) }
        let weights = model.stateDict()
        let prefix = config.family.namePrefix(for: head)
        var g = ONNXGraphBuilder(name: "bertkit_" + head.rawValue.replacingOccurrences(of: "-", with: "_"))
        func weight(_ name: String) throws -> String {
            guard let tensor = weights[name] else { throw ONNXExportError.missingWeight(name) }
            return try g.initializer(name, tensor)
        }
        let batch = ONNXDimension.named("batch_size"), sequence = ONNXDimension.named("sequence_length")
        for input in ["input_ids", "attention_mask", "token_type_ids"] { g.input(input, .int64, [batch, sequence]) }

        let hidden = config.hiddenSize, heads = config.numAttentionHeads, headSize = config.headDimension
        let one = g.constant("const::one", floats: [1]), half = g.constant("const::half", floats: [0.5])
        let sqrt2 = g.constant("const::sqrt2", floats: [Float(2).squareRoot()])
        let scale = g.constant("const::sqrt_head_size", floats: [Float(headSize).squareRoot()])
        let axes0 = g.constant("const::axes_0", int64s: [0]), axes1 = g.constant("const::axes_1", int64s: [1])
        let axes2 = g.constant("const::axes_2", int64s: [2])
        let indexOne = g.constant("const::index_1", int64s: [1], shape: [])
        let splitHeads = g.constant("const::split_heads", int64s: [0, 0, Int64(heads), Int64(headSize)])
        let mergeHeads = g.constant("const::merge_heads", int64s: [0, 0, Int64(hidden)])
        let positions = g.constant("const::position_ids", int64s: (0..<Int64(config.maxPositionEmbeddings)).map { $0 },
                                   shape: [1, config.maxPositionEmbeddings])
        let epsilon = ONNXAttribute.float("epsilon", config.layerNormEps)

        func linear(_ x: String, _ module: String) throws -> String {
            // PyTorch's [out, in] weight through a Transpose node: the initializer keeps its name and layout, and
            // ONNX Runtime folds the Transpose when it loads the model.
            let transposed = g.node("Transpose", [try weight(module + ".weight")], [.ints("perm", [1, 0])])
            return g.node("Add", [g.node("MatMul", [x, transposed]), try weight(module + ".bias")])
        }
        func layerNorm(_ x: String, _ module: String) throws -> String {
            g.node("LayerNormalization", [x, try weight(module + ".weight"), try weight(module + ".bias")],
                   [.int("axis", -1), epsilon])
        }
        func activation(_ x: String) -> String {
            switch config.hiddenAct {
            case .gelu:   // 0.5·x·(1 + erf(x/√2)), the form ORT fuses into Gelu / BiasGelu
                return g.node("Mul", [g.node("Mul", [x, g.node("Add", [g.node("Erf", [g.node("Div", [x, sqrt2])]), one])]), half])
            case .geluTanh:   // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
                let c = g.constant("const::gelu_tanh_c", floats: [Float((2.0 / Double.pi).squareRoot())])
                let k = g.constant("const::gelu_tanh_k", floats: [0.044715])
                let cube = g.node("Mul", [g.node("Mul", [x, x]), x])
                let inner = g.node("Mul", [g.node("Add", [x, g.node("Mul", [cube, k])]), c])
                return g.node("Mul", [g.node("Mul", [x, g.node("Add", [g.node("Tanh", [inner]), one])]), half])
            case .relu:
                return g.node("Relu", [x])
            }
        }

        // Embeddings: Add(Add(word, token type), position) → LayerNormalization (fusion_embedlayer.py's pattern).
        let length = g.node("Unsqueeze", [g.node("Gather", [g.node("Shape", ["input_ids"]), indexOne], [.int("axis", 0)]), axes0])
        let positionIDs = g.node("Slice", [positions, g.constant("const::zero_1", int64s: [0]), length, axes1, axes1])
        let words = g.node("Gather", [try weight(prefix + "embeddings.word_embeddings.weight"), "input_ids"])
        let types = g.node("Gather", [try weight(prefix + "embeddings.token_type_embeddings.weight"), "token_type_ids"])
        let position = g.node("Gather", [try weight(prefix + "embeddings.position_embeddings.weight"), positionIDs])
        var x = try layerNorm(g.node("Add", [g.node("Add", [words, types]), position]), prefix + "embeddings.LayerNorm")

        // The additive mask, once: (1 − mask) × finfo(float32).min, shaped [B, 1, 1, S].
        let minimum = g.constant("const::mask_value", floats: [-Float.greatestFiniteMagnitude])
        let mask4 = g.node("Unsqueeze", [g.node("Unsqueeze", ["attention_mask", axes1]), axes2])
        let additiveMask = g.node("Mul", [g.node("Sub", [one, g.node("Cast", [mask4], [.int("to", Int(ONNXElementType.float.rawValue))])]), minimum])

        for layer in 0..<config.numHiddenLayers {
            let l = prefix + "encoder.layer.\(layer)."
            let q = g.node("Transpose", [g.node("Reshape", [try linear(x, l + "attention.self.query"), splitHeads])], [.ints("perm", [0, 2, 1, 3])])
            let k = g.node("Transpose", [g.node("Reshape", [try linear(x, l + "attention.self.key"), splitHeads])], [.ints("perm", [0, 2, 3, 1])])
            let v = g.node("Transpose", [g.node("Reshape", [try linear(x, l + "attention.self.value"), splitHeads])], [.ints("perm", [0, 2, 1, 3])])
            let scores = g.node("Add", [g.node("Div", [g.node("MatMul", [q, k]), scale]), additiveMask])
            let probabilities = g.node("Softmax", [scores], [.int("axis", -1)])
            let context = g.node("Reshape", [g.node("Transpose", [g.node("MatMul", [probabilities, v])], [.ints("perm", [0, 2, 1, 3])]), mergeHeads])
            let attended = try layerNorm(g.node("Add", [try linear(context, l + "attention.output.dense"), x]), l + "attention.output.LayerNorm")
            let intermediate = activation(try linear(attended, l + "intermediate.dense"))
            x = try layerNorm(g.node("Add", [try linear(intermediate, l + "output.dense"), attended]), l + "output.LayerNorm")
        }

        let tokens: [ONNXDimension] = [batch, sequence]
        func pooled() throws -> String {
            let first = g.node("Gather", [x, g.constant("const::index_0", int64s: [0], shape: [])], [.int("axis", 1)])
            return g.node("Tanh", [try linear(first, prefix + "pooler.dense")])
        }
        switch head {
        case .base:
            _ = g.node("Identity", [x], outputs: ["last_hidden_state"])
            _ = g.node("Identity", [try pooled()], outputs: ["pooler_output"])
            g.output("last_hidden_state", .float, tokens + [.fixed(hidden)])
            g.output("pooler_output", .float, [batch, .fixed(hidden)])
        case .sequenceClassification:
            _ = g.node("Identity", [try linear(try pooled(), "classifier")], outputs: ["logits"])
            g.output("logits", .float, [batch, .fixed(config.numLabels)])
        case .tokenClassification:
            _ = g.node("Identity", [try linear(x, "classifier")], outputs: ["logits"])
            g.output("logits", .float, tokens + [.fixed(config.numLabels)])
        case .questionAnswering:
            let both = try linear(x, "qa_outputs")
            let split = g.constant("const::split_1_1", int64s: [1, 1])
            let parts = ["/start_logits_3d", "/end_logits_3d"]
            _ = g.node("Split", [both, split], outputs: parts, [.int("axis", -1)])
            let last = g.constant("const::axes_last", int64s: [-1])
            _ = g.node("Squeeze", [parts[0], last], outputs: ["start_logits"])
            _ = g.node("Squeeze", [parts[1], last], outputs: ["end_logits"])
            g.output("start_logits", .float, tokens)
            g.output("end_logits", .float, tokens)
        case .maskedLM:
            let transformed = try layerNorm(activation(try linear(x, "cls.predictions.transform.dense")), "cls.predictions.transform.LayerNorm")
            // The decoder is tied to the word embeddings: one initializer, read through a Transpose.
            let decoderName = weights.contains("cls.predictions.decoder.weight") && !model.config.tieWordEmbeddings
                ? "cls.predictions.decoder.weight" : prefix + "embeddings.word_embeddings.weight"
            let decoder = g.node("Transpose", [try weight(decoderName)], [.ints("perm", [1, 0])])
            let biasName = weights.contains("cls.predictions.bias") ? "cls.predictions.bias" : "cls.predictions.decoder.bias"
            _ = g.node("Add", [g.node("MatMul", [transformed, decoder]), try weight(biasName)], outputs: ["logits"])
            g.output("logits", .float, tokens + [.fixed(config.vocabSize)])
        }
        return g
    }
}
