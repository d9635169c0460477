// tokenizer.json (the `tokenizers` serialization) → ByteLevelBPETokenizer: what each component may be is
// listed at the top of ByteLevelBPELoading.swift. Errors name the member at fault (`model.merges[6]`,
// `pre_tokenizer.pretokenizers[0].pattern` …).

import TensorCore

enum BPETokenizerJSON {
    static func build(_ root: JSONValue, config: BPETokenizerConfig) throws(TokenizerError) -> ByteLevelBPETokenizer {
        guard root.objectValue != nil else { throw .invalidField(path: "the file", expected: "a JSON object") }
        let model = try bpe(root["model"])
        if let normalizer = root["normalizer"], !normalizer.isNull {
            throw .unsupportedSetting(path: "normalizer.type", value: JSONWriter.quote(try TokenizerJSON.type(normalizer, "normalizer") ?? "(no type)"))
        }
        let preTokenizer = try self.preTokenizer(root["pre_tokenizer"])
        let added = try TokenizerJSON.addedTokens(root["added_tokens"])
        let (template, trimming) = try postProcessor(root["post_processor"])
        let decoder = try self.decoder(root["decoder"])
        return ByteLevelBPETokenizer(model: model, addedTokens: added, preTokenizer: preTokenizer, postProcessor: template,
                                     offsetTrimming: trimming, decoder: decoder, padToken: config.padToken?.content,
                                     modelMaxLength: config.modelMaxLength)
    }

    /// A vocabulary object (`model.vocab`, or the whole of vocab.json when `path` is nil).
    static func vocabulary(_ value: JSONValue?, path: String?) throws(TokenizerError) -> Vocabulary {
        guard let object = value?.objectValue else {
            throw .invalidField(path: path ?? "the file", expected: "an object of token ids")
        }
        var entries: [(String, Int32)] = []
        entries.reserveCapacity(object.members.count)
        for (token, id) in object.members {
            // Ids index arrays: a bound keeps a hostile file from asking for gigabytes.
            guard let n = id.intValue, n >= 0, n < 1 << 24 else {
                throw .invalidField(path: (path ?? "") + "[\(JSONWriter.quote(token))]", expected: "a token id (an integer from 0 to 16777215)")
            }
            entries.append((token, Int32(n)))
        }
        guard !entries.isEmpty else { throw .emptyVocabulary }
        return Vocabulary(tokenIDs: entries, continuingSubwordPrefix: "")
    }

