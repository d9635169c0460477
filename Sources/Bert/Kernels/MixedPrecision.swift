// bf16 mixed precision for training (`finetune --precision bf16`): the encoder's linear layers, forward and
// backward side by side, with both operands of every product rounded to bf16 (nearest even, as
// `tensor.to(torch.bfloat16)`) and the products summed in fp32 — what `torch.autocast("cpu", dtype=torch.bfloat16)`
// does with nn.Linear, the weights' fp32 master copy untouched. The results stay fp32 (autocast rounds a linear
// layer's output to bf16 as well; keeping fp32 here is the more accurate of the two and costs no product).
//
// The three products of a layer y = x·Wᵀ + b and the operands the bf16 kernel (CKernels/lowp_gemm.c) reads:
//   forward  y  = x · Wᵀ      activations x's rows,     weight panels of W        (bk_pack_bf16)
//   backward ∂x += ∂y · W     activations ∂y's rows,    weight panels of Wᵀ       (bk_pack_bf16_transposed of W)
//   backward ∂W += ∂yᵀ · x    activations ∂y's columns, weight panels of xᵀ       (bk_columns_to_bf16, bk_pack_bf16_transposed of x)
// The weights change after every optimizer step, so they are rounded and packed again at every pass (like autocast's
// cast of each weight per forward); the packing is a pass over the weight, small beside the product's rows × its size.
// The bias gradient is a sum of fp32 rows, as before.

import CKernels

/// A linear layer y = x·Wᵀ + b (weight [outFeatures, inFeatures], as `Linear`) with its products in bf16.
package enum BF16Linear {
    /// out[rows, outFeatures] = input[rows, inFeatures] · weightᵀ + bias, the products in bf16. The same bits as
    /// `PackedWeight(weight, precision: .bf16).forward` (one kernel, one rounding).
    package static func forward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>?, rows: Int, inFeatures: Int, outFeatures: Int) {
        product(out: out, ldc: outFeatures, bias: bias, accumulate: false, rows: rows, n: outFeatures, k: inFeatures,
                convert: { a16, r in
                    rowsToBF16(a16 + r.lowerBound * bk_lowp_padded_k(inFeatures, 2), input + r.lowerBound * inFeatures,
                               lda: inFeatures, rows: r.count, k: inFeatures)
                },
                pack: { panels, range in
                    // W's rows are whole output columns: pack only those of the range's panels.
                    let first = range.lowerBound * 16, count = min(outFeatures, range.upperBound * 16) - first
                    bk_pack_bf16(panels + first * bk_lowp_padded_k(inFeatures, 2), weight + first * inFeatures, count, inFeatures)
                })
    }

    /// Given dOut = ∂L/∂out: dInput += dOut·W, dWeight += dOutᵀ·input (both in bf16 products), dBias += Σ_rows dOut
    /// (fp32). Pass nil for gradients that are not needed, as `Linear.backward`.
    package static func backward(dInput: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
                                dBias: UnsafeMutablePointer<Float>?, dOut: UnsafePointer<Float>, input: UnsafePointer<Float>,
                                weight: UnsafePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int) {
        if let dInput {
            // [rows, in] += [rows, out] · [out, in]: the weight operand is Wᵀ as a [in, out] "weight".
            product(out: dInput, ldc: inFeatures, bias: nil, accumulate: true, rows: rows, n: inFeatures, k: outFeatures,
                    convert: { a16, r in
                        rowsToBF16(a16 + r.lowerBound * bk_lowp_padded_k(outFeatures, 2), dOut + r.lowerBound * outFeatures,
                                   lda: outFeatures, rows: r.count, k: outFeatures)
                    },
                    pack: { panels, range in
                        bk_pack_bf16_transposed(panels, weight, inFeatures, outFeatures, inFeatures, range.lowerBound, range.upperBound)
                    })
        }
        if let dWeight, rows > 0 {
            // [out, in] += [out, rows] · [rows, in]: activations are dOut's columns, the weight operand inputᵀ.
            product(out: dWeight, ldc: inFeatures, bias: nil, accumulate: true, rows: outFeatures, n: inFeatures, k: rows,
                    convert: { a16, r in
                        bk_columns_to_bf16(a16, dOut, outFeatures, rows, outFeatures, r.lowerBound, r.upperBound)
                    },
                    pack: { panels, range in
                        bk_pack_bf16_transposed(panels, input, inFeatures, rows, inFeatures, range.lowerBound, range.upperBound)
                    })
        }
        if let dBias { Linear.columnSums(into: dBias, dOut, rows: rows, columns: outFeatures) }
    }

    /// out[rows, n] (=|+=) A · Bᵀ + bias with A [rows, k] in bf16 rows of padded_k(k, 2) written by `convert(buffer, rows)`
    /// (the given rows, at their place from the buffer's start) and B [n, k] packed by `pack(buffer, panels)`: the threads
    /// pack their shares of the panels, then each converts and multiplies as inference does
    /// (PackedWeight.convertThenMultiply).
    private static func product(out: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?, accumulate: Bool,
                                rows: Int, n: Int, k: Int,
                                convert: (UnsafeMutablePointer<UInt16>, Range<Int>) -> Void,
                                pack: (UnsafeMutablePointer<UInt16>, Range<Int>) -> Void) {
        guard rows > 0, n > 0 else { return }
        let kp = bk_lowp_padded_k(k, 2), panels = bk_lowp_panels(n)
        OperandBuffers.with([panels * 16 * kp * 2, rows * kp * 2]) { buffers in
            let packed = buffers[0].assumingMemoryBound(to: UInt16.self), activations = buffers[1].assumingMemoryBound(to: UInt16.self)
            Parallel.forEachRange(panels, grain: 4) { pack(packed, $0) }
            let gemm = VectorKernels.portable ? bk_gemm_bf16_portable : bk_gemm_bf16
            PackedWeight.convertThenMultiply(rows: rows, panels: panels, convert: { convert(activations, $0) }, multiply: { r, panelRange in
                gemm(out + r.lowerBound * ldc, ldc, activations + r.lowerBound * kp, packed, bias, r.count, n, k,
                     panelRange.lowerBound, panelRange.upperBound, accumulate ? BK_GEMM_ACCUMULATE : 0)
            })
        }
    }

    private static func rowsToBF16(_ out: UnsafeMutablePointer<UInt16>, _ x: UnsafePointer<Float>, lda: Int, rows: Int, k: Int) {
        (VectorKernels.portable ? bk_rows_to_bf16_portable : bk_rows_to_bf16)(out, x, lda, rows, k)
    }
}
