// Loading a tokenizer from a Hugging Face model directory: tokenizer.json when present (its
// BertNormalizer, BertPreTokenizer, WordPiece model, post-processor, decoder and added tokens, as
// `tokenizers.Tokenizer.from_file` reads them), else vocab.txt + tokenizer_config.json
// (+ special_tokens_map.json), built as transformers 5.24's BertTokenizer builds it.
// Like transformers, the `truncation` and `padding` stored in tokenizer.json are not applied:
// callers ask for them per call (EncodeOptions).
//
// One deliberate difference: when tokenizer.json and tokenizer_config.json disagree (say
// `"lowercase": true` in the file's normalizer but `"do_lower_case": false` in the config),
// transformers 5.24's BertTokenizer rebuilds the normalizer, the WordPiece limit and the template
// from the config, while `tokenizers` keeps tokenizer.json; bertkit keeps tokenizer.json. Directories
// written by transformers or the Hub never disagree.

import TensorCore

extension BertTokenizer {
    /// Loads the tokenizer of a model directory. Errors name the file at fault.
    package static func load(directory: String) throws -> BertTokenizer {
        let json = directory + "/tokenizer.json", vocab = directory + "/vocab.txt"
        let config = try TokenizerConfig.load(directory: directory)
        if fileExists(json) { return try load(tokenizerJSON: json, config: config) }
        if fileExists(vocab) { return try load(vocabTXT: vocab, config: config) }
        throw TokenizerError.noVocabulary(directory: directory)
    }

    /// A tokenizer.json file; `config` supplies `model_max_length` and the pad token.
    package static func load(tokenizerJSON path: String, config: TokenizerConfig = TokenizerConfig()) throws -> BertTokenizer {
        try withFileContext(path) {
            let root = try parseJSON(try readFileBytes(path))
            return try TokenizerJSON.build(root, config: config)
        }
    }

    /// A vocab.txt file (one token per line, id = line number), configured by `config`.
    package static func load(vocabTXT path: String, config: TokenizerConfig = TokenizerConfig()) throws -> BertTokenizer {
        let tokens = try withFileContext(path) { try readVocabTXT(try readFileBytes(path)) }
        let vocabulary = Vocabulary(orderedTokens: tokens)
        let model = try withFileContext(path) {
            try WordPieceModel(vocabulary: vocabulary, unknownToken: config.unkToken.content)
        }
        // transformers adds the named special tokens as special, non-normalized added tokens (in
        // SPECIAL_TOKENS_ATTRIBUTES order); a token missing from the vocabulary gets the next free id.
        var added: [AddedToken] = []
        var nextID = Int32(vocabulary.idToToken.count)
        func add(_ token: ConfigToken, special: Bool) {
            guard !token.content.isEmpty, !added.contains(where: { $0.content.utf8.elementsEqual(token.content.utf8) }) else { return }
            let id = vocabulary.id(of: token.content) ?? { defer { nextID += 1 }; return nextID }()
            added.append(AddedToken(content: token.content, id: id, singleWord: token.singleWord, lstrip: token.lstrip,
                                    rstrip: token.rstrip, normalized: token.normalized ?? !special, special: special))
        }
        for (id, token) in config.addedTokensDecoder.sorted(by: { $0.key < $1.key })
        where !added.contains(where: { $0.content.utf8.elementsEqual(token.content.utf8) }) {
            added.append(AddedToken(content: token.content, id: id, singleWord: token.singleWord, lstrip: token.lstrip,
                                    rstrip: token.rstrip, normalized: token.normalized ?? !token.special, special: token.special))
            nextID = max(nextID, id + 1)
        }
        for token in config.namedSpecialTokens { add(token, special: true) }
        func idOf(_ token: String, default fallback: Int32) -> Int32 {
            added.first(where: { $0.content.utf8.elementsEqual(token.utf8) })?.id ?? vocabulary.id(of: token) ?? fallback
        }
        let template = PostProcessorTemplate.bert(cls: (config.clsToken.content, idOf(config.clsToken.content, default: 2)),
                                                  sep: (config.sepToken.content, idOf(config.sepToken.content, default: 3)))
        let normalizer = BertNormalizerOptions(cleanText: true, handleChineseChars: config.tokenizeChineseChars,
                                               stripAccents: config.stripAccents, lowercase: config.doLowerCase)
        return BertTokenizer(model: model, normalizer: normalizer, addedTokens: added, postProcessor: template,
                             decoder: WordPieceDecoder(), padToken: config.padToken.content,
                             modelMaxLength: config.modelMaxLength)
    }

