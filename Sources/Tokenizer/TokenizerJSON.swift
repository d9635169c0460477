// tokenizer.json (the `tokenizers` serialization, see Docs/specs/hf_conventions.md §4) → BertTokenizer.
// Accepted: model WordPiece; normalizer BertNormalizer or null; pre_tokenizer BertPreTokenizer;
// post_processor TemplateProcessing, BertProcessing or null; decoder WordPiece or null. Anything
// else is refused with its name rather than tokenized differently.

import TensorCore

enum TokenizerJSON {
    static func build(_ root: JSONValue, config: TokenizerConfig) throws(TokenizerError) -> BertTokenizer {
        guard root.objectValue != nil else { throw .invalidField(path: "the file", expected: "a JSON object") }
        let model = try wordPiece(root["model"])
        let normalizer = try normalizerOptions(root["normalizer"])
        try checkPreTokenizer(root["pre_tokenizer"])
        let added = try addedTokens(root["added_tokens"])
        let post = try postProcessor(root["post_processor"])
        let decoder = try wordPieceDecoder(root["decoder"])
        return BertTokenizer(model: model, normalizer: normalizer, addedTokens: added, postProcessor: post,
                             decoder: decoder, padToken: config.padToken.content, modelMaxLength: config.modelMaxLength)
    }

    static func type(_ value: JSONValue, _ path: String) throws(TokenizerError) -> String? {
        guard value.objectValue != nil else { throw .invalidField(path: path, expected: "an object or null") }
        guard let type = value["type"] else { return nil }
        return try Field.string(type, "\(path).type")
    }

    static func wordPiece(_ value: JSONValue?) throws(TokenizerError) -> WordPieceModel {
        guard let value, !value.isNull else { throw .invalidField(path: "model", expected: "a WordPiece model object") }
        if let type = try type(value, "model"), type != "WordPiece" { throw .unsupported(component: "model", type: type) }
        guard let vocab = value["vocab"]?.objectValue else { throw .invalidField(path: "model.vocab", expected: "an object of token ids") }
        var entries: [(String, Int32)] = []
        entries.reserveCapacity(vocab.members.count)
        for (token, id) in vocab.members {
            guard let n = id.intValue, n >= 0, n <= Int(Int32.max) else {
                throw .invalidField(path: "model.vocab[\(JSONWriter.quote(token))]", expected: "a token id (a non-negative integer)")
            }
            entries.append((token, Int32(n)))
        }
        guard !entries.isEmpty else { throw .emptyVocabulary }
        let prefix = try value["continuing_subword_prefix"].map { v throws(TokenizerError) in try Field.string(v, "model.continuing_subword_prefix") } ?? "##"
        let unknown = try value["unk_token"].map { v throws(TokenizerError) in try Field.string(v, "model.unk_token") } ?? "[UNK]"
        let maxChars = try value["max_input_chars_per_word"].map { v throws(TokenizerError) in try Field.int(v, "model.max_input_chars_per_word") } ?? 100
        return try WordPieceModel(vocabulary: Vocabulary(tokenIDs: entries, continuingSubwordPrefix: prefix),
                                  unknownToken: unknown, maxInputCharsPerWord: maxChars)
    }

    static func normalizerOptions(_ value: JSONValue?) throws(TokenizerError) -> BertNormalizerOptions? {
        guard let value, !value.isNull else { return nil }
        let type = try type(value, "normalizer") ?? "(no type)"
        guard type == "BertNormalizer" else { throw .unsupported(component: "normalizer", type: type) }
        var options = BertNormalizerOptions()
        options.cleanText = try Field.optionalBool(value, "clean_text", "normalizer", default: true)
        options.handleChineseChars = try Field.optionalBool(value, "handle_chinese_chars", "normalizer", default: true)
        options.lowercase = try Field.optionalBool(value, "lowercase", "normalizer", default: true)
        if let strip = value["strip_accents"], !strip.isNull { options.stripAccents = try Field.bool(strip, "normalizer.strip_accents") }
        return options
    }

    static func checkPreTokenizer(_ value: JSONValue?) throws(TokenizerError) {
        guard let value, !value.isNull else { throw .unsupported(component: "pre_tokenizer", type: "null") }
        let type = try type(value, "pre_tokenizer") ?? "(no type)"
        guard type == "BertPreTokenizer" else { throw .unsupported(component: "pre_tokenizer", type: type) }
    }

