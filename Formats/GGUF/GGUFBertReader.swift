// A BERT GGUF file as a Hugging Face state dict: llama.cpp's names mapped back (GGUFBertNames), Q8_0
// dequantized to float32, F32 / F16 / BF16 tensors as stored. Without a classifier the names are
// BertModel's own (`embeddings.…`); with one they take the `bert.` prefix of
// BertForSequenceClassification. The pooler and the masked-LM head are not in GGUF files.

import TensorCore

public enum GGUFBertReader {
    public static func stateDict(_ file: GGUFFile) throws(GGUFError) -> TensorStore {
        let architecture = file["general.architecture"]?.stringValue
        guard architecture == "bert" else { throw .notBERT(architecture: architecture) }
        var pairs: [(String, Tensor)] = []
        for info in file.tensors {
            guard let name = GGUFBertNames.hfName(gguf: info.name) else { throw .unknownTensor(info.name) }
            // `cls` and `cls.output` both come back as the classifier: a file with both has no one answer.
            guard !pairs.contains(where: { $0.0 == name }) else { throw .duplicateTensor(info.name) }
            pairs.append((name, file.tensor(info)))
        }
        if pairs.contains(where: { $0.0.hasPrefix("classifier.") }) {
            pairs = pairs.map { ($0.0.hasPrefix("classifier.") ? $0.0 : "bert." + $0.0, $0.1) }
        }
        return TensorStore(pairs)
    }
}
