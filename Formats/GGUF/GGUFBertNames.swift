// How a Hugging Face BERT's tensors are named and typed in GGUF: llama.cpp's converter (llama-cpp-python
// 0.3.36's vendored llama.cpp, conversion/bert.py `BertModel.filter_tensors` / `modify_tensors` and
// `DistilBertModel.filter_tensors`, gguf-py tensor_mapping.py for MODEL_ARCH.BERT, whose "distillbert" rows give
// DistilBERT's layers the same GGUF names) and its choice of what stays float32 (conversion/base.py,
// `ModelBase.prepare_tensors`). The one home of these names; SPEC.md §4 has the table.

package enum GGUFBertNames {
    /// HF embedding tensors (without the `bert.` prefix) → GGUF.
    static let embeddings: [(hf: String, gguf: String)] = [
        ("embeddings.word_embeddings", "token_embd"),
        ("embeddings.token_type_embeddings", "token_types"),
        ("embeddings.position_embeddings", "position_embd"),
        ("embeddings.LayerNorm", "token_embd_norm"),
    ]

    /// Inside `encoder.layer.N.` → inside `blk.N.`.
    static let layer: [(hf: String, gguf: String)] = [
        ("attention.self.query", "attn_q"),
        ("attention.self.key", "attn_k"),
        ("attention.self.value", "attn_v"),
        ("attention.output.dense", "attn_output"),
        ("attention.output.LayerNorm", "attn_output_norm"),
        ("intermediate.dense", "ffn_up"),
        ("output.dense", "ffn_down"),
        ("output.LayerNorm", "layer_output_norm"),
    ]

    /// Inside DistilBERT's `transformer.layer.N.` → inside `blk.N.` (architecture `bert` too; a DistilBERT file is
    /// the one without `token_types`, since DistilBERT has no token-type embeddings).
    static let distilbertLayer: [(hf: String, gguf: String)] = [
        ("attention.q_lin", "attn_q"),
        ("attention.k_lin", "attn_k"),
        ("attention.v_lin", "attn_v"),
        ("attention.out_lin", "attn_output"),
        ("sa_layer_norm", "attn_output_norm"),
        ("ffn.lin1", "ffn_up"),
        ("ffn.lin2", "ffn_down"),
        ("output_layer_norm", "layer_output_norm"),
    ]

    /// DistilBERT's sequence classifier's first layer (`pre_classifier`, tensor_mapping.py's CLS row).
    static let distilbertPreClassifier = "pre_classifier"

    /// The sequence classifier: `cls.output` when config.json names its labels, `cls` when it has the two
    /// placeholder labels LABEL_0 / LABEL_1 (the converter maps `classifier` there; llama.cpp then expects a
    /// square matrix and will not load the file — kept as the converter writes it).
    package static let labelledClassifier = "cls.output"
    package static let placeholderClassifier = "cls"

    /// What the converter drops: buffers, the pooler and the pre-training heads ("we are only using BERT for
    /// embeddings"; DistilBERT's `vocab_*` masked-LM layers).
    package static func isDropped(_ hfName: String) -> Bool {
        let name = baseName(hfName)
        return name == "embeddings.position_ids" || name.hasPrefix("pooler.") || name.hasPrefix("cls.predictions")
            || name.hasPrefix("vocab_")
            || name.hasPrefix("cls.seq_relationship") || name.hasSuffix(".attention.masked_bias")
            || name.hasSuffix(".attention.bias") || name.hasSuffix(".rotary_emb.inv_freq")
    }

    /// `bert.` (or DistilBERT's `distilbert.`) stripped, as the converter does before mapping.
    package static func baseName(_ hfName: String) -> String {
        for prefix in ["bert.", "distilbert."] where hfName.hasPrefix(prefix) { return String(hfName.dropFirst(prefix.count)) }
        return hfName
    }

    /// The GGUF name of an HF tensor (after LegacyNames renamed gamma/beta), nil when it has none.
    package static func ggufName(hf hfName: String, labelledClassifier labelled: Bool) -> String? {
        let name = baseName(hfName)
        let (stem, suffix) = splitSuffix(name)
        guard let suffix else { return nil }
        if stem == "classifier" { return (labelled ? labelledClassifier : placeholderClassifier) + suffix }
        if stem == distilbertPreClassifier { return placeholderClassifier + suffix }
        if let entry = embeddings.first(where: { $0.hf == stem }) { return entry.gguf + suffix }
        let parts = stem.split(separator: ".", maxSplits: 3).map(String.init)
        guard parts.count == 4, parts[1] == "layer", let index = Int(parts[2]), index >= 0, String(index) == parts[2] else { return nil }
        let table = parts[0] == "encoder" ? layer : parts[0] == "transformer" ? distilbertLayer : []
        guard let entry = table.first(where: { $0.hf == parts[3] }) else { return nil }
        return "blk.\(index).\(entry.gguf)\(suffix)"
    }

    /// The HF name of a GGUF tensor, without the `bert.` / `distilbert.` prefix (a BertModel's or DistilBertModel's
    /// own names), nil when unknown. A DistilBERT's `cls` is its `pre_classifier` when `cls.output` follows it.
    package static func hfName(gguf ggufName: String, distilbert: Bool = false, twoLayerClassifier: Bool = false) -> String? {
        let (stem, suffix) = splitSuffix(ggufName)
        guard let suffix else { return nil }
        if stem == placeholderClassifier && distilbert && twoLayerClassifier { return distilbertPreClassifier + suffix }
        if stem == labelledClassifier || stem == placeholderClassifier { return "classifier" + suffix }
        if let entry = embeddings.first(where: { $0.gguf == stem }) {
            return distilbert && entry.gguf == "token_types" ? nil : entry.hf + suffix
        }
        let parts = stem.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, parts[0] == "blk", let index = Int(parts[1]), index >= 0, String(index) == parts[1],
              let entry = (distilbert ? distilbertLayer : layer).first(where: { $0.gguf == parts[2] }) else { return nil }
        return (distilbert ? "transformer.layer." : "encoder.layer.") + "\(index).\(entry.hf)\(suffix)"
    }

    /// True when the converter keeps the tensor float32 whatever the file type: 1-D tensors, norms, anything
    /// that is not a `.weight`, and the position and token-type embeddings.
    package static func staysFloat32(gguf name: String, shape: [Int]) -> Bool {
        shape.count <= 1 || name.hasSuffix("_norm.weight") || !name.hasSuffix(".weight")
            || name == "position_embd.weight" || name == "token_types.weight"
    }

    private static func splitSuffix(_ name: String) -> (String, String?) {
        for suffix in [".weight", ".bias"] where name.hasSuffix(suffix) {
            return (String(name.dropLast(suffix.count)), suffix)
        }
        return (name, nil)
    }
}