    static func bpe(_ value: JSONValue?) throws(TokenizerError) -> BPEModel {
        guard let value, !value.isNull else { throw .invalidField(path: "model", expected: "a BPE model object") }
        if let type = try TokenizerJSON.type(value, "model"), type != "BPE" { throw .unsupportedSetting(path: "model.type", value: JSONWriter.quote(type)) }
        let vocabulary = try self.vocabulary(value["vocab"], path: "model.vocab")
        guard let items = value["merges"]?.arrayValue else { throw .invalidField(path: "model.merges", expected: "an array of merges") }
        var merges: [(String, String)] = []
        var indices: [Int] = []
        merges.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            let path = "model.merges[\(i)]"
            if let text = item.stringValue {
                if text.hasPrefix("#version") { continue }     // as the reference's legacy reader
                merges.append(try ByteLevelBPETokenizer.mergePair(text, location: path))
            } else if let pair = item.arrayValue, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue {
                merges.append((a, b))
            } else {
                throw .invalidField(path: path, expected: "\"a b\" or [\"a\", \"b\"]")
            }
            indices.append(i)
        }
        if let dropout = value["dropout"], !dropout.isNull, dropout.doubleValue != 0 {
            throw .unsupportedSetting(path: "model.dropout", value: JSONWriter.compact(dropout))
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = value[key], !v.isNull, v.stringValue != "" {
                throw .unsupportedSetting(path: "model.\(key)", value: JSONWriter.compact(v))
            }
        }
        if try Field.optionalBool(value, "byte_fallback", "model", default: false) {
            throw .unsupportedSetting(path: "model.byte_fallback", value: "true")
        }
        let unknown = try value["unk_token"].flatMap { v throws(TokenizerError) in v.isNull ? nil : try Field.string(v, "model.unk_token") }
        return try BPEModel(vocabulary: vocabulary, merges: merges, unknownToken: unknown,
                            fuseUnknown: try Field.optionalBool(value, "fuse_unk", "model", default: false),
                            ignoreMerges: try Field.optionalBool(value, "ignore_merges", "model", default: false),
                            mergeLocation: { "model.merges[\(indices[$0])]" })
    }

    /// ByteLevel, or Sequence[ByteLevel] / Sequence[Split(GPT-2 pattern, Isolated), ByteLevel(use_regex false)].
    static func preTokenizer(_ value: JSONValue?) throws(TokenizerError) -> ByteLevelPreTokenizer {
        guard let value, !value.isNull else { throw .unsupportedSetting(path: "pre_tokenizer", value: "null (byte-level BPE needs ByteLevel)") }
        let type = try TokenizerJSON.type(value, "pre_tokenizer") ?? "(no type)"
        switch type {
        case "ByteLevel":
            return try byteLevel(value, "pre_tokenizer")
        case "Sequence":
            guard let items = value["pretokenizers"]?.arrayValue else {
                throw .invalidField(path: "pre_tokenizer.pretokenizers", expected: "an array")
            }
            let types = try items.enumerated().map { i, item throws(TokenizerError) in
                try TokenizerJSON.type(item, "pre_tokenizer.pretokenizers[\(i)]") ?? "(no type)"
            }
            if types == ["ByteLevel"] { return try byteLevel(items[0], "pre_tokenizer.pretokenizers[0]") }
            guard types == ["Split", "ByteLevel"] else {
                throw .unsupportedSetting(path: "pre_tokenizer", value: "Sequence\(types)")
            }
            try checkGPT2Split(items[0], "pre_tokenizer.pretokenizers[0]")
            let byteLevel = try byteLevel(items[1], "pre_tokenizer.pretokenizers[1]")
            guard !byteLevel.useRegex else {
                throw .unsupportedSetting(path: "pre_tokenizer.pretokenizers[1].use_regex", value: "true after a Split")
            }
            return ByteLevelPreTokenizer(addPrefixSpace: byteLevel.addPrefixSpace, useRegex: false, splitBeforePrefix: true)
        default:
            throw .unsupportedSetting(path: "pre_tokenizer.type", value: JSONWriter.quote(type))
        }
    }

    static func byteLevel(_ value: JSONValue, _ path: String) throws(TokenizerError) -> ByteLevelPreTokenizer {
        ByteLevelPreTokenizer(addPrefixSpace: try Field.optionalBool(value, "add_prefix_space", path, default: true),
                              useRegex: try Field.optionalBool(value, "use_regex", path, default: true))
    }

    /// Only the GPT-2 pattern itself, split off as isolated pieces: the same split ByteLevel makes.
    static func checkGPT2Split(_ value: JSONValue, _ path: String) throws(TokenizerError) {
        let pattern = value["pattern"]?["Regex"]?.stringValue
        guard pattern == GPT2Split.pattern else {
            throw .unsupportedSetting(path: "\(path).pattern", value: pattern.map { JSONWriter.quote($0) } ?? "(not a Regex)")
        }
        let behavior = value["behavior"]?.stringValue ?? "(none)"
        guard behavior == "Isolated" else { throw .unsupportedSetting(path: "\(path).behavior", value: JSONWriter.quote(behavior)) }
        if try Field.optionalBool(value, "invert", path, default: false) {
            throw .unsupportedSetting(path: "\(path).invert", value: "true")
        }
    }

    /// The template and the offset trimming of the post-processor.
    static func postProcessor(_ value: JSONValue?) throws(TokenizerError) -> (PostProcessorTemplate, OffsetTrimming?) {
        guard let value, !value.isNull else { return (.none, nil) }
        let type = try TokenizerJSON.type(value, "post_processor") ?? "(no type)"
        switch type {
        case "ByteLevel":
            return (.none, try trimming(value, "post_processor"))
        case "RobertaProcessing":
            func pairValue(_ key: String) throws(TokenizerError) -> (String, Int32) {
                guard let items = value[key]?.arrayValue, items.count == 2 else {
                    throw .invalidField(path: "post_processor.\(key)", expected: "a [token, id] pair")
                }
                return (try Field.string(items[0], "post_processor.\(key)[0]"), try Field.id(items[1], "post_processor.\(key)[1]"))
            }
            return (try .roberta(cls: try pairValue("cls"), sep: try pairValue("sep")), try trimming(value, "post_processor"))
        case "TemplateProcessing", "BertProcessing":
            return (try TokenizerJSON.postProcessor(value), nil)
        case "Sequence":
            guard let items = value["processors"]?.arrayValue else {
                throw .invalidField(path: "post_processor.processors", expected: "an array")
            }
            var template = PostProcessorTemplate.none
            var trim: OffsetTrimming? = nil
            var types: [String] = []
            for (i, item) in items.enumerated() {
                let path = "post_processor.processors[\(i)]"
                let itemType = try TokenizerJSON.type(item, path) ?? "(no type)"
                types.append(itemType)
                if itemType == "ByteLevel" && types.count == 1 {
                    trim = try trimming(item, path)
                } else if ["TemplateProcessing", "BertProcessing", "RobertaProcessing"].contains(itemType) && types.count == items.count
                            && types.dropLast().allSatisfy({ $0 == "ByteLevel" }) {
                    let (t, robertaTrim) = try postProcessor(item)
                    template = t
                    if trim == nil { trim = robertaTrim }
                } else {
                    throw .unsupportedSetting(path: "post_processor", value: "Sequence\(items.indices.map { $0 < types.count ? types[$0] : "…" })")
                }
            }
            return (template, trim)
        default:
            throw .unsupportedSetting(path: "post_processor.type", value: JSONWriter.quote(type))
        }
    }

    static func trimming(_ value: JSONValue, _ path: String) throws(TokenizerError) -> OffsetTrimming? {
        let trim = try Field.optionalBool(value, "trim_offsets", path, default: true)
        return trim ? OffsetTrimming(addPrefixSpace: try Field.optionalBool(value, "add_prefix_space", path, default: true)) : nil
    }

    static func decoder(_ value: JSONValue?) throws(TokenizerError) -> ByteLevelDecoder? {
        guard let value, !value.isNull else { return nil }
        let type = try TokenizerJSON.type(value, "decoder") ?? "(no type)"
        guard type == "ByteLevel" else { throw .unsupportedSetting(path: "decoder.type", value: JSONWriter.quote(type)) }
        return ByteLevelDecoder()
    }
}