    /// vocab.txt as tokenizers' `WordPiece::read_file` reads it (transformers 5.24 hands it the path):
    /// lines split at "\n", trailing whitespace trimmed, invalid UTF-8 refused.
    static func readVocabTXT(_ bytes: [UInt8]) throws(TokenizerError) -> [String] {
        var tokens: [String] = []
        var start = 0
        var line = 1
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            guard let text = String(validating: bytes[start..<end], as: UTF8.self) else { throw .invalidUTF8(line: line) }
            var scalars = Substring(text).unicodeScalars
            while let last = scalars.last, CharacterClasses.shared.flags(last.value).contains(.whitespace) {
                scalars.removeLast()
            }
            tokens.append(String(scalars))
            start = end + 1
            line += 1
        }
        guard !tokens.isEmpty else { throw .emptyVocabulary }
        return tokens
    }

    static func parseJSON(_ bytes: [UInt8]) throws(TokenizerError) -> JSONValue {
        do { return try JSONReader.parse(bytes) } catch { throw .invalidJSON("\(error)") }
    }
}

/// A special token as tokenizer_config.json / special_tokens_map.json write it: a string, or an
/// AddedToken object (`{"content": "[PAD]", "lstrip": false, …}`).
package struct ConfigToken: Sendable, Equatable {
    package var content: String
    package var singleWord = false, lstrip = false, rstrip = false, special = true
    package var normalized: Bool? = nil
    package init(_ content: String) { self.content = content }
}

/// The settings transformers takes from tokenizer_config.json and special_tokens_map.json.
package struct TokenizerConfig: Sendable {
    package var doLowerCase = true
    package var stripAccents: Bool? = nil
    package var tokenizeChineseChars = true
    package var unkToken = ConfigToken("[UNK]")
    package var sepToken = ConfigToken("[SEP]")
    package var padToken = ConfigToken("[PAD]")
    package var clsToken = ConfigToken("[CLS]")
    package var maskToken = ConfigToken("[MASK]")
    /// `added_tokens_decoder` (id → token), written by transformers 4.x and later.
    package var addedTokensDecoder: [Int32: ConfigToken] = [:]
    /// `nil` when absent or the "unknown" placeholder int(1e30).
    package var modelMaxLength: Int? = nil

    package init() {}

    var namedSpecialTokens: [ConfigToken] { [unkToken, sepToken, padToken, clsToken, maskToken] }

    /// Reads tokenizer_config.json and special_tokens_map.json of `directory` when present.
    package static func load(directory: String) throws -> TokenizerConfig {
        var config = TokenizerConfig()
        try TokenizerSettingsFiles.read(directory: directory, hasAddedTokensDecoder: { !config.addedTokensDecoder.isEmpty }) {
            root, tokenKeysOnly throws(TokenizerError) in try config.apply(root, tokenKeysOnly: tokenKeysOnly)
        }
        return config
    }

    mutating func apply(_ root: JSONValue, tokenKeysOnly: Bool) throws(TokenizerError) {
        if !tokenKeysOnly {
            if let value = root["do_lower_case"], !value.isNull { doLowerCase = try Field.bool(value, "do_lower_case") }
            if let value = root["strip_accents"] { stripAccents = value.isNull ? nil : try Field.bool(value, "strip_accents") }
            if let value = root["tokenize_chinese_chars"], !value.isNull {
                tokenizeChineseChars = try Field.bool(value, "tokenize_chinese_chars")
            }
            if let value = root["model_max_length"], !value.isNull {
                // transformers writes int(1e30) for "no limit"; anything beyond Int is that.
                modelMaxLength = value.intValue.flatMap { $0 > 0 && $0 < 1 << 40 ? $0 : nil }
            }
            if let decoder = root["added_tokens_decoder"]?.objectValue {
                for (key, value) in decoder.members {
                    guard let id = Int32(key) else { throw .invalidField(path: "added_tokens_decoder[\"\(key)\"]", expected: "keyed by an integer id") }
                    addedTokensDecoder[id] = try Field.token(value, "added_tokens_decoder[\"\(key)\"]")
                }
            }
        }
        for (key, path) in [("unk_token", \TokenizerConfig.unkToken), ("sep_token", \.sepToken), ("pad_token", \.padToken),
                            ("cls_token", \.clsToken), ("mask_token", \.maskToken)] {
            if let value = root[key], !value.isNull { self[keyPath: path] = try Field.token(value, key) }
        }
    }
}

