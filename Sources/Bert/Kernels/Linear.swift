// A dense layer, y = x·Wᵀ + b (PyTorch's nn.Linear, weight [out, in]), forward and backward side by side.

package enum Linear {
    /// out[rows, outFeatures] = input[rows, inFeatures] · weightᵀ + bias.
    /// `inputStride` is the distance between input rows (the pooler reads every T-th row).
    package static func forward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, inputStride: Int? = nil,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               rows: Int, inFeatures: Int, outFeatures: Int) {
        // Start C from the bias rows and let the GEMM accumulate (beta = 1): one pass over `out` saved.
        if let bias {
            for r in 0..<rows { (out + r * outFeatures).update(from: bias, count: outFeatures) }
        }
        BLAS.sgemm(transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures,
                   a: input, lda: inputStride ?? inFeatures, b: weight, ldb: inFeatures,
                   beta: bias == nil ? 0 : 1, c: out, ldc: outFeatures)
    }

    /// Given dOut = ∂L/∂out: dInput += dOut·W, dWeight += dOutᵀ·input, dBias += Σ_rows dOut.
    /// Pass nil for gradients that are not needed (a frozen weight, the first layer's input).
    package static func backward(dInput: UnsafeMutablePointer<Float>?, dInputStride: Int? = nil,
                                dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
                                dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, inputStride: Int? = nil,
                                weight: UnsafePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int) {
        if let dInput {
            BLAS.sgemm(transA: false, transB: false, m: rows, n: inFeatures, k: outFeatures,
                       a: dOut, lda: outFeatures, b: weight, ldb: inFeatures,
                       beta: 1, c: dInput, ldc: dInputStride ?? inFeatures)
        }
        if let dWeight {
            BLAS.sgemm(transA: true, transB: false, m: outFeatures, n: inFeatures, k: rows,
                       a: dOut, lda: outFeatures, b: input, ldb: inputStride ?? inFeatures,
                       beta: 1, c: dWeight, ldc: inFeatures)
        }
        if let dBias { columnSums(into: dBias, dOut, rows: rows, columns: outFeatures) }
    }

    /// The naive twin of `forward` (double accumulation), for tests.
    package static func naiveForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, inputStride: Int? = nil,
                                    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                    rows: Int, inFeatures: Int, outFeatures: Int) {
        let stride = inputStride ?? inFeatures
        for r in 0..<rows {
            for o in 0..<outFeatures {
                var sum = Double(bias?[o] ?? 0)
                for i in 0..<inFeatures { sum += Double(input[r * stride + i]) * Double(weight[o * inFeatures + i]) }
                out[r * outFeatures + o] = Float(sum)
            }
        }
    }

    /// The naive twin of `backward`.
    package static func naiveBackward(dInput: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
                                     dBias: UnsafeMutablePointer<Float>?, dOut: UnsafePointer<Float>,
                                     input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                     rows: Int, inFeatures: Int, outFeatures: Int) {
        for r in 0..<rows {
            for o in 0..<outFeatures {
                let g = dOut[r * outFeatures + o]
                dBias?[o] += g
                for i in 0..<inFeatures {
                    dInput?[r * inFeatures + i] += g * weight[o * inFeatures + i]
                    dWeight?[o * inFeatures + i] += g * input[r * inFeatures + i]
                }
            }
        }
    }

    /// out[j] += Σ_r x[r, j] for x [rows, columns]: column ranges in parallel, rows added in order.
    package static func columnSums(into out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows: Int, columns: Int) {
        Parallel.forEachRange(columns, grain: max(64, 65536 / max(rows, 1))) { range in
            VectorKernels.columnSums(out + range.lowerBound, x + range.lowerBound, rows: rows, columns: range.count, stride: columns)
        }
    }
}
