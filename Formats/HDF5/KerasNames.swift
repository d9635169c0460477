// TensorFlow variable names → PyTorch state-dict names, exactly as transformers 4.x did it
// (`convert_tf_weight_name_to_pt_weight_name` and `apply_transpose` in modeling_tf_pytorch_utils.py,
// restated in Docs/specs/hdf5_keras.md §5). The steps are transformers' own, in its order; they
// apply to any Hugging Face TF model, not only BERT.

import TensorCore

package enum KerasNames {
    /// How a TF weight becomes a PyTorch one (`TransposeType` in transformers).
    package enum Transpose: Equatable, Sendable {
        case none
        /// NumPy `transpose()`: all axes reversed (a Dense kernel [in, out] → Linear weight [out, in]).
        case simple
        /// Conv1D kernel (kernel, in, out) → (out, in, kernel): axes (2, 1, 0).
        case conv1D
        /// Conv2D kernel (k0, k1, in, out) → (out, in, k0, k1): axes (3, 2, 0, 1).
        case conv2D

        package func apply(to tensor: Tensor) -> Tensor {
            axes(rank: tensor.shape.count).map { TensorTranspose.permute(tensor, axes: $0) } ?? tensor
        }

        /// The NumPy `transpose` axes for a tensor of `rank`, nil when nothing moves.
        func axes(rank: Int) -> [Int]? {
            switch self {
            case .none: return nil
            case .simple: return rank < 2 ? nil : Array((0..<rank).reversed())
            case .conv1D: return [2, 1, 0]
            case .conv2D: return [3, 2, 0, 1]
            }
        }
    }

    /// The PyTorch name of TF variable `name` (e.g. `tf_bert_model/bert/encoder/layer_._0/.../kernel:0`)
    /// and how to transpose its value. `rank` is the TF shape's rank; `startPrefixToRemove` (e.g.
    /// `"bert."` for a base model) is deleted at its first occurrence, as transformers does.
    package static func pytorchName(forTensorFlow name: String, rank: Int, startPrefixToRemove: String = "")
        -> (name: String, transpose: Transpose) {
        // 1. ":0" (the TF output index) removed everywhere.
        var text = name.replacing(":0", with: "")
        // 2. A path component `A___B` becomes `B` (re.sub(r"/[^/]*___([^/]*)/", r"/\1/")): matches need a
        //    '/' on both sides and do not overlap, so the first and last components never change.
        text = collapseTripleUnderscores(text)
        // 3. "_._" separates list indices: `layer_._3` → `layer/3`.
        text = text.replacing("_._", with: "/")
        // 4. Empty levels removed (re.sub(r"//+", "/")).
        while text.contains("//") { text = text.replacing("//", with: "/") }
        // 5. Split; drop level zero (the Keras model name) unless it is the only level.
        var parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.count > 1 { parts.removeFirst() }
        // 6. Transpose decision on the last component (and the shape's rank).
        let last = parts[parts.count - 1]
        let transpose: Transpose
        if last == "kernel" && rank == 4 { transpose = .conv2D }
        else if last == "kernel" && rank == 3 { transpose = .conv1D }
        else if ["kernel", "pointwise_kernel", "depthwise_kernel"].contains(last)
                    || parts.contains("emb_projs") || parts.contains("out_projs") { transpose = .simple }
        else { transpose = .none }
        // 7. Standard renames of the last component.
        switch last {
        case "kernel", "embeddings", "gamma": parts[parts.count - 1] = "weight"
        case "beta": parts[parts.count - 1] = "bias"
        case "pointwise_kernel": parts[parts.count - 1] = "pointwise.weight"
        case "depthwise_kernel": parts[parts.count - 1] = "depthwise.weight"
        default: break
        }
        // 8. Join with '.', then drop the base-model prefix at its first occurrence.
        var result = parts.joined(separator: ".")
        if !startPrefixToRemove.isEmpty, let range = result.firstRange(of: startPrefixToRemove) {
            result.removeSubrange(range)
        }
        return (result, transpose)
    }

    /// `re.sub(r"/[^/]*___([^/]*)/", r"/\1/", text)`, scanning left to right without overlaps.
    static func collapseTripleUnderscores(_ text: String) -> String {
        let characters = Array(text)
        var output: [Character] = []
        var index = 0
        while index < characters.count {
            // A match starts at a '/', spans one component containing "___", and ends at the next '/'.
            if characters[index] == "/", let end = characters[(index + 1)...].firstIndex(of: "/") {
                let component = Array(characters[(index + 1)..<end])
                // [^/]* is greedy: the split is after the last (possibly overlapping) "___".
                let underscores = component.indices.last { start in
                    start + 3 <= component.count && component[start..<(start + 3)].allSatisfy { $0 == "_" }
                }
                if let underscores {
                    let tail = component[(underscores + 3)...]
                    output.append("/")
                    output.append(contentsOf: tail)
                    output.append("/")
                    index = end + 1
                    continue
                }
            }
            output.append(characters[index])
            index += 1
        }
        return String(output)
    }

    /// True when the Keras model name (first component of the variable names, e.g. `tf_bert_model` or
    /// `tf_bert_model_1`) names a base model (`TF<Name>Model`) rather than a model with a head: its
    /// PyTorch twin (`BertModel`) has no `bert.` prefix, which transformers removes on loading.
    package static func isBaseModelName(_ modelName: String) -> Bool {
        var name = Substring(modelName)
        if let underscore = name.lastIndex(of: "_"), name[name.index(after: underscore)...].allSatisfy(\.isNumber),
           name.index(after: underscore) < name.endIndex {
            name = name[..<underscore]   // Keras' uniquifying suffix `_1`, `_2` …
        }
        return name.hasPrefix("tf_") && name.hasSuffix("_model") && !name.contains("_for_")
            && !name.contains("head") && !name.contains("with_")
    }
}