/// Typed access to JSON members with errors that name the member.
enum Field {
    static func bool(_ value: JSONValue, _ path: String) throws(TokenizerError) -> Bool {
        guard let b = value.boolValue else { throw .invalidField(path: path, expected: "true or false") }
        return b
    }

    static func string(_ value: JSONValue?, _ path: String) throws(TokenizerError) -> String {
        guard let s = value?.stringValue else { throw .invalidField(path: path, expected: "a string") }
        return s
    }

    static func int(_ value: JSONValue?, _ path: String) throws(TokenizerError) -> Int {
        guard let n = value?.intValue else { throw .invalidField(path: path, expected: "an integer") }
        return n
    }

    static func id(_ value: JSONValue?, _ path: String) throws(TokenizerError) -> Int32 {
        guard let n = value?.intValue, n >= 0, n <= Int(Int32.max) else {
            throw .invalidField(path: path, expected: "a token id (a non-negative integer)")
        }
        return Int32(n)
    }

    static func optionalBool(_ object: JSONValue, _ key: String, _ path: String, default fallback: Bool) throws(TokenizerError) -> Bool {
        guard let value = object[key], !value.isNull else { return fallback }
        return try bool(value, "\(path).\(key)")
    }

    static func token(_ value: JSONValue, _ path: String) throws(TokenizerError) -> ConfigToken {
        if let s = value.stringValue { return ConfigToken(s) }
        guard value.objectValue != nil else { throw .invalidField(path: path, expected: "a string or an AddedToken object") }
        var token = ConfigToken(try string(value["content"], "\(path).content"))
        token.singleWord = try optionalBool(value, "single_word", path, default: false)
        token.lstrip = try optionalBool(value, "lstrip", path, default: false)
        token.rstrip = try optionalBool(value, "rstrip", path, default: false)
        token.special = try optionalBool(value, "special", path, default: true)
        if let n = value["normalized"], !n.isNull { token.normalized = try bool(n, "\(path).normalized") }
        return token
    }
}

/// How transformers reads a tokenizer folder's settings, whichever the tokenizer class: tokenizer_config.json (all its
/// keys), then special_tokens_map.json (its token keys only) when the config has no `added_tokens_decoder`. Each file
/// must hold a JSON object; `apply(root, tokenKeysOnly)` takes it, errors naming the file.
enum TokenizerSettingsFiles {
    static func read(directory: String, hasAddedTokensDecoder: () -> Bool,
                     apply: (JSONValue, _ tokenKeysOnly: Bool) throws(TokenizerError) -> Void) throws {
        let configPath = directory + "/tokenizer_config.json", mapPath = directory + "/special_tokens_map.json"
        func object(_ path: String) throws -> JSONValue {
            let root = try BertTokenizer.parseJSON(try readFileBytes(path))
            guard root.objectValue != nil else { throw TokenizerError.invalidField(path: "the file", expected: "a JSON object") }
            return root
        }
        if fileExists(configPath) {
            try withFileContext(configPath) { try apply(try object(configPath), false) }
        }
        if fileExists(mapPath) && !hasAddedTokensDecoder() {
            try withFileContext(mapPath) { try apply(try object(mapPath), true) }
        }
    }
}
