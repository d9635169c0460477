// Loading a byte-level BPE tokenizer: tokenizer.json as `tokenizers.Tokenizer.from_file` reads it, or
// vocab.json + merges.txt (+ tokenizer_config.json / special_tokens_map.json) as transformers 5.24's
// RobertaTokenizer (or GPT2Tokenizer, by `tokenizer_class`) builds it.
//
// tokenizer.json accepts: model BPE (no dropout, byte fallback or subword prefix/suffix); no normalizer;
// pre_tokenizer ByteLevel, alone or in a Sequence after a Split on the GPT-2 pattern; post_processor
// RobertaProcessing, ByteLevel, TemplateProcessing, BertProcessing, a Sequence of ByteLevel then one of
// those, or null; decoder ByteLevel or null. Anything else is refused with its name rather than tokenized
// differently. Like the WordPiece loader, when tokenizer.json is present it wins over tokenizer_config.json
// (transformers' RobertaTokenizer would rebuild the pre-tokenizer and post-processor from the config;
// files written by transformers or the Hub never disagree), which supplies only the pad token and
// model_max_length.
//
// Deliberate difference: the reference skips vocab.json entries whose id is not a number; bertkit refuses
// the file, naming the entry.

import TensorCore

extension ByteLevelBPETokenizer {
    /// Loads the tokenizer of a model directory: tokenizer.json when present, else vocab.json + merges.txt.
    package static func load(directory: String) throws -> ByteLevelBPETokenizer {
        let json = directory + "/tokenizer.json"
        let vocab = directory + "/vocab.json", merges = directory + "/merges.txt"
        let config = try BPETokenizerConfig.load(directory: directory)
        if fileExists(json) { return try load(tokenizerJSON: json, config: config) }
        if fileExists(vocab) && fileExists(merges) { return try load(vocabJSON: vocab, mergesTXT: merges, config: config) }
        throw TokenizerError.invalidField(path: directory, expected: "a directory with tokenizer.json, or vocab.json and merges.txt")
    }

    /// A tokenizer.json file; `config` supplies `model_max_length` and the pad token (default `<pad>`, when it exists).
    package static func load(tokenizerJSON path: String, config: BPETokenizerConfig = BPETokenizerConfig()) throws -> ByteLevelBPETokenizer {
        try withFileContext(path) {
            let root = try BertTokenizer.parseJSON(try readFileBytes(path))
            return try BPETokenizerJSON.build(root, config: config)
        }
    }

    /// vocab.json + merges.txt, configured by `config` the way transformers' RobertaTokenizer / GPT2Tokenizer is.
    package static func load(vocabJSON vocabPath: String, mergesTXT mergesPath: String,
                            config: BPETokenizerConfig = BPETokenizerConfig()) throws -> ByteLevelBPETokenizer {
        let vocabulary = try withFileContext(vocabPath) {
            let root = try BertTokenizer.parseJSON(try readFileBytes(vocabPath))
            return try BPETokenizerJSON.vocabulary(root, path: nil)
        }
        let model = try withFileContext(mergesPath) {
            let (merges, lines) = try readMergeLines(try readFileBytes(mergesPath))
            return try BPEModel(vocabulary: vocabulary, merges: merges, mergeLocation: { "line \(lines[$0])" })
        }
        return try build(model: model, config: config)
    }

