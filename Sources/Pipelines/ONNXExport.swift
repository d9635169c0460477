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

package struct ONNXExportReport: Sendable {
    package var path: String
    package var head: BertHead
    /// The model's class (`RobertaForSequenceClassification`), as the file's metadata records it.
    package var architecture: String
    package var outputs: [String]
    package var nodeCount: Int
    package var initializerCount: Int
    package var notes: [String] = []
}

package enum ONNXExportError: Error, CustomStringConvertible {
    case missingWeight(String)

    package var description: String {
        switch self {
        case .missingWeight(let name): return "the model has no '\(name)', which the graph needs"
        }
    }
}

package enum ONNXExport {
    /// The inputs optimum's export names per family (optimum exporters/onnx/model_configs.py: BertOnnxConfig has
    /// token types; DistilBertOnnxConfig, and RobertaOnnxConfig after it, only ids and mask — RoBERTa's one token type
    /// is row 0, added as a constant).
    package static func inputNames(_ family: ModelFamily) -> [String] {
        family == .bert ? ["input_ids", "attention_mask", "token_type_ids"] : ["input_ids", "attention_mask"]
    }

    /// The outputs optimum names per task; the base model also gives `pooler_output` when it has a pooler, as
    /// BertModel and RobertaModel return it (DistilBertModel has none).
    package static func outputNames(_ head: BertHead, family: ModelFamily = .bert) -> [String] {
        switch head {
        case .base: return family.pooler(for: .base) == nil ? ["last_hidden_state"] : ["last_hidden_state", "pooler_output"]
        case .sequenceClassification, .tokenClassification, .maskedLM: return ["logits"]
        case .questionAnswering: return ["start_logits", "end_logits"]
        }
    }

    /// Loads `directory` (with `adapter` merged when given) and writes its graph to `path`.
    package static func export(modelDirectory directory: String, to path: String, adapter: String? = nil,
                              externalDataThreshold: Int? = nil) throws -> ONNXExportReport {
        guard isDirectory(directory) else { throw FileError(path: directory, cause: CheckpointError.onnxNeedsModelDirectory) }
        var loaded = try adapter.map { try PretrainedBert.load(directory, head: nil, adapter: $0) } ?? PretrainedBert.load(directory)
        var notes: [String] = []
        if let adapters = loaded.adapters {
            adapters.merge(into: loaded.model)
            loaded.adapters = nil
            notes.append("LoRA adapter merged into the weights (PEFT's merge_and_unload)")
        }
        let builder = try withFileContext(loaded.weightsFiles.first ?? directory) { try graph(loaded.model) }
        let head = loaded.model.head
        try builder.write(to: path, metadata: [("bertkit.architecture", loaded.model.architecture)],
                          externalDataThreshold: externalDataThreshold ?? ONNXGraphBuilder.externalDataThreshold)
        return ONNXExportReport(path: path, head: head, architecture: loaded.model.architecture,
                                outputs: outputNames(head, family: loaded.config.family),
                                nodeCount: builder.nodeCount, initializerCount: builder.initializerCount, notes: notes)
    }

    /// The graph of `model` (its config, family, head and current weights). Every family runs BERT's encoder under
    /// its own names (ModelFamily.swift); what differs is listed where it happens: the inputs, RoBERTa's positions and
    /// single token type, the poolers and heads.
    package static func graph(_ model: BertModel) throws -> ONNXGraphBuilder {
        let config = model.config, head = model.head, family = config.family, names = family.names
        let weights = model.stateDict()
        let prefix = family.namePrefix(for: head)
        var g = ONNXGraphBuilder(name: "bertkit_" + head.rawValue.replacingOccurrences(of: "-", with: "_"))
        func weight(_ name: String) throws -> String {
            guard let tensor = weights[name] else { throw ONNXExportError.missingWeight(name) }
            return try g.initializer(name, tensor)
        }
        let batch = ONNXDimension.named("batch_size"), sequence = ONNXDimension.named("sequence_length")
        for input in inputNames(family) { g.input(input, .int64, [batch, sequence]) }

        let hidden = config.hiddenSize, heads = config.numAttentionHeads, headSize = config.headDimension
        let one = g.constant("const::one", floats: [1]), half = g.constant("const::half", floats: [0.5])
        let sqrt2 = g.constant("const::sqrt2", floats: [Float(2).squareRoot()])
        let scale = g.constant("const::sqrt_head_size", floats: [Float(headSize).squareRoot()])
        let axes0 = g.constant("const::axes_0", int64s: [0]), axes1 = g.constant("const::axes_1", int64s: [1])
        let axes2 = g.constant("const::axes_2", int64s: [2])
        let indexOne = g.constant("const::index_1", int64s: [1], shape: [])
        let splitHeads = g.constant("const::split_heads", int64s: [0, 0, Int64(heads), Int64(headSize)])
        let mergeHeads = g.constant("const::merge_heads", int64s: [0, 0, Int64(hidden)])
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
        func activation(_ x: String, _ kind: Activation) -> String {
            switch kind {
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
        let positionIDs: String
        if family.positionsFollowPadding, let padding = config.padTokenId {
            // RoBERTa's create_position_ids_from_input_ids: cumsum(ids ≠ pad) · (ids ≠ pad) + pad.
            let pad = g.constant("const::padding_idx", int64s: [Int64(padding)], shape: [])
            let notPad = g.node("Cast", [g.node("Not", [g.node("Equal", ["input_ids", pad])])], [.int("to", Int(ONNXElementType.int64.rawValue))])
            let counted = g.node("CumSum", [notPad, g.constant("const::axis_1", int64s: [1], shape: [])])
            positionIDs = g.node("Add", [g.node("Mul", [counted, notPad]), pad])
        } else {
            let positions = g.constant("const::position_ids", int64s: (0..<Int64(config.maxPositionEmbeddings)).map { $0 },
                                       shape: [1, config.maxPositionEmbeddings])
            let length = g.node("Unsqueeze", [g.node("Gather", [g.node("Shape", ["input_ids"]), indexOne], [.int("axis", 0)]), axes0])
            positionIDs = g.node("Slice", [positions, g.constant("const::zero_1", int64s: [0]), length, axes1, axes1])
        }
        var x = g.node("Gather", [try weight(prefix + names.wordEmbeddings + ".weight"), "input_ids"])
        if let types = names.tokenTypeEmbeddings {
            let table = try weight(prefix + types + ".weight")
            // Without a token_type_ids input (RoBERTa) every token has type 0: the table's first row, broadcast.
            let ids = inputNames(family).contains("token_type_ids") ? "token_type_ids" : g.constant("const::index_0", int64s: [0], shape: [])
            x = g.node("Add", [x, g.node("Gather", [table, ids])])
        }
        let position = g.node("Gather", [try weight(prefix + names.positionEmbeddings + ".weight"), positionIDs])
        x = try layerNorm(g.node("Add", [x, position]), prefix + names.embeddingNorm)

        // The additive mask, once: (1 − mask) × finfo(float32).min, shaped [B, 1, 1, S] (DistilBERT's masked_fill with
        // the same minimum gives the same softmax).
        let minimum = g.constant("const::mask_value", floats: [-Float.greatestFiniteMagnitude])
        let mask4 = g.node("Unsqueeze", [g.node("Unsqueeze", ["attention_mask", axes1]), axes2])
        let additiveMask = g.node("Mul", [g.node("Sub", [one, g.node("Cast", [mask4], [.int("to", Int(ONNXElementType.float.rawValue))])]), minimum])

        for layer in 0..<config.numHiddenLayers {
            func part(_ name: String) -> String { prefix + names.layer(layer, name) }
            let q = g.node("Transpose", [g.node("Reshape", [try linear(x, part(names.query)), splitHeads])], [.ints("perm", [0, 2, 1, 3])])
            let k = g.node("Transpose", [g.node("Reshape", [try linear(x, part(names.key)), splitHeads])], [.ints("perm", [0, 2, 3, 1])])
            let v = g.node("Transpose", [g.node("Reshape", [try linear(x, part(names.value)), splitHeads])], [.ints("perm", [0, 2, 1, 3])])
            let scores = g.node("Add", [g.node("Div", [g.node("MatMul", [q, k]), scale]), additiveMask])
            let probabilities = g.node("Softmax", [scores], [.int("axis", -1)])
            let context = g.node("Reshape", [g.node("Transpose", [g.node("MatMul", [probabilities, v])], [.ints("perm", [0, 2, 1, 3])]), mergeHeads])
            let attended = try layerNorm(g.node("Add", [try linear(context, part(names.attentionOutput)), x]), part(names.attentionNorm))
            let intermediate = activation(try linear(attended, part(names.intermediate)), config.hiddenAct)
            x = try layerNorm(g.node("Add", [try linear(intermediate, part(names.output)), attended]), part(names.outputNorm))
        }

        let tokens: [ONNXDimension] = [batch, sequence]
        /// The head's pooler on the first token (BERT's and RoBERTa's pooler + tanh, DistilBERT's pre_classifier + ReLU,
        /// RoBERTa's classifier.dense + tanh).
        func pooled() throws -> String? {
            guard let pooler = family.pooler(for: head) else { return nil }
            let first = g.node("Gather", [x, g.constant("const::index_0", int64s: [0], shape: [])], [.int("axis", 1)])
            let dense = try linear(first, pooler.module)
            return pooler.activation == .tanh ? g.node("Tanh", [dense]) : g.node("Relu", [dense])
        }
        switch head {
        case .base:
            _ = g.node("Identity", [x], outputs: ["last_hidden_state"])
            g.output("last_hidden_state", .float, tokens + [.fixed(hidden)])
            if let pooled = try pooled() {
                _ = g.node("Identity", [pooled], outputs: ["pooler_output"])
                g.output("pooler_output", .float, [batch, .fixed(hidden)])
            }
        case .sequenceClassification:
            // Every family's sequence classifier has a pooler (ModelFamily.pooler(for:)).
            guard let features = try pooled() else { throw ONNXExportError.missingWeight("the sequence classifier's pooler") }
            _ = g.node("Identity", [try linear(features, names.sequenceClassifier)], outputs: ["logits"])
            g.output("logits", .float, [batch, .fixed(config.numLabels)])
        case .tokenClassification:
            _ = g.node("Identity", [try linear(x, names.tokenClassifier)], outputs: ["logits"])
            g.output("logits", .float, tokens + [.fixed(config.numLabels)])
        case .questionAnswering:
            let both = try linear(x, names.qaOutputs)
            let split = g.constant("const::split_1_1", int64s: [1, 1])
            let parts = ["/start_logits_3d", "/end_logits_3d"]
            _ = g.node("Split", [both, split], outputs: parts, [.int("axis", -1)])
            let last = g.constant("const::axes_last", int64s: [-1])
            _ = g.node("Squeeze", [parts[0], last], outputs: ["start_logits"])
            _ = g.node("Squeeze", [parts[1], last], outputs: ["end_logits"])
            g.output("start_logits", .float, tokens)
            g.output("end_logits", .float, tokens)
        case .maskedLM:
            let transformed = try layerNorm(activation(try linear(x, names.lmTransform), model.lmActivation), names.lmNorm)
            // The decoder is tied to the word embeddings: one initializer, read through a Transpose.
            let decoderName = weights.contains(names.lmDecoderWeight) && !config.tieWordEmbeddings
                ? names.lmDecoderWeight : prefix + names.wordEmbeddings + ".weight"
            let decoder = g.node("Transpose", [try weight(decoderName)], [.ints("perm", [1, 0])])
            let biasName = weights.contains(names.lmBias) ? names.lmBias : names.lmDecoderBias ?? names.lmBias
            _ = g.node("Add", [g.node("MatMul", [transformed, decoder]), try weight(biasName)], outputs: ["logits"])
            g.output("logits", .float, tokens + [.fixed(config.vocabSize)])
        }
        return g
    }
}
