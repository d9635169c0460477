// A padded batch of token ids, ready for the model: [B, T] ids, token types and attention mask.

package enum BertInputError: Error, CustomStringConvertible {
    case empty
    case ragged(row: Int, length: Int, expected: Int)
    case tokenOutOfRange(row: Int, position: Int, id: Int, vocabSize: Int)
    case tokenTypeOutOfRange(row: Int, position: Int, type: Int, typeVocabSize: Int)
    case tooLong(length: Int, maxPositions: Int)

    package var description: String {
        switch self {
        case .empty: return "the batch has no tokens"
        case .ragged(let row, let length, let expected): return "row \(row) has \(length) tokens, expected \(expected) (pad the batch)"
        case .tokenOutOfRange(let row, let position, let id, let vocabSize):
            return "token id \(id) at row \(row), position \(position) is outside the vocabulary (size \(vocabSize))"
        case .tokenTypeOutOfRange(let row, let position, let type, let typeVocabSize):
            return "token type \(type) at row \(row), position \(position) is outside 0..<\(typeVocabSize)"
        case .tooLong(let length, let maxPositions):
            return "sequence length \(length) exceeds max_position_embeddings (\(maxPositions))"
        }
    }
}

package struct TokenBatch: Sendable {
    package let batchSize: Int
    package let sequenceLength: Int
    /// [B·T] row-major.
    package let inputIds: [Int32]
    package let tokenTypeIds: [Int32]
    /// 1 = real token, 0 = padding.
    package let attentionMask: [Float]

    /// Rows must all have the same length. Missing masks mean "all ones"; missing types mean 0.
    package init(inputIds: [[Int]], attentionMask: [[Int]]? = nil, tokenTypeIds: [[Int]]? = nil) throws(BertInputError) {
        guard let first = inputIds.first, !first.isEmpty else { throw .empty }
        let T = first.count
        for (row, ids) in inputIds.enumerated() where ids.count != T { throw .ragged(row: row, length: ids.count, expected: T) }
        for rows in [attentionMask, tokenTypeIds].compactMap({ $0 }) {
            if rows.count != inputIds.count { throw .ragged(row: rows.count, length: 0, expected: inputIds.count) }
            for (row, values) in rows.enumerated() where values.count != T { throw .ragged(row: row, length: values.count, expected: T) }
        }
        batchSize = inputIds.count
        sequenceLength = T
        self.inputIds = inputIds.flatMap { $0.map { Int32(clamping: $0) } }
        self.tokenTypeIds = tokenTypeIds?.flatMap { $0.map { Int32(clamping: $0) } } ?? [Int32](repeating: 0, count: batchSize * T)
        self.attentionMask = attentionMask?.flatMap { $0.map { Float($0 != 0 ? 1 : 0) } } ?? [Float](repeating: 1, count: batchSize * T)
    }

    /// Rows `range` of this batch, padded as they are here (a data-parallel rank's share of a micro-batch).
    package func rows(_ range: Range<Int>) -> TokenBatch {
        let T = sequenceLength, elements = range.lowerBound * T..<range.upperBound * T
        return TokenBatch(batchSize: range.count, sequenceLength: T, inputIds: Array(inputIds[elements]),
                          tokenTypeIds: Array(tokenTypeIds[elements]), attentionMask: Array(attentionMask[elements]))
    }

    private init(batchSize: Int, sequenceLength: Int, inputIds: [Int32], tokenTypeIds: [Int32], attentionMask: [Float]) {
        self.batchSize = batchSize
        self.sequenceLength = sequenceLength
        self.inputIds = inputIds
        self.tokenTypeIds = tokenTypeIds
        self.attentionMask = attentionMask
    }

    /// True when some position is padding (the attention mask is needed at all).
    package var hasPadding: Bool { attentionMask.contains(0) }

    /// Checks ids and types against the model's tables before any memory is touched.
    package func validate(for config: BertConfig) throws(BertInputError) {
        if sequenceLength > config.maxSequenceLength { throw .tooLong(length: sequenceLength, maxPositions: config.maxSequenceLength) }
        for (i, id) in inputIds.enumerated() where id < 0 || Int(id) >= config.vocabSize {
            throw .tokenOutOfRange(row: i / sequenceLength, position: i % sequenceLength, id: Int(id), vocabSize: config.vocabSize)
        }
        // DistilBERT takes no token types: its embeddings never read them.
        for (i, type) in tokenTypeIds.enumerated() where config.family.hasTokenTypes && (type < 0 || Int(type) >= config.typeVocabSize) {
            throw .tokenTypeOutOfRange(row: i / sequenceLength, position: i % sequenceLength, type: Int(type), typeVocabSize: config.typeVocabSize)
        }
    }
}

/// The real tokens of a padded batch, one after another: what the encoder computes on when it skips padding
/// (BertWorkspace.skipsPadding). Linear layers, LayerNorm and GELU work row by row, so they run over these
/// rows alone; attention runs per sequence over its own rows.
package struct PackedRows: Sendable, Equatable {
    /// Packed row → its padded row b·T + t.
    package let rows: [Int]
    /// Sequence b holds packed rows starts[b] ..< starts[b + 1].
    package let starts: [Int]
    package var count: Int { rows.count }
    /// The real tokens of each sequence.
    package var lengths: [Int] { zip(starts.dropFirst(), starts).map { $0 - $1 } }
    package init(rows: [Int], starts: [Int]) { self.rows = rows; self.starts = starts }
}

extension TokenBatch {
    /// The packing of this batch, or nil when packing would not give the padded computation's results for
    /// the real tokens and the pooler: no padding at all (nothing to gain), padding that is not at the end of
    /// its row (left padding: transformers' pooler then reads a padding position), or a row without tokens.
    package var packedRows: PackedRows? {
        guard hasPadding else { return nil }
        let T = sequenceLength
        var rows: [Int] = [], starts = [0]
        rows.reserveCapacity(batchSize * T)
        for b in 0..<batchSize {
            let mask = attentionMask[b * T ..< (b + 1) * T]
            let length = mask.firstIndex(of: 0).map { $0 - b * T } ?? T
            guard length > 0, !mask[(b * T + length)...].contains(1) else { return nil }
            rows.append(contentsOf: b * T ..< b * T + length)
            starts.append(rows.count)
        }
        return PackedRows(rows: rows, starts: starts)
    }
}
