// BERT's input embeddings before their LayerNorm, forward and backward side by side:
//   e[b,t] = (word[ids[b,t]] + tokenType[types[b,t]]) + position[t]   (transformers' addition order)

public enum Embeddings {
    /// out [B·T, H]. ids and types are validated by the caller (in range). With `packed`, out holds only the
    /// packed rows (out row r is padded row packed.rows[r]), each computed as in the padded layout.
    public static func forward(out: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>, types: UnsafePointer<Int32>,
                               word: UnsafePointer<Float>, position: UnsafePointer<Float>, tokenType: UnsafePointer<Float>,
                               batch: Int, sequence: Int, hidden: Int, packed: PackedRows? = nil) {
        Parallel.forEachRange(packed?.count ?? batch * sequence, grain: 32) { range in
            for outRow in range {
                let row = packed?.rows[outRow] ?? outRow
                let t = row % sequence
                let w = word + Int(ids[row]) * hidden, tt = tokenType + Int(types[row]) * hidden, p = position + t * hidden
                let e = out + outRow * hidden
                for i in 0..<hidden { e[i] = (w[i] + tt[i]) + p[i] }
            }
        }
    }

    /// Scatter-adds dOut [B·T, H] into the three tables. Rows whose id is `paddingId` get nothing, as
    /// nn.Embedding(padding_idx=) never updates that row (nil: no such row). Threads take column ranges (so no two write the
    /// same float), and each adds the rows in order: the result does not depend on the thread count.
    public static func backward(dWord: UnsafeMutablePointer<Float>?, dPosition: UnsafeMutablePointer<Float>?,
                                dTokenType: UnsafeMutablePointer<Float>?, dOut: UnsafePointer<Float>,
                                ids: UnsafePointer<Int32>, types: UnsafePointer<Int32>, paddingId: Int?,
                                batch: Int, sequence: Int, hidden: Int) {
        Parallel.forEachRange(hidden, grain: 128) { columns in
            let lo = columns.lowerBound, n = columns.count
            func accumulate(_ table: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>) {
                VectorKernels.columnSums(table + lo, g + lo, rows: 1, columns: n, stride: hidden)
            }
            for row in 0..<batch * sequence {
                let g = dOut + row * hidden, t = row % sequence
                if let dWord, Int(ids[row]) != paddingId { accumulate(dWord + Int(ids[row]) * hidden, g) }
                if let dTokenType { accumulate(dTokenType + Int(types[row]) * hidden, g) }
                if let dPosition { accumulate(dPosition + t * hidden, g) }
            }
        }
    }
}
