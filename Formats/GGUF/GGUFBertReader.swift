// A BERT GGUF file as a Hugging Face state dict: llama.cpp's names mapped back (GGUFBertNames), Q8_0
// dequantized to float32, F32 / F16 / BF16 tensors as stored. Without a classifier the names are
// BertModel's own (`embeddings.…`); with one they take the `bert.` prefix of
// BertForSequenceClassification. A file without `token_types` is a DistilBERT (the converter writes it for every
// BERT; DistilBERT has no token types): DistilBERT's names, `distilbert.` before a classifier, whose two layers
// `cls` and `cls.output` are `pre_classifier` and `classifier`. The pooler and the masked-LM head are not in GGUF files.

import TensorCore

package enum GGUFBertReader {
    package static func stateDict(_ file: GGUFFile) throws(GGUFError) -> TensorStore {
        let architecture = file["general.architecture"]?.stringValue
        guard architecture == "bert" else { throw .notBERT(architecture: architecture) }
        var pairs: [(String, Tensor)] = []
        let distilbert = isDistilBERT(file)
        let twoLayers = file.tensors.contains { $0.name.hasPrefix(GGUFBertNames.labelledClassifier + ".") }
        for info in file.tensors {
            guard let name = GGUFBertNames.hfName(gguf: info.name, distilbert: distilbert, twoLayerClassifier: twoLayers) else {
                throw .unknownTensor(info.name)
            }
            // `cls` and `cls.output` both come back as the classifier: a file with both has no one answer.
            guard !pairs.contains(where: { $0.0 == name }) else { throw .duplicateTensor(info.name) }
            pairs.append((name, file.tensor(info)))
        }
        if pairs.contains(where: { $0.0.hasPrefix("classifier.") }) {
            let base = distilbert ? "distilbert." : "bert."
            pairs = pairs.map { ($0.0.hasPrefix("classifier.") || $0.0.hasPrefix("pre_classifier.") ? $0.0 : base + $0.0, $0.1) }
        }
        return TensorStore(pairs)
    }

    /// A BERT-architecture file without token-type embeddings: what the converter writes for DistilBERT.
    package static func isDistilBERT(_ file: GGUFFile) -> Bool {
        !file.tensors.contains { $0.name == "token_types.weight" }
    }
}