    /// How transformers builds the tokenizer around the model: the named special tokens as added tokens,
    /// then ByteLevel(add_prefix_space), RobertaProcessing (or nothing, for GPT-2) and the ByteLevel decoder.
    static func build(model: BPEModel, config: BPETokenizerConfig) throws(TokenizerError) -> ByteLevelBPETokenizer {
        let vocabulary = model.vocabulary
        var added: [AddedToken] = []
        for (id, token) in config.addedTokensDecoder.sorted(by: { $0.key < $1.key })
        where !added.contains(where: { $0.content.utf8.elementsEqual(token.content.utf8) }) {
            added.append(AddedToken(content: token.content, id: id, singleWord: token.singleWord, lstrip: token.lstrip,
                                    rstrip: token.rstrip, normalized: token.normalized ?? !token.special, special: token.special))
        }
        // A token missing from the vocabulary gets the reference's next id: after the added ones when they are
        // already beyond the vocabulary, else the vocabulary size.
        for token in config.namedSpecialTokens {
            guard !token.content.isEmpty, !added.contains(where: { $0.content.utf8.elementsEqual(token.content.utf8) }) else { continue }
            let id: Int32
            if let known = vocabulary.id(of: token.content) {
                id = known
            } else if let maxAdded = added.map(\.id).max(), Int(maxAdded) >= vocabulary.count {
                id = maxAdded + 1
            } else {
                id = Int32(vocabulary.count)
            }
            added.append(AddedToken(content: token.content, id: id, singleWord: token.singleWord, lstrip: token.lstrip,
                                    rstrip: token.rstrip, normalized: token.normalized ?? false, special: true))
        }
        func idOf(_ token: ConfigToken) -> Int32 {
            added.first(where: { $0.content.utf8.elementsEqual(token.content.utf8) })?.id ?? vocabulary.id(of: token.content) ?? 0
        }
        var template = PostProcessorTemplate.none
        var trimming: OffsetTrimming? = nil
        if config.isRoberta {
            template = try .roberta(cls: (config.clsToken.content, idOf(config.clsToken)), sep: (config.sepToken.content, idOf(config.sepToken)))
            trimming = config.trimOffsets ? OffsetTrimming(addPrefixSpace: config.addPrefixSpace) : nil
        }
        return ByteLevelBPETokenizer(model: model, addedTokens: added,
                                     preTokenizer: ByteLevelPreTokenizer(addPrefixSpace: config.addPrefixSpace, useRegex: true),
                                     postProcessor: template, offsetTrimming: trimming, decoder: ByteLevelDecoder(),
                                     padToken: config.padToken?.content, modelMaxLength: config.modelMaxLength)
    }

    /// merges.txt as tokenizers' `BPE::read_file` reads it: lines split at "\n" (a "\r" before it dropped),
    /// `#version` lines skipped, every other line exactly two tokens separated by one space; with the file line of
    /// each merge (for error messages).
    static func readMergeLines(_ bytes: [UInt8]) throws(TokenizerError) -> (merges: [(String, String)], lines: [Int]) {
        var merges: [(String, String)] = []
        var lines: [Int] = []
        var start = 0
        var line = 1
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            var stop = end
            if end < bytes.count && stop > start && bytes[stop - 1] == 0x0D { stop -= 1 }
            guard let text = String(validating: bytes[start..<stop], as: UTF8.self) else { throw .invalidUTF8(line: line) }
            if !text.hasPrefix("#version") {
                merges.append(try mergePair(text, location: "line \(line)"))
                lines.append(line)
            }
            start = end + 1
            line += 1
        }
        return (merges, lines)
    }

    /// "a b" → ("a", "b"), split on U+0020 only (never on grapheme clusters).
    static func mergePair(_ text: String, location: String) throws(TokenizerError) -> (String, String) {
        let parts = text.unicodeScalars.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw .invalidMerge(location: location, found: text) }
        return (String(parts[0]), String(parts[1]))
    }
}

