// The int8 and bf16 kernels (CKernels/lowp_gemm.c) and the packed fp32 one (f32_gemm.c) against references written
// here from their definitions: int8 results exact (integer sums), bf16 products against float64 within bf16's
// rounding, fp32 as fused multiply-add chains; the vector kernels against the portable loops bit for bit; and whole
// models in int8, bf16 and packed fp32 against fp32 through OpenBLAS.

import Testing
import Bert
import CKernels
import TestSupport
import Foundation

private let shapes = [(rows: 13, n: 37, k: 70), (rows: 1, n: 16, k: 3), (rows: 20, n: 100, k: 256), (rows: 9, n: 48, k: 769)]

/// torch's float → bfloat16 (round to nearest even), as a float.
private func bf16(_ x: Float) -> Float {
    var bits = x.bitPattern
    bits = bits &+ 0x7fff &+ ((bits >> 16) & 1)
    return Float(bitPattern: bits & 0xffff_0000)
}

/// A product with GELU in its epilogue (BK_GEMM_GELU): the dispatched kernel and the portable loops both give the bits
/// of the product followed by the GELU kernel, and they are GELU's values (not the product's).
private func expectGELUEpilogue(_ fused: [Float], _ fusedPortable: [Float], product: [Float],
                                sourceLocation: SourceLocation = #_sourceLocation) {
    var separate = [Float](repeating: .nan, count: product.count)
    bk_gelu_forward(&separate, product, product.count)
    #expect(fused.map(\.bitPattern) == separate.map(\.bitPattern), "fused GELU against the GELU kernel", sourceLocation: sourceLocation)
    #expect(fusedPortable.map(\.bitPattern) == separate.map(\.bitPattern), "portable fused GELU", sourceLocation: sourceLocation)
    #expect(zip(fused, product).contains { $0 != $1 }, "GELU was applied", sourceLocation: sourceLocation)
}