    static func addedTokens(_ value: JSONValue?) throws(TokenizerError) -> [AddedToken] {
        guard let value, !value.isNull else { return [] }
        guard let items = value.arrayValue else { throw .invalidField(path: "added_tokens", expected: "an array") }
        var tokens: [AddedToken] = []
        for (i, item) in items.enumerated() {
            let path = "added_tokens[\(i)]"
            guard item.objectValue != nil else { throw .invalidField(path: path, expected: "an object") }
            let special = try Field.optionalBool(item, "special", path, default: false)
            let token = AddedToken(content: try Field.string(item["content"], "\(path).content"),
                                   id: try Field.id(item["id"], "\(path).id"),
                                   singleWord: try Field.optionalBool(item, "single_word", path, default: false),
                                   lstrip: try Field.optionalBool(item, "lstrip", path, default: false),
                                   rstrip: try Field.optionalBool(item, "rstrip", path, default: false),
                                   normalized: try Field.optionalBool(item, "normalized", path, default: !special),
                                   special: special)
            // A later entry for the same content replaces the earlier one, as in the reference's map.
            tokens.removeAll { $0.content.utf8.elementsEqual(token.content.utf8) }
            tokens.append(token)
        }
        return tokens
    }

    static func postProcessor(_ value: JSONValue?) throws(TokenizerError) -> PostProcessorTemplate {
        guard let value, !value.isNull else { return .none }
        let type = try type(value, "post_processor") ?? "(no type)"
        switch type {
        case "TemplateProcessing":
            var specials: [String: PostProcessorTemplate.SpecialToken] = [:]
            if let map = value["special_tokens"]?.objectValue {
                for (name, entry) in map.members {
                    let path = "post_processor.special_tokens[\(JSONWriter.quote(name))]"
                    guard let ids = entry["ids"]?.arrayValue, let tokens = entry["tokens"]?.arrayValue, ids.count == tokens.count else {
                        throw .invalidField(path: path, expected: "an object with ids and tokens of equal length")
                    }
                    var idList: [Int32] = [], tokenList: [String] = []
                    for (k, id) in ids.enumerated() { idList.append(try Field.id(id, "\(path).ids[\(k)]")) }
                    for (k, token) in tokens.enumerated() { tokenList.append(try Field.string(token, "\(path).tokens[\(k)]")) }
                    specials[name] = .init(ids: idList, tokens: tokenList)
                }
            }
            return try PostProcessorTemplate(single: try pieces(value["single"], "post_processor.single"),
                                             pair: try pieces(value["pair"], "post_processor.pair"), specialTokens: specials)
        case "BertProcessing":
            func pairValue(_ key: String) throws(TokenizerError) -> (String, Int32) {
                guard let items = value[key]?.arrayValue, items.count == 2 else {
                    throw .invalidField(path: "post_processor.\(key)", expected: "a [token, id] pair")
                }
                return (try Field.string(items[0], "post_processor.\(key)[0]"), try Field.id(items[1], "post_processor.\(key)[1]"))
            }
            return .bert(cls: try pairValue("cls"), sep: try pairValue("sep"))
        default:
            throw .unsupported(component: "post_processor", type: type)
        }
    }

    static func pieces(_ value: JSONValue?, _ path: String) throws(TokenizerError) -> [PostProcessorTemplate.Piece] {
        guard let items = value?.arrayValue else { throw .invalidField(path: path, expected: "an array of template pieces") }
        var result: [PostProcessorTemplate.Piece] = []
        for (i, item) in items.enumerated() {
            let itemPath = "\(path)[\(i)]"
            if let special = item["SpecialToken"] {
                result.append(.special(name: try Field.string(special["id"], "\(itemPath).SpecialToken.id"),
                                       typeID: Int32(clamping: try Field.int(special["type_id"], "\(itemPath).SpecialToken.type_id"))))
            } else if let sequence = item["Sequence"] {
                let id = try Field.string(sequence["id"], "\(itemPath).Sequence.id")
                guard id == "A" || id == "B" else { throw .invalidField(path: "\(itemPath).Sequence.id", expected: "\"A\" or \"B\"") }
                result.append(.sequence(first: id == "A",
                                        typeID: Int32(clamping: try Field.int(sequence["type_id"], "\(itemPath).Sequence.type_id"))))
            } else {
                throw .invalidField(path: itemPath, expected: "{\"SpecialToken\": …} or {\"Sequence\": …}")
            }
        }
        return result
    }

    static func wordPieceDecoder(_ value: JSONValue?) throws(TokenizerError) -> WordPieceDecoder? {
        guard let value, !value.isNull else { return nil }
        let type = try type(value, "decoder") ?? "(no type)"
        guard type == "WordPiece" else { throw .unsupported(component: "decoder", type: type) }
        let prefix = try value["prefix"].map { v throws(TokenizerError) in try Field.string(v, "decoder.prefix") } ?? "##"
        return WordPieceDecoder(prefix: prefix, cleanup: try Field.optionalBool(value, "cleanup", "decoder", default: true))
    }
}
