// A Hugging Face BERT directory to GGUF and back: what llama.cpp's converter writes for a BERT embedding model
// (llama-cpp-python 0.3.36's vendored llama.cpp: convert_hf_to_gguf.py, conversion/bert.py, conversion/base.py,
// gguf-py/gguf/vocab.py), so that llama.cpp — and every tool built on it — loads bertkit's file as it loads
// the converter's. Formats/GGUF/SPEC.md §4–5 lists every key and where bertkit differs.

import TensorCore
import Safetensors
import Checkpoints
import ModelCatalog
import Tokenizer
import Bert
import GGUF

/// `--dtype` of a GGUF export: the type of the 2-D weight matrices (`general.file_type`); norms, biases and the
/// position and token-type embeddings stay float32 whatever it is, as the converter keeps them.
package enum GGUFFileType: String, CaseIterable, Sendable {
    case f32, f16, q8_0

    /// llama.cpp's `LlamaFileType`: ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_Q8_0 = 7.
    var llamaFileType: UInt32 {
        switch self {
        case .f32: return 0
        case .f16: return 1
        case .q8_0: return 7
        }
    }

    var tensorType: GGMLType {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .q8_0: return .q8_0
        }
    }
}

package enum GGUFModelError: Error, CustomStringConvertible {
    case unsupportedArchitecture(String)
    case classifierNeedsLabels(String)
    case notFloatingPoint(tensor: String, dtype: String)
    case vocabularyLargerThanConfig(tokens: Int, vocabSize: Int)
    case missingKey(String)
    case wrongKeyType(key: String, expected: String, found: String)
    case tokenTypesDoNotMatch(tokens: Int, types: Int)
    case tooLargeForUInt32(key: String, value: Int)
    case tokenNotOneLine(id: Int)
    case shapeDoesNotMatch(tensor: String, shape: [Int], expected: [Int])
    case tensorForMissingLayer(tensor: String, layers: Int)
    case notAWeightName(String)

    package var description: String {
        switch self {
        case .classifierNeedsLabels(let tensor):
            return "two tensors become '\(tensor)': llama.cpp's converter writes a DistilBERT classifier's two layers as cls and "
                + "cls.output only when config.json names its labels (id2label other than LABEL_0, LABEL_1), and refuses it otherwise"
        case .unsupportedArchitecture(let name):
            let why = name.hasPrefix("Bert") || name.hasPrefix("DistilBert")
                ? "a GGUF BERT has no token-classification or question-answering head"
                : name.hasPrefix("Roberta")
                ? "its RoBERTa classes take only the vocabularies in its pre-tokenizer hash table, roberta-base's, which bertkit "
                    + "cannot check against here"
                : "bertkit writes BERT and DistilBERT GGUF files only"
            return "llama.cpp's converter takes \(GGUFModels.architectures.joined(separator: ", ")), not \(name) (\(why))"
        case .notFloatingPoint(let tensor, let dtype):
            return "tensor '\(tensor)' is \(dtype); GGUF weights must be floating point"
        case .vocabularyLargerThanConfig(let tokens, let vocabSize):
            return "the tokenizer has ids up to \(tokens - 1) but config.json's vocab_size is \(vocabSize)"
        case .missingKey(let key):
            return "no '\(key)' in the metadata; a BERT GGUF file has it"
        case .wrongKeyType(let key, let expected, let found):
            return "metadata '\(key)' should be \(expected), found \(found)"
        case .tokenTypesDoNotMatch(let tokens, let types):
            return "tokenizer.ggml.tokens has \(tokens) entries but tokenizer.ggml.token_type has \(types)"
        case .tooLargeForUInt32(let key, let value):
            return "\(key) = \(value) does not fit GGUF's u32"
        case .tokenNotOneLine(let id):
            return "token \(id) contains a line break, which vocab.txt cannot hold"
        case .shapeDoesNotMatch(let tensor, let shape, let expected):
            return "tensor '\(tensor)' is \(Shape.describe(shape)) but the metadata makes it \(Shape.describe(expected))"
        case .tensorForMissingLayer(let tensor, let layers):
            return "tensor '\(tensor)' belongs to a layer past bert.block_count (\(layers))"
        case .notAWeightName(let name):
            return "'\(name)' is not a tensor of a BERT that llama.cpp's converter maps (it drops the pooler and pre-training heads)"
        }
    }
}