@Suite struct LowPrecisionKernelTests {
    @Test func int8WeightsAreSymmetricPerChannelAndActivationsAsymmetricPerRow() {
        var random = Random(3)
        let n = 5, k = 9, rows = 4
        let w = random.values(n * k), x = random.values(rows * k).map { $0 + 0.7 }
        var q = [Int8](repeating: 0, count: n * k), scales = [Float](repeating: 0, count: n)
        bk_quantize_weights_s8(&q, &scales, w, n, k)
        for o in 0..<n {
            let amax = w[o * k ..< (o + 1) * k].map(abs).max()!
            #expect(scales[o] == amax / 127)
            for i in 0..<k { #expect(q[o * k + i] == Int8((w[o * k + i] / scales[o]).rounded(.toNearestOrEven))) }
        }
        let kp = bk_lowp_padded_k(k, 4)
        var qa = [UInt8](repeating: 0, count: rows * kp), rowScales = [Float](repeating: 0, count: rows)
        var zeros = [Int32](repeating: 0, count: rows)
        bk_quantize_rows_u8(&qa, &rowScales, &zeros, x, k, rows, k)
        for r in 0..<rows {
            let row = x[r * k ..< (r + 1) * k]
            let lo = min(0, row.min()!), hi = max(0, row.max()!)
            let scale = (hi - lo) / 255, zero = min(max((-lo / scale).rounded(.toNearestOrEven), 0), 255)
            #expect(rowScales[r] == scale && zeros[r] == Int32(zero))
            for i in 0..<k {
                let expected = min(max((row[row.startIndex + i] * (1 / scale)).rounded(.toNearestOrEven) + zero, 0), 255)
                #expect(qa[r * kp + i] == UInt8(expected))
            }
            for i in k..<kp { #expect(qa[r * kp + i] == UInt8(zero)) }
        }
    }

    @Test(arguments: shapes) func int8ProductsAreExactIntegerSumsDequantised(shape: (rows: Int, n: Int, k: Int)) {
        let (rows, n, k) = shape
        var random = Random(UInt64(rows * 1000 + n))
        let w = random.values(n * k, scale: 0.1), x = random.values(rows * k), bias = random.values(n)
        var q = [Int8](repeating: 0, count: n * k), wScales = [Float](repeating: 0, count: n)
        bk_quantize_weights_s8(&q, &wScales, w, n, k)
        let kp = bk_lowp_padded_k(k, 4), panels = bk_lowp_panels(n)
        var packed = [Int8](repeating: 0, count: panels * 16 * kp), sums = [Int32](repeating: 0, count: panels * 16)
        bk_pack_s8(&packed, &sums, q, n, k)
        var qa = [UInt8](repeating: 0, count: rows * kp), aScales = [Float](repeating: 0, count: rows)
        var zeros = [Int32](repeating: 0, count: rows)
        bk_quantize_rows_u8(&qa, &aScales, &zeros, x, k, rows, k)
        var fast = [Float](repeating: .nan, count: rows * n), portable = fast
        bk_gemm_s8(&fast, n, qa, aScales, zeros, packed, sums, wScales, bias, rows, n, k, 0, panels, 0)
        bk_gemm_s8_portable(&portable, n, qa, aScales, zeros, packed, sums, wScales, bias, rows, n, k, 0, panels, 0)
        #expect(fast.map(\.bitPattern) == portable.map(\.bitPattern), "the dispatched kernel (ISA bits \(bk_lowp_isa())) and the portable loops")
        var fused = [Float](repeating: .nan, count: rows * n), fusedPortable = fused
        bk_gemm_s8(&fused, n, qa, aScales, zeros, packed, sums, wScales, bias, rows, n, k, 0, panels, BK_GEMM_GELU)
        bk_gemm_s8_portable(&fusedPortable, n, qa, aScales, zeros, packed, sums, wScales, bias, rows, n, k, 0, panels, BK_GEMM_GELU)
        expectGELUEpilogue(fused, fusedPortable, product: fast)
        for r in 0..<rows {
            for o in 0..<n {
                // The definition, in Int64: Σ (qa − zero)·q exactly, then the one dequantising FMA.
                var sum: Int64 = 0
                for i in 0..<k { sum += (Int64(qa[r * kp + i]) - Int64(zeros[r])) * Int64(q[o * k + i]) }
                let expected = bias[o].addingProduct(Float(sum), aScales[r] * wScales[o])
                #expect(fast[r * n + o] == expected, "row \(r) column \(o)")
            }
        }
    }

    @Test(arguments: shapes) func bf16ProductsMatchFloat64WithinBF16Rounding(shape: (rows: Int, n: Int, k: Int)) {
        let (rows, n, k) = shape
        var random = Random(UInt64(rows * 77 + k))
        let w = random.values(n * k, scale: 0.1), x = random.values(rows * k), bias = random.values(n)
        let kp = bk_lowp_padded_k(k, 2), panels = bk_lowp_panels(n)
        var packed = [UInt16](repeating: 0, count: panels * 16 * kp), a16 = [UInt16](repeating: 0, count: rows * kp)
        bk_pack_bf16(&packed, w, n, k)
        bk_rows_to_bf16(&a16, x, k, rows, k)
        var portableA16 = a16
        bk_rows_to_bf16_portable(&portableA16, x, k, rows, k)
        #expect(a16 == portableA16)
        var results: [[Float]] = []
        for kernel in [BK_BF16_KERNEL_PORTABLE, BK_BF16_KERNEL_DOT, BK_BF16_KERNEL_FMA] {
            var out = [Float](repeating: .nan, count: rows * n)
            bk_gemm_bf16_with(kernel, &out, n, a16, packed, bias, rows, n, k, 0, panels, 0)
            results.append(out)
        }
        var fusedResults: [[Float]] = []
        for kernel in [BK_BF16_KERNEL_PORTABLE, BK_BF16_KERNEL_DOT, BK_BF16_KERNEL_FMA] {
            var out = [Float](repeating: .nan, count: rows * n)
            bk_gemm_bf16_with(kernel, &out, n, a16, packed, bias, rows, n, k, 0, panels, BK_GEMM_GELU)
            fusedResults.append(out)
        }
        expectGELUEpilogue(fusedResults[1], fusedResults[0], product: results[0])
        expectGELUEpilogue(fusedResults[2], fusedResults[0], product: results[0])
        var dispatched = [Float](repeating: .nan, count: rows * n)
        bk_gemm_bf16(&dispatched, n, a16, packed, bias, rows, n, k, 0, panels, 0)
        for out in results.dropFirst() + [dispatched] {
            #expect(out.map(\.bitPattern) == results[0].map(\.bitPattern), "every bf16 kernel gives the portable loops' bits")
        }
        for r in 0..<rows {
            for o in 0..<n {
                // Exact products of the rounded operands, summed in float64: fp32 accumulation of k terms errs by
                // at most k·2⁻²⁴·Σ|a·b| (plus the bias addition's half ulp).
                var rounded = 0.0, magnitude = 0.0, exact = Double(bias[o]), exactMagnitude = abs(Double(bias[o]))
                for i in 0..<k {
                    let a = Double(bf16(x[r * k + i])), b = Double(bf16(w[o * k + i]))
                    rounded += a * b; magnitude += abs(a * b)
                    exact += Double(x[r * k + i]) * Double(w[o * k + i]); exactMagnitude += abs(Double(x[r * k + i]) * Double(w[o * k + i]))
                }
                let value = Double(results[0][r * n + o])
                let accumulation = Double(k + 1) * pow(2, -24) * (magnitude + abs(Double(bias[o])))
                #expect(abs(value - (rounded + Double(bias[o]))) <= accumulation, "row \(r) column \(o): fp32 sums")
                // Against the unrounded operands: each bf16 rounding errs by at most 2⁻⁹ relative.
                #expect(abs(value - exact) <= 2 * pow(2, -9) * exactMagnitude + accumulation, "row \(r) column \(o): bf16 operands")
            }
        }
    }

    /// fp32 with packed weights (f32_gemm.c): each output is the fused multiply-add chain over k from zero, then the
    /// bias — computed here with `addingProduct` (one rounding per step) and compared bit for bit, as are the
    /// dispatched kernel and the portable loops; and the whole against float64 within fp32 accumulation's bound.
    @Test(arguments: shapes) func fp32PackedProductsAreFusedMultiplyAddChains(shape: (rows: Int, n: Int, k: Int)) {
        let (rows, n, k) = shape
        var random = Random(UInt64(rows * 31 + k))
        let w = random.values(n * k, scale: 0.1), x = random.values(rows * k), bias = random.values(n)
        let panels = bk_lowp_panels(n)
        var packed = [Float](repeating: .nan, count: panels * 16 * k)
        bk_pack_f32(&packed, w, n, k)
        var fast = [Float](repeating: .nan, count: rows * n), portable = fast
        bk_gemm_f32(&fast, n, x, k, packed, bias, rows, n, k, 0, panels, 0)
        bk_gemm_f32_portable(&portable, n, x, k, packed, bias, rows, n, k, 0, panels, 0)
        #expect(fast.map(\.bitPattern) == portable.map(\.bitPattern), "the dispatched kernel (AVX-512: \(bk_f32_packed_isa())) and the portable loops")
        // Panel triples split between two calls (as threads take them) give the same bits.
        var split = [Float](repeating: .nan, count: rows * n)
        let middle = min(3, panels)
        bk_gemm_f32(&split, n, x, k, packed, bias, rows, n, k, 0, middle, 0)
        bk_gemm_f32(&split, n, x, k, packed, bias, rows, n, k, middle, panels, 0)
        #expect(split.map(\.bitPattern) == fast.map(\.bitPattern), "split at panel \(middle)")
        var fused = [Float](repeating: .nan, count: rows * n), fusedPortable = fused
        bk_gemm_f32(&fused, n, x, k, packed, bias, rows, n, k, 0, panels, BK_GEMM_GELU)
        bk_gemm_f32_portable(&fusedPortable, n, x, k, packed, bias, rows, n, k, 0, panels, BK_GEMM_GELU)
        expectGELUEpilogue(fused, fusedPortable, product: fast)
        for r in 0..<rows {
            for o in 0..<n {
                var chain: Float = 0, exact = Double(bias[o]), magnitude = abs(Double(bias[o]))
                for i in 0..<k {
                    chain = chain.addingProduct(x[r * k + i], w[o * k + i])
                    exact += Double(x[r * k + i]) * Double(w[o * k + i]); magnitude += abs(Double(x[r * k + i]) * Double(w[o * k + i]))
                }
                #expect(fast[r * n + o] == chain + bias[o], "row \(r) column \(o)")
                #expect(abs(Double(fast[r * n + o]) - exact) <= Double(k + 1) * pow(2, -24) * magnitude, "row \(r) column \(o): float64")
            }
        }
    }

    @Test func bf16RoundsToNearestEvenAsTorch() {
        // 1 + 2⁻⁸ is a tie between 1 and 1 + 2⁻⁷: even → 1; 1 + 3·2⁻⁸ rounds up to 1 + 2⁻⁶. Denormals are
        // rounded, not flushed (torch's c10::BFloat16 rounds the bits alike): 2⁻¹³⁰ stays 2⁻¹³⁰.
        let x: [Float] = [1 + 0x1p-8, 1 + 3 * 0x1p-8, -2.5, .infinity, 0x1p-130]
        var a16 = [UInt16](repeating: 0, count: 6)
        bk_rows_to_bf16(&a16, x, 5, 1, 5)
        #expect(a16 == [0x3f80, 0x3f82, 0xc020, 0x7f80, 0x0008, 0])
        var nan = [UInt16](repeating: 0, count: 2)
        bk_rows_to_bf16(&nan, [Float.nan, 0], 2, 1, 2)
        #expect(Float(bitPattern: UInt32(nan[0]) << 16).isNaN)
    }
}

@Suite struct LowPrecisionModelTests {
    /// Every output of a small model in `precision` against fp32, and with the portable kernels (which also
    /// swap the fp32 LayerNorm, GELU and softmax builds, equal only to float rounding) against the dispatched.
    @Test(arguments: [Precision.int8, .bf16, .fp32]) func modelOutputsStayCloseToFP32(precision: Precision) throws {
        var config = tinyConfig(vocab: 50)
        config.id2label = ["A", "B", "C"]
        let model = BertModel(config: config, head: .tokenClassification)
        model.initialiseAll(seed: 5)
        let ids = [[2, 7, 9, 11, 13, 3], [2, 17, 19, 3, 0, 0]]
        let batch = try TokenBatch(inputIds: ids, attentionMask: ids.map { $0.map { $0 == 0 ? 0 : 1 } })
        func run() -> (hidden: [Float], logits: [Float]) {
            let ws = BertWorkspace(config: config, head: .tokenClassification, batch: 2, sequence: 6, keepsEveryLayer: false)
            model.forward(batch, workspace: ws)
            return (Array(UnsafeBufferPointer(start: ws.lastHiddenState, count: 12 * config.hiddenSize)),
                    Array(UnsafeBufferPointer(start: ws.logits, count: 12 * 3)))
        }
        let reference = run()
        model.prepare(precision: precision)
        #expect(model.precision == precision)
        let low = run()
        let portable = VectorKernels.withBuild(portable: true) { run() }
        assertClose(portable.hidden, low.hidden.map(Double.init), rtol: 1e-5, atol: 1e-5, "portable kernels")
        assertClose(portable.logits, low.logits.map(Double.init), rtol: 1e-5, atol: 1e-5, "portable kernels")
        // LayerNorm'd hidden states are O(1): int8 keeps them within a few hundredths, bf16 within ~1/100; fp32's
        // packed kernel differs from OpenBLAS only in the order of the additions.
        let tolerance = precision == .int8 ? 0.08 : precision == .bf16 ? 0.03 : 1e-5
        assertClose(low.hidden, reference.hidden.map(Double.init), rtol: 0, atol: tolerance, "\(precision) hidden states")
        if precision == .fp32 && bk_f32_packed_isa() == 0 {
            #expect(model.packedEncoder == nil, "no AVX-512: fp32 stays on OpenBLAS")
            return
        }
        #expect(model.packedEncoder != nil)
        if precision != .fp32 {
            #expect(zip(low.hidden, reference.hidden).contains { $0 != $1 }, "the low-precision path ran")
        }
        // The packed weights are what the forward multiplies by: zeroing the parameters' copy of layer 0's QKV weight
        // changes nothing until the model goes back to its parameters.
        let qkv = model.layout.layers[0].qkvWeight, count = 3 * config.hiddenSize * config.hiddenSize
        let saved = Array(UnsafeBufferPointer(start: model.p(qkv), count: count))
        model.p(qkv).update(repeating: 0, count: count)
        #expect(run().hidden == low.hidden, "the packed weights ran")
        model.prepare(precision: nil)
        #expect(run().hidden != reference.hidden, "the parameters' weights ran")
        model.p(qkv).update(from: saved, count: count)
        #expect(run().hidden == reference.hidden)
    }
}

@Suite struct PackedBatchTests {
    @Test func packingTakesRightPaddedRowsOnly() throws {
        let right = try TokenBatch(inputIds: [[1, 2, 3], [4, 5, 0]], attentionMask: [[1, 1, 1], [1, 1, 0]])
        #expect(right.packedRows == PackedRows(rows: [0, 1, 2, 3, 4], starts: [0, 3, 5]))
        #expect(try TokenBatch(inputIds: [[1, 2], [3, 4]]).packedRows == nil, "no padding")
        #expect(try TokenBatch(inputIds: [[1, 2, 3]], attentionMask: [[0, 1, 1]]).packedRows == nil, "left padding")
        #expect(try TokenBatch(inputIds: [[1, 2], [3, 4]], attentionMask: [[1, 1], [0, 0]]).packedRows == nil, "an empty row")
    }

    /// The encoder over the real tokens only against the padded computation: every real token's hidden state,
    /// the pooler and the head bit for bit (the padded attention makes the same products for real rows,
    /// Attention.forward's realKeysOnly); padding positions come back zero.
    @Test(arguments: [Precision.fp32, .int8, .bf16]) func packedEqualsPadded(precision: Precision) throws {
        var config = tinyConfig(vocab: 50)
        config.id2label = ["A", "B", "C"]
        for head in [BertHead.sequenceClassification, .tokenClassification] {
            let model = BertModel(config: config, head: head)
            model.initialiseAll(seed: 9)
            model.prepare(precision: precision)
            let ids = [[2, 7, 9, 11, 13, 3, 0, 0, 0], [2, 17, 19, 3, 0, 0, 0, 0, 0], [2, 5, 6, 7, 8, 9, 10, 11, 3]]
            let batch = try TokenBatch(inputIds: ids, attentionMask: ids.map { $0.map { $0 == 0 ? 0 : 1 } })
            func run(skipping: Bool) -> (hidden: [Float], pooled: [Float], logits: [Float]) {
                let ws = BertWorkspace(config: config, head: head, batch: 3, sequence: 9, keepsEveryLayer: false)
                ws.skipsPadding = skipping
                model.forward(batch, workspace: ws)
                let H = config.hiddenSize, rows = head == .sequenceClassification ? 3 : 27
                return (Array(UnsafeBufferPointer(start: ws.lastHiddenState, count: 27 * H)),
                        Array(UnsafeBufferPointer(start: ws.pooled, count: 3 * H)),
                        Array(UnsafeBufferPointer(start: ws.logits, count: rows * 3)))
            }
            let padded = run(skipping: false), packed = run(skipping: true)
            let H = config.hiddenSize
            let real = batch.attentionMask.indices.filter { batch.attentionMask[$0] != 0 }
            let pads = batch.attentionMask.indices.filter { batch.attentionMask[$0] == 0 }
            let realHidden = { (h: [Float]) in real.flatMap { h[$0 * H ..< ($0 + 1) * H] } }
            #expect(realHidden(packed.hidden) == realHidden(padded.hidden), "\(precision) \(head): real tokens, bit for bit")
            #expect(pads.allSatisfy { r in packed.hidden[r * H ..< (r + 1) * H].allSatisfy { $0 == 0 } })
            #expect(packed.pooled == padded.pooled, "\(precision) \(head): pooler")
            if head == .sequenceClassification { #expect(packed.logits == padded.logits, "\(precision): logits") }
            #expect(realHidden(padded.hidden).contains { $0 != 0 })
        }
    }
}
