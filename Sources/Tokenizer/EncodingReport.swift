// What `bertkit tokenize` reports, as library functions a caller can use without the CLI: one encoding as a
// JSON object on one line (the fields in the documented order), and the statistics of a batch of encodings.

import TensorCore

extension Encoding {
    /// `{"tokens", "input_ids", "token_type_ids", "attention_mask", "offsets"}` on one line, appended to `out`
    /// (written by hand, not through JSONValue: a file of a million texts streams out without a tree per text).
    package func appendJSON(to out: inout String) {
        out += "{\"tokens\": ["
        for (i, token) in tokens.enumerated() {
            if i > 0 { out += ", " }
            out += JSONWriter.quote(token)
        }
        out += "], \"input_ids\": "
        Self.appendInts(ids, &out)
        out += ", \"token_type_ids\": "
        Self.appendInts(typeIDs, &out)
        out += ", \"attention_mask\": "
        Self.appendInts(attentionMask, &out)
        out += ", \"offsets\": ["
        for (i, offset) in offsets.enumerated() {
            if i > 0 { out += ", " }
            out += "[\(offset.start), \(offset.end)]"
        }
        out += "], \"word_ids\": ["
        for (i, word) in wordIDs.enumerated() {
            if i > 0 { out += ", " }
            out += word.map(String.init) ?? "null"
        }
        out += "]}"
    }

    private static func appendInts(_ values: [Int32], _ out: inout String) {
        out += "["
        for (i, value) in values.enumerated() {
            if i > 0 { out += ", " }
            out += String(value)
        }
        out += "]"
    }
}

/// Counts over a batch of encodings: how long the texts are, how many unknown pieces, how many were cut.
package struct EncodingStatistics: Sendable, Equatable {
    package let texts: Int
    /// Real tokens (attention mask 1), special tokens included.
    package let tokens: Int
    package let maxTokens: Int
    package let meanTokens: Double
    /// [UNK] pieces of the texts (not counting special tokens).
    package let unknown: Int
    /// The truncation length, and how many texts reached it (nil: no truncation).
    package let maxLength: Int?
    package let atMaxLength: Int

    package init(_ encodings: [Encoding], unknownID: Int32, maxLength: Int?) {
        let lengths = encodings.map { $0.attentionMask.reduce(0) { $0 + Int($1) } }
        texts = encodings.count
        tokens = lengths.reduce(0, +)
        maxTokens = lengths.max() ?? 0
        meanTokens = encodings.isEmpty ? 0 : Double(tokens) / Double(encodings.count)
        unknown = encodings.reduce(0) { count, e in count + zip(e.ids, e.specialTokensMask).filter { $0 == unknownID && $1 == 0 }.count }
        self.maxLength = maxLength
        atMaxLength = maxLength.map { l in lengths.filter { $0 >= l }.count } ?? 0
    }
}
