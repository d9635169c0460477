// BERT's input embeddings before their LayerNorm, forward and backward side by side:
//   e[b,t] = (word[ids[b,t]] + tokenType[types[b,t]]) + position[pos[b,t]]   (transformers' addition order)
// pos[b,t] is t, or RoBERTa's numbering after the padding token (`positions`); DistilBERT has no token-type table.

package enum Embeddings {
    /// out [B·T, H]. ids and types are validated by the caller (in range). With `packed`, out holds only the
    /// packed rows (out row r is padded row packed.rows[r]), each computed as in the padded layout.
    /// `positions` [B·T]: each token's position id (nil: its index in the sequence). `tokenType` nil: no token types.
    package static func forward(out: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>, types: UnsafePointer<Int32>,
                               word: UnsafePointer<Float>, position: UnsafePointer<Float>, tokenType: UnsafePointer<Float>?,
                               positions: UnsafePointer<Int32>? = nil, batch: Int, sequence: Int, hidden: Int,
                               packed: PackedRows? = nil) {
        Parallel.forEachRange(packed?.count ?? batch * sequence, grain: 32) { range in
            for outRow in range {
                let row = packed?.rows[outRow] ?? outRow
                let t = positions.map { Int($0[row]) } ?? row % sequence
                let w = word + Int(ids[row]) * hidden, p = position + t * hidden
                let e = out + outRow * hidden
                if let tokenType {
                    let tt = tokenType + Int(types[row]) * hidden
                    for i in 0..<hidden { e[i] = (w[i] + tt[i]) + p[i] }
                } else {
                    for i in 0..<hidden { e[i] = w[i] + p[i] }
                }
            }
        }
    }

    /// RoBERTa's position ids (modeling_roberta.py, `create_position_ids_from_input_ids`): along each row, a token
    /// that is not `paddingId` gets `paddingId` + its count of such tokens so far, a padding token `paddingId`.
    package static func positionsAfterPadding(ids: [Int32], batch: Int, sequence: Int, paddingId: Int) -> [Int32] {
        var positions = [Int32](repeating: Int32(paddingId), count: ids.count)
        for b in 0..<batch {
            var count: Int32 = 0
            for t in 0..<sequence where ids[b * sequence + t] != Int32(paddingId) {
                count += 1
                positions[b * sequence + t] = Int32(paddingId) + count
            }
        }
        return positions
    }

    /// Scatter-adds dOut [B·T, H] into the three tables. Rows whose id is `paddingId` get nothing, as
    /// nn.Embedding(padding_idx=) never updates that row (nil: no such row); with `positions` (RoBERTa, whose position
    /// table has the same padding_idx) neither does the position row `paddingId`, the padding tokens' position. Threads take column ranges (so no two write the
    /// same float), and each adds the rows in order: the result does not depend on the thread count. With `packed`,
    /// dOut holds only the packed rows (row r is padded row packed.rows[r]).
    package static func backward(dWord: UnsafeMutablePointer<Float>?, dPosition: UnsafeMutablePointer<Float>?,
                                dTokenType: UnsafeMutablePointer<Float>?, dOut: UnsafePointer<Float>,
                                ids: UnsafePointer<Int32>, types: UnsafePointer<Int32>, positions: UnsafePointer<Int32>? = nil,
                                paddingId: Int?, batch: Int, sequence: Int, hidden: Int, packed: PackedRows? = nil) {
        Parallel.forEachRange(hidden, grain: 128) { columns in
            let lo = columns.lowerBound, n = columns.count
            func accumulate(_ table: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>) {
                VectorKernels.columnSums(table + lo, g + lo, rows: 1, columns: n, stride: hidden)
            }
            for outRow in 0..<(packed?.count ?? batch * sequence) {
                let row = packed?.rows[outRow] ?? outRow
                let g = dOut + outRow * hidden, t = positions.map { Int($0[row]) } ?? row % sequence
                if let dWord, Int(ids[row]) != paddingId { accumulate(dWord + Int(ids[row]) * hidden, g) }
                if let dTokenType { accumulate(dTokenType + Int(types[row]) * hidden, g) }
                if let dPosition, positions == nil || t != paddingId { accumulate(dPosition + t * hidden, g) }
            }
        }
    }
}