extension ByteLevelBPETokenizer {
    /// Rewrites the tokenizer files in `folder` as transformers saves a byte-level BPE tokenizer loaded
    /// `from_pretrained(…, add_prefix_space=True)` — what run_ner.py saves after fine-tuning RoBERTa on pre-split words,
    /// so that the pipeline later tokenizes raw text as the words were tokenized in training: `add_prefix_space` true in
    /// tokenizer_config.json (made if missing) and, in tokenizer.json, in the ByteLevel pre-tokenizer and the
    /// RobertaProcessing / ByteLevel post-processor (inside Sequences too). Other keys are kept as they are.
    package static func savePrefixSpace(inTokenizerFilesOf folder: String) throws {
        func rewrite(_ path: String, orCreate fresh: JSONValue?, _ change: (inout JSONValue) -> Void) throws {
            var root: JSONValue
            if fileExists(path) {
                root = try withFileContext(path) { try BertTokenizer.parseJSON(try readFileBytes(path)) }
            } else if let fresh {
                root = fresh
            } else {
                return
            }
            change(&root)
            try withFileContext(path) { try AtomicFileWriter.write(JSONWriter.pretty(root, sortKeys: false) + "\n", to: path) }
        }
        /// Sets add_prefix_space in every component of one of `types`, looking into Sequence's `lists`.
        func setPrefixSpace(_ value: inout JSONValue, types: Set<String>, lists: [String]) {
            guard var object = value.objectValue else { return }
            if let type = object["type"]?.stringValue, types.contains(type) { object.set("add_prefix_space", .bool(true)) }
            for key in lists {
                guard var items = object[key]?.arrayValue else { continue }
                for i in items.indices { setPrefixSpace(&items[i], types: types, lists: lists) }
                object.set(key, .array(items))
            }
            value = .object(object)
        }
        try rewrite(folder + "/tokenizer_config.json", orCreate: .object(JSONObject([]))) { root in
            guard var object = root.objectValue else { return }
            object.set("add_prefix_space", .bool(true))
            root = .object(object)
        }
        try rewrite(folder + "/tokenizer.json", orCreate: nil) { root in
            guard var object = root.objectValue else { return }
            for (key, types, lists) in [("pre_tokenizer", Set(["ByteLevel"]), ["pretokenizers"]),
                                        ("post_processor", Set(["RobertaProcessing", "ByteLevel"]), ["processors"])] {
                guard var component = object[key], !component.isNull else { continue }
                setPrefixSpace(&component, types: types, lists: lists)
                object.set(key, component)
            }
            root = .object(object)
        }
    }
}

extension PostProcessorTemplate {
    /// RobertaProcessing: `<s> $A </s>` and `<s> $A </s> </s> $B </s>`, every type id 0.
    package static func roberta(cls: (String, Int32), sep: (String, Int32)) throws(TokenizerError) -> PostProcessorTemplate {
        var specials: [String: SpecialToken] = [:]
        specials[cls.0] = SpecialToken(ids: [cls.1], tokens: [cls.0])
        specials[sep.0] = SpecialToken(ids: [sep.1], tokens: [sep.0])
        return try PostProcessorTemplate(
            single: [.special(name: cls.0, typeID: 0), .sequence(first: true, typeID: 0), .special(name: sep.0, typeID: 0)],
            pair: [.special(name: cls.0, typeID: 0), .sequence(first: true, typeID: 0), .special(name: sep.0, typeID: 0),
                   .special(name: sep.0, typeID: 0), .sequence(first: false, typeID: 0), .special(name: sep.0, typeID: 0)],
            specialTokens: specials)
    }
}