package struct GGUFExportReport: Sendable {
    package var path: String
    package var tensorCount: Int
    package var fileType: GGUFFileType
    package var notes: [String] = []
}

package struct GGUFImportReport: Sendable {
    package var files: [String]
    package var tensorCount: Int
    package var architecture: String
    package var notes: [String] = []
}

package enum GGUFModels {
    /// The classes conversion/bert.py registers for `BertModel` (CamembertModel aside) and `DistilBertModel`.
    /// RoBERTa's (`RobertaModel`, `RobertaForSequenceClassification`) are not among them: the converter accepts only
    /// the byte-level vocabularies in its pre-tokenizer hash table (roberta-base's), which cannot be had here to
    /// check against, so bertkit refuses RoBERTa rather than write a file the reference never made.
    package static let architectures = ["BertModel", "BertForMaskedLM", "BertForSequenceClassification",
                                       "DistilBertModel", "DistilBertForMaskedLM", "DistilBertForSequenceClassification"]

    /// gguf-py `TokenType`.
    enum TokenType: Int32 { case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5 }

    /// U+2581, the "phantom space" llama.cpp's WordPiece tokenizer puts before a word's first piece.
    static let phantomSpace: Unicode.Scalar = "\u{2581}"

    // MARK: Writing

    /// Writes the model in `directory` (config.json, weights in any format, tokenizer files) to `path` as GGUF.
    package static func export(modelDirectory directory: String, to path: String,
                              fileType: GGUFFileType = .f16) throws -> GGUFExportReport {
        guard isDirectory(directory) else { throw FileError(path: directory, cause: CheckpointError.ggufNeedsModelDirectory) }
        let config = try PretrainedBert.readConfig(directory: directory)
        let architecture = config.architectures.first ?? config.family.className(for: .base)
        guard architectures.contains(architecture) else {
            throw FileError(path: directory + "/config.json", cause: GGUFModelError.unsupportedArchitecture(architecture))
        }
        // The converter drops the two placeholder labels AutoConfig invents (bert.py, BertModel.__init__).
        let labels: [String]? = config.id2label.count == 2 && config.id2label[0] == "LABEL_0" ? nil : config.id2label
        var notes: [String] = []

        let loaded = try CheckpointReader.load(path: directory)
        let store = LegacyNames.renamed(loaded.store)
        let weightsFile = loaded.files.first ?? directory
        var tensors: [GGUFOutputTensor] = []
        var parameterCount = 0
        let names = store.names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        for name in names where !GGUFBertNames.isDropped(name) {
            let tensor = store[name]!
            let ggufName = try withFileContext(weightsFile) { () throws -> String in
                guard let mapped = GGUFBertNames.ggufName(hf: name, labelledClassifier: labels != nil) else {
                    throw GGUFModelError.notAWeightName(name)
                }
                // DistilBERT's pre_classifier is `cls`, and so is its classifier without named labels.
                guard !tensors.contains(where: { $0.name == mapped }) else { throw GGUFModelError.classifierNeedsLabels(mapped) }
                guard tensor.dtype.isFloatingPoint, [DType.f32, .f16, .bf16, .f64].contains(tensor.dtype) else {
                    throw GGUFModelError.notFloatingPoint(tensor: name, dtype: tensor.dtype.rawValue)
                }
                return mapped
            }
            var type = GGUFBertNames.staysFloat32(gguf: ggufName, shape: tensor.shape) ? .f32 : fileType.tensorType
            if type == .q8_0, let row = tensor.shape.last, row % Q8_0.blockSize != 0 {
                type = .f16   // as the converter falls back when gguf-py refuses (QuantError)
                notes.append("\(ggufName): rows of \(row) values are not whole Q8_0 blocks; written as F16")
            }
            let data = try withFileContext(weightsFile) { try encode(tensor, as: type, name: name) }
            tensors.append(GGUFOutputTensor(name: ggufName, shape: tensor.shape, type: type, data: data))
            parameterCount += tensor.elementCount
        }

        let tokenizer = try BertTokenizer.load(directory: directory)
        let tokenizerConfig = try TokenizerConfig.load(directory: directory)
        let vocabulary = try withFileContext(directory) { try vocabularyEntries(tokenizer, vocabSize: config.vocabSize) }
        func u32(_ key: String, _ value: Int) throws -> GGUFValue {
            guard let value = UInt32(exactly: value) else {
                throw FileError(path: directory + "/config.json", cause: GGUFModelError.tooLargeForUInt32(key: key, value: value))
            }
            return .uint32(value)
        }
        let pre = pretokenizerName(tokenizer)
        if pre == nil {
            notes.append("the vocabulary is not one llama.cpp's converter knows (its chkhsh table); tokenizer.ggml.pre is 'default'"
                         + " (llama.cpp ignores it for WordPiece vocabularies)")
        }

        // DistilBertModel.set_gguf_parameters writes the epsilon (its fixed 1e-12) before BERT's keys, and its
        // config has no layer_norm_eps for the base class to write again.
        let distilbert = config.family == .distilbert
        let epsilon: (key: String, value: GGUFValue) = ("bert.attention.layer_norm_epsilon", .float32(config.layerNormEps))
        var metadata: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string("bert")),
            ("general.type", .string("model")),
            ("general.name", .string(baseName(of: directory))),
            ("general.size_label", .string(sizeLabel(parameterCount))),
        ]
        if distilbert { metadata.append(epsilon) }
        metadata += [
            ("bert.block_count", try u32("num_hidden_layers", config.numHiddenLayers)),
            ("bert.context_length", try u32("max_position_embeddings", config.maxPositionEmbeddings)),
            ("bert.embedding_length", try u32("hidden_size", config.hiddenSize)),
            ("bert.feed_forward_length", try u32("intermediate_size", config.intermediateSize)),
            ("bert.attention.head_count", try u32("num_attention_heads", config.numAttentionHeads)),
        ]
        if !distilbert { metadata.append(epsilon) }
        metadata += [
            ("general.file_type", .uint32(fileType.llamaFileType)),
            ("bert.attention.causal", .bool(false)),
        ]
        let pooling = try pooling(directory: directory)
        if let type = pooling.type { metadata.append(("bert.pooling_type", .uint32(type))) }
        if let note = pooling.note { notes.append(note) }
        if let labels { metadata.append(("bert.classifier.output_labels", .array(elementType: .string, labels.map { .string($0) }))) }
        metadata.append(("general.quantization_version", .uint32(2)))
        // hparams.get("type_vocab_size", 1): DistilBERT's config has none.
        metadata.append(("tokenizer.ggml.token_type_count", try u32("type_vocab_size", distilbert ? 1 : config.typeVocabSize)))
        metadata.append(("tokenizer.ggml.model", .string("bert")))
        metadata.append(("tokenizer.ggml.pre", .string(pre ?? "default")))
        metadata.append(("tokenizer.ggml.tokens", .array(elementType: .string, vocabulary.map { .string($0.token) })))
        metadata.append(("tokenizer.ggml.token_type", .array(elementType: .int32, vocabulary.map { .int32($0.type.rawValue) })))
        // gguf-py's SpecialVocab: bos is the CLS token and eos the SEP token for BERT; there is no CLS key.
        let specials: [(String, ConfigToken)] = [
            ("bos", tokenizerConfig.clsToken), ("eos", tokenizerConfig.sepToken), ("unknown", tokenizerConfig.unkToken),
            ("seperator", tokenizerConfig.sepToken), ("padding", tokenizerConfig.padToken), ("mask", tokenizerConfig.maskToken),
        ]
        for (key, token) in specials {
            if let id = tokenizer.id(of: token.content), id >= 0 {
                metadata.append(("tokenizer.ggml.\(key)_token_id", .uint32(UInt32(id))))
            }
        }
        // BERT's template is [CLS] $A [SEP] / [CLS] $A [SEP] $B [SEP]: gguf-py reads add_bos and add_eos from its
        // ends, and no extra separator between the sequences.
        metadata.append(("tokenizer.ggml.add_bos_token", .bool(true)))
        metadata.append(("tokenizer.ggml.add_eos_token", .bool(true)))
        metadata.append(("tokenizer.ggml.add_sep_token", .bool(false)))
        if let normalizer = tokenizer.normalizerOptions {
            metadata.append(("tokenizer.ggml.normalizer.lowercase", .bool(normalizer.lowercase)))
            if let strip = normalizer.stripAccents {
                metadata.append(("tokenizer.ggml.normalizer.strip_accents", .bool(strip)))
            }
        }
        try GGUFWriter.write(metadata: metadata, tensors: tensors, to: path)
        return GGUFExportReport(path: path, tensorCount: tensors.count, fileType: fileType, notes: notes)
    }

    /// The bytes of `tensor` in `type`, converted as the converter converts (through float32 — numpy's
    /// `astype(float16)` rounds to nearest even — or gguf-py's Q8_0).
    static func encode(_ tensor: Tensor, as type: GGMLType, name: String) throws -> ByteView {
        let values = tensor.converted(to: .f32)!
        switch type {
        case .f32: return values.data
        case .f16, .bf16: return values.converted(to: type.dtype)!.data
        case .q8_0:
            let floats = values.float32Values()!
            guard floats.allSatisfy(\.isFinite) else { throw GGUFError.nonFiniteValue(tensor: name) }
            let out = ByteBuffer(zeroedCount: floats.count / Q8_0.blockSize * Q8_0.blockBytes)
            floats.withUnsafeBufferPointer { Q8_0.quantize($0, into: out.mutableBaseAddress) }
            return ByteView(buffer: out)
        }
    }

    /// The vocabulary as the converter lists it (conversion/base.py `get_vocab_base` + bert.py's phantom
    /// space): id by id up to config's vocab_size; special added tokens are CONTROL and kept as they are,
    /// `##piece` loses its `##`, every other token gains U+2581; a missing id is `[PAD<i>]`, UNUSED.
    static func vocabularyEntries(_ tokenizer: BertTokenizer, vocabSize: Int) throws -> [(token: String, type: TokenType)] {
        let table = tokenizer.model.vocabulary.idToToken
        let added = Dictionary(tokenizer.addedTokens.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let largest = max(table.count - 1, added.keys.map(Int.init).max() ?? 0)
        guard largest < vocabSize, vocabSize <= Int(Int32.max) else { throw GGUFModelError.vocabularyLargerThanConfig(tokens: largest + 1, vocabSize: vocabSize) }
        return (0..<vocabSize).map { i in
            if let token = added[Int32(i)] {
                let type: TokenType = token.special ? .control : .userDefined
                return (type == .control ? token.content : phantom(token.content), type)
            }
            if i < table.count, let token = table[i] { return (phantom(token), .normal) }
            return (phantom("[PAD\(i)]"), .unused)   // as the converter names an id without a token
        }
    }

    /// Compared and cut as Unicode scalars: as Characters, `##ा` is `#` + `#ा` and would not start with `##`.
    static func phantom(_ token: String) -> String {
        token.unicodeScalars.starts(with: "##".unicodeScalars)
            ? String(String.UnicodeScalarView(token.unicodeScalars.dropFirst(2))) : String(phantomSpace) + token
    }

    /// The inverse: U+2581 off a word's first piece, `##` back on the others (scalars again: `▁ा` is one Character).
    static func unphantom(_ token: String) -> String {
        token.unicodeScalars.first == phantomSpace
            ? String(String.UnicodeScalarView(token.unicodeScalars.dropFirst())) : "##" + token
    }

    /// conversion/base.py `get_vocab_base_pre`: the SHA-256 of `str(tokenizer.encode(chktxt))` names the
    /// pre-tokenizer. Only the WordPiece entries of its table; the last match wins there (a plain `if` chain), so
    /// the bert-base-uncased vocabulary is "jina-v2-en", not the earlier "bert-bge". nil: not in the table.
    static func pretokenizerName(_ tokenizer: BertTokenizer) -> String? {
        let knownHashes = [
            "0876d13b50744004aa9aeae05e7b0647eac9d801b5ba4668afc01e709c15e19f": "jina-v2-en",
            "8e62295832751ca1e8f92f2226f403dea30dc5165e448b5bfa05af5340c64ec7": "bert-bge-large",
            "c7699093ba4255a91e702aa38a596aa81669f3525dae06c2953267dde580f448": "jina-v1-en",
        ]
        guard let ids = try? tokenizer.encode(checkText).ids else { return nil }
        let text = "[" + ids.map(String.init).joined(separator: ", ") + "]"
        return knownHashes[SHA256.hexDigest(Array(text.utf8))]
    }

    /// conversion/base.py's `chktxt`, character for character.
    static let checkText = "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n\u{1F680} (normal) \u{1F636}\u{200D}\u{1F32B}\u{FE0F} "
        + "(multiple emojis concatenated) \u{2705} \u{1F999}\u{1F999} 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 "
        + "\u{1780}\u{17B6}\u{1793}\u{17CB}\u{178F}\u{17C2}\u{1796}\u{17B7}\u{179F}\u{17C1}\u{179F}\u{17A2}\u{17B6}\u{1785}\u{1F601} "
        + "?\u{6211}\u{60F3}\u{5728}apple\u{5DE5}\u{4F5C}1314151\u{5929}\u{FF5E} ------======= "
        + "\u{043D}\u{0435}\u{0449}\u{043E} \u{043D}\u{0430} \u{0411}\u{044A}\u{043B}\u{0433}\u{0430}\u{0440}\u{0441}\u{043A}\u{0438} "
        + "''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, "
        + "'D you like some tea? We'Ve a'lL"

    /// A sentence-transformers folder's pooling (base.py `_try_set_pooling_type`): modules.json names a
    /// `…Pooling` module, whose config.json says MEAN (1), CLS (2) or LAST (3); `type` nil when there is none. `note`:
    /// why no type is written although the folder has a pooling module — its config.json is missing (the converter
    /// stops there) or names a mode llama.cpp has no type for. One reading of the config for both.
    static func pooling(directory: String) throws -> (type: UInt32?, note: String?) {
        guard let poolingPath = poolingFolder(directory: directory) else { return (nil, nil) }
        let configPath = directory + "/" + poolingPath + "/config.json"
        guard fileExists(configPath) else {
            return (nil, "modules.json names \(poolingPath) but \(configPath) is missing; no bert.pooling_type written")
        }
        let type = try withFileContext(configPath) { () throws -> UInt32? in
            let json = try JSONReader.parse(try readFileBytes(configPath))
            if json["pooling_mode_mean_tokens"]?.boolValue == true { return 1 }
            if json["pooling_mode_cls_token"]?.boolValue == true { return 2 }
            if json["pooling_mode_lasttoken"]?.boolValue == true { return 3 }
            switch json["pooling_mode"]?.stringValue {
            case "mean": return 1
            case "cls": return 2
            case "lasttoken": return 3
            default: return nil
            }
        }
        return (type, type == nil
            ? "\(configPath) names a pooling llama.cpp has no type for (MEAN, CLS, LAST); no bert.pooling_type written" : nil)
    }

    static func poolingFolder(directory: String) -> String? {
        let modulesPath = directory + "/modules.json"
        guard fileExists(modulesPath), let bytes = try? readFileBytes(modulesPath),
              let modules = (try? JSONReader.parse(bytes))?.arrayValue else { return nil }
        return modules.first(where: { $0["type"]?.stringValue?.hasSuffix("Pooling") == true })?["path"]?.stringValue
    }

    /// gguf-py utility.py `model_weight_count_rounded_notation` with two significant digits: "2.0M", "23M", "110M".
    static func sizeLabel(_ count: Int) -> String {
        let value = Double(count)
        let (scaled, suffix): (Double, String) = value > 1e12 ? (value * 1e-12, "T") : value > 1e9 ? (value * 1e-9, "B")
            : value > 1e6 ? (value * 1e-6, "M") : (value * 1e-3, "K")
        let integerDigits = String(Int(scaled.rounded(.toNearestOrEven))).drop(while: { $0 == "0" }).count
        let decimals = max(2 - integerDigits, 0)
        let factor = decimals == 0 ? 1.0 : decimals == 1 ? 10.0 : 100.0
        let rounded = Int((scaled * factor).rounded(.toNearestOrEven))
        if decimals == 0 { return "\(rounded)\(suffix)" }
        let digits = String(rounded).count <= decimals ? String(repeating: "0", count: decimals + 1 - String(rounded).count) + String(rounded) : String(rounded)
        return "\(digits.dropLast(decimals)).\(digits.suffix(decimals))\(suffix)"
    }

    static func baseName(of directory: String) -> String {
        let trimmed = trimmingTrailingSlashes(directory)
        return trimmed.split(separator: "/").last.map(String.init) ?? trimmed
    }

    // MARK: Reading

    /// True when the file at `path` starts with the GGUF magic.
    package static func isGGUF(_ path: String) -> Bool {
        guard !isDirectory(path), let buffer = try? ByteBuffer(mappingFileAt: path) else { return false }
        return GGUFFile.looksLikeGGUF(Array(UnsafeRawBufferPointer(start: buffer.baseAddress, count: min(4, buffer.count))))
    }

    /// Writes the BERT in the GGUF file at `path` as a Hugging Face directory in `folder`: config.json,
    /// model.safetensors (Q8_0 dequantized to float32; F16 kept), vocab.txt (the phantom space undone),
    /// tokenizer_config.json, and for a `bert.pooling_type` the sentence-transformers modules.json and
    /// 1_Pooling/config.json — what `AutoModel` / `AutoTokenizer.from_pretrained` and sentence-transformers read.
    /// Everything is checked before the first file is written; a folder this call made is removed if a write fails.
    package static func importModel(from path: String, to folder: String) throws -> GGUFImportReport {
        let file = try GGUFFile.read(path: path)
        let store = try withFileContext(path) { try GGUFBertReader.stateDict(file) }
        let family: ModelFamily = GGUFBertReader.isDistilBERT(file) ? .distilbert : .bert
        var config = BertConfig(family: family)
        var notes: [String] = []
        let vocabulary = try withFileContext(path) { () throws -> [String] in
            func integer(_ key: String) throws -> Int {
                guard let value = file[key] else { throw GGUFModelError.missingKey(key) }
                guard let number = value.intValue else {
                    throw GGUFModelError.wrongKeyType(key: key, expected: "an integer", found: value.type.name)
                }
                return number
            }
            config.numHiddenLayers = try integer("bert.block_count")
            config.maxPositionEmbeddings = try integer("bert.context_length")
            config.hiddenSize = try integer("bert.embedding_length")
            config.intermediateSize = try integer("bert.feed_forward_length")
            config.numAttentionHeads = try integer("bert.attention.head_count")
            if family.hasTokenTypes { config.typeVocabSize = file["tokenizer.ggml.token_type_count"]?.intValue ?? 2 }
            if let eps = file["bert.attention.layer_norm_epsilon"]?.doubleValue { config.layerNormEps = Float(eps) }
            config.padTokenId = file["tokenizer.ggml.padding_token_id"]?.intValue ?? 0
            let vocabulary = try vocabularyFromGGUF(file)
            config.vocabSize = vocabulary.count
            var architecture = family.className(for: .base)
            if let classifier = store["classifier.weight"] {
                architecture = family.className(for: .sequenceClassification)
                let count = classifier.shape.first ?? 2
                let labels = file["bert.classifier.output_labels"]?.arrayValue?.compactMap(\.stringValue) ?? []
                config.id2label = labels.count == count ? labels : (0..<count).map { "LABEL_\($0)" }
            }
            config.architectures = [architecture]
            try config.validate()
            try checkShapes(store, config: config)
            return vocabulary
        }
        let architecture = config.architectures[0]
        if family.pooler(for: .base) != nil {
            notes.append("GGUF holds no pooler: transformers initialises pooler.dense at random (last_hidden_state is exact)")
        }

        var texts: [(name: String, text: String)] = [
            ("config.json", config.jsonText(architecture: architecture)),
            ("vocab.txt", vocabulary.map { $0 + "\n" }.joined()),
            ("tokenizer_config.json", tokenizerConfigJSON(file, vocabulary: vocabulary, modelMaxLength: config.maxPositionEmbeddings)),
        ]
        if let pooling = file["bert.pooling_type"]?.intValue, (1...3).contains(pooling) {
            let mode = ["mean", "cls", "lasttoken"][pooling - 1]
            texts += sentenceTransformersFiles(pooling: mode, hidden: config.hiddenSize)
        }
        let made = !isDirectory(folder)
        try makeDirectory(folder)
        do {
            var files: [String] = []
            try SafetensorsWriter.write(store, to: folder + "/model.safetensors")
            files.append(folder + "/model.safetensors")
            for (name, text) in texts {
                let target = folder + "/" + name
                if name.contains("/") { try makeDirectory(String(target[..<target.lastIndex(of: "/")!])) }
                try withFileContext(target) { try AtomicFileWriter.write(text, to: target) }
                files.append(target)
            }
            return GGUFImportReport(files: files, tensorCount: store.count, architecture: architecture, notes: notes)
        } catch {
            if made { removeTree(folder) }
            throw error
        }
    }

    /// The shapes config.json will promise, checked against the tensors, so that the directory is one transformers loads.
    static func checkShapes(_ store: TensorStore, config: BertConfig) throws {
        let family = config.family, layers = family.names.layerStem
        let prefix = store.contains("classifier.weight") ? family.basePrefix : ""
        let expected: [(String, [Int])] = [
            ("embeddings.word_embeddings.weight", [config.vocabSize, config.hiddenSize]),
            ("embeddings.position_embeddings.weight", [config.maxPositionEmbeddings, config.hiddenSize]),
            ("embeddings.token_type_embeddings.weight", [config.typeVocabSize, config.hiddenSize]),
        ]
        for (name, shape) in expected {
            if let tensor = store[prefix + name], tensor.shape != shape {
                throw GGUFModelError.shapeDoesNotMatch(tensor: prefix + name, shape: tensor.shape, expected: shape)
            }
        }
        for name in store.names where name.hasPrefix(prefix + layers) {
            let index = Int(name.dropFirst(prefix.count + layers.count).prefix { $0 != "." }) ?? Int.max
            guard index < config.numHiddenLayers else {
                throw GGUFModelError.tensorForMissingLayer(tensor: name, layers: config.numHiddenLayers)
            }
        }
    }

    /// sentence-transformers' modules.json and 1_Pooling/config.json for a pooling mode, so that a GGUF embedding
    /// model's pooling survives the trip back (and `convert DIR model.gguf` writes bert.pooling_type again).
    static func sentenceTransformersFiles(pooling mode: String, hidden: Int) -> [(name: String, text: String)] {
        let modules: JSONValue = .array([
            .object(JSONObject([("idx", .int(0)), ("name", .string("0")), ("path", .string("")),
                                ("type", .string("sentence_transformers.models.Transformer"))])),
            .object(JSONObject([("idx", .int(1)), ("name", .string("1")), ("path", .string("1_Pooling")),
                                ("type", .string("sentence_transformers.models.Pooling"))])),
        ])
        let pooling: JSONValue = .object(JSONObject([
            ("word_embedding_dimension", .int(hidden)), ("pooling_mode_cls_token", .bool(mode == "cls")),
            ("pooling_mode_mean_tokens", .bool(mode == "mean")), ("pooling_mode_max_tokens", .bool(false)),
            ("pooling_mode_mean_sqrt_len_tokens", .bool(false)), ("pooling_mode_weightedmean_tokens", .bool(false)),
            ("pooling_mode_lasttoken", .bool(mode == "lasttoken")), ("include_prompt", .bool(true)),
        ]))
        return [("modules.json", JSONWriter.pretty(modules, sortKeys: false) + "\n"),
                ("1_Pooling/config.json", JSONWriter.pretty(pooling, sortKeys: false) + "\n")]
    }

    /// vocab.txt's lines from tokenizer.ggml.tokens: CONTROL tokens as they are, U+2581 removed from a word's first
    /// piece, `##` put back on the others.
    static func vocabularyFromGGUF(_ file: GGUFFile) throws -> [String] {
        guard let tokensValue = file["tokenizer.ggml.tokens"] else { throw GGUFModelError.missingKey("tokenizer.ggml.tokens") }
        guard case .array(.string, let items) = tokensValue else {
            throw GGUFModelError.wrongKeyType(key: "tokenizer.ggml.tokens", expected: "an array of strings", found: tokensValue.type.name)
        }
        let tokens = items.compactMap(\.stringValue)
        var types = [Int](repeating: Int(TokenType.normal.rawValue), count: tokens.count)
        if let typeValue = file["tokenizer.ggml.token_type"] {
            guard let values = typeValue.arrayValue?.compactMap(\.intValue), values.count == typeValue.arrayValue?.count else {
                throw GGUFModelError.wrongKeyType(key: "tokenizer.ggml.token_type", expected: "an array of integers", found: typeValue.type.name)
            }
            guard values.count == tokens.count else { throw GGUFModelError.tokenTypesDoNotMatch(tokens: tokens.count, types: values.count) }
            types = values
        }
        return try zip(tokens, types).enumerated().map { id, pair in
            let (token, type) = pair
            // Python's text-mode readlines (transformers' load_vocab) splits at \n, \r and \r\n.
            guard !token.utf8.contains(10), !token.utf8.contains(13) else { throw GGUFModelError.tokenNotOneLine(id: id) }
            return type == Int(TokenType.control.rawValue) ? token : unphantom(token)
        }
    }

    /// tokenizer_config.json for transformers' BertTokenizer: the special tokens by the ids the file names
    /// (llama.cpp's defaults for a BERT vocabulary when it names none), lowercasing from the normalizer keys.
    static func tokenizerConfigJSON(_ file: GGUFFile, vocabulary: [String], modelMaxLength: Int) -> String {
        func token(_ key: String, _ fallback: Int) -> JSONValue {
            let id = file["tokenizer.ggml.\(key)_token_id"]?.intValue ?? fallback
            return id >= 0 && id < vocabulary.count ? .string(vocabulary[id]) : .null
        }
        let lowercase = file["tokenizer.ggml.normalizer.lowercase"]?.boolValue ?? true
        var object = JSONObject()
        object.set("tokenizer_class", .string("BertTokenizer"))
        object.set("do_lower_case", .bool(lowercase))
        object.set("strip_accents", file["tokenizer.ggml.normalizer.strip_accents"]?.boolValue.map { JSONValue.bool($0) } ?? .null)
        object.set("tokenize_chinese_chars", .bool(true))
        object.set("model_max_length", .int(modelMaxLength))
        object.set("cls_token", token("bos", 101))
        object.set("sep_token", token("seperator", 102))
        object.set("unk_token", token("unknown", 100))
        object.set("pad_token", token("padding", 0))
        object.set("mask_token", token("mask", 103))
        return JSONWriter.pretty(.object(object)) + "\n"
    }
}