/// What transformers takes from tokenizer_config.json and special_tokens_map.json for a byte-level BPE
/// tokenizer. Defaults are RobertaTokenizer's, or GPT2Tokenizer's when `tokenizer_class` names it.
package struct BPETokenizerConfig: Sendable {
    package var tokenizerClass: String? = nil
    package var addPrefixSpace = false
    package var trimOffsets = true
    package var bosToken = ConfigToken("<s>")
    package var eosToken = ConfigToken("</s>")
    package var unkToken = ConfigToken("<unk>")
    package var sepToken = ConfigToken("</s>")
    package var padToken: ConfigToken? = ConfigToken("<pad>")
    package var clsToken = ConfigToken("<s>")
    package var maskToken = ConfigToken("<mask>")
    /// `added_tokens_decoder` (id → token).
    package var addedTokensDecoder: [Int32: ConfigToken] = [:]
    /// `nil` when absent or the "unknown" placeholder int(1e30).
    package var modelMaxLength: Int? = nil

    package init() {}

    /// GPT2Tokenizer's defaults: `<|endoftext|>` for bos, eos and unk, no pad, no template.
    package static var gpt2: BPETokenizerConfig {
        var config = BPETokenizerConfig()
        config.tokenizerClass = "GPT2Tokenizer"
        config.bosToken = ConfigToken("<|endoftext|>")
        config.eosToken = ConfigToken("<|endoftext|>")
        config.unkToken = ConfigToken("<|endoftext|>")
        config.padToken = nil
        return config
    }

    var isRoberta: Bool { !isGPT2 }
    var isGPT2: Bool { tokenizerClass == "GPT2Tokenizer" || tokenizerClass == "GPT2TokenizerFast" }

    /// transformers' SPECIAL_TOKENS_ATTRIBUTES order (GPT-2 has no sep, cls or mask).
    var namedSpecialTokens: [ConfigToken] {
        isGPT2 ? [bosToken, eosToken, unkToken] + (padToken.map { [$0] } ?? [])
               : [bosToken, eosToken, unkToken, sepToken] + (padToken.map { [$0] } ?? []) + [clsToken, maskToken]
    }

    /// Reads tokenizer_config.json and special_tokens_map.json of `directory` when present.
    package static func load(directory: String) throws -> BPETokenizerConfig {
        var config = BPETokenizerConfig()
        try TokenizerSettingsFiles.read(directory: directory, hasAddedTokensDecoder: { !config.addedTokensDecoder.isEmpty }) {
            root, tokenKeysOnly throws(TokenizerError) in try config.apply(root, tokenKeysOnly: tokenKeysOnly)
        }
        return config
    }

    mutating func apply(_ root: JSONValue, tokenKeysOnly: Bool) throws(TokenizerError) {
        if !tokenKeysOnly {
            // tokenizer_config.json comes first, onto the defaults: a GPT-2 class starts from GPT2Tokenizer's.
            if let value = root["tokenizer_class"], !value.isNull {
                let name = try Field.string(value, "tokenizer_class")
                let known = ["RobertaTokenizer", "RobertaTokenizerFast", "GPT2Tokenizer", "GPT2TokenizerFast"]
                guard known.contains(name) else { throw .unsupportedSetting(path: "tokenizer_class", value: JSONWriter.quote(name)) }
                if name.hasPrefix("GPT2") { self = .gpt2 }
                tokenizerClass = name
            }
            if let value = root["add_prefix_space"], !value.isNull { addPrefixSpace = try Field.bool(value, "add_prefix_space") }
            if let value = root["trim_offsets"], !value.isNull { trimOffsets = try Field.bool(value, "trim_offsets") }
            for key in ["add_bos_token", "add_eos_token"] {
                if let value = root[key], !value.isNull, try Field.bool(value, key) {
                    throw .unsupportedSetting(path: key, value: "true")
                }
            }
            if let value = root["model_max_length"], !value.isNull {
                modelMaxLength = value.intValue.flatMap { $0 > 0 && $0 < 1 << 40 ? $0 : nil }
            }
            if let decoder = root["added_tokens_decoder"]?.objectValue {
                for (key, value) in decoder.members {
                    guard let id = Int32(key), id >= 0 else {
                        throw .invalidField(path: "added_tokens_decoder[\"\(key)\"]", expected: "keyed by an integer id")
                    }
                    addedTokensDecoder[id] = try Field.token(value, "added_tokens_decoder[\"\(key)\"]")
                }
            }
        }
        for (key, path) in [("bos_token", \BPETokenizerConfig.bosToken), ("eos_token", \.eosToken), ("unk_token", \.unkToken),
                            ("sep_token", \.sepToken), ("cls_token", \.clsToken), ("mask_token", \.maskToken)] {
            if let value = root[key], !value.isNull { self[keyPath: path] = try Field.token(value, key) }
        }
        if let value = root["pad_token"] { padToken = value.isNull ? nil : try Field.token(value, "pad_token") }
    }
}
