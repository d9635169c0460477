// bf16 mixed-precision training's linear layer (Kernels/MixedPrecision.swift) and the kernels it adds to
// CKernels/lowp_gemm.c: the transposed packing and column conversion bit for bit against the plain packing of an
// explicit transpose; accumulation bit for bit against "out + the product"; and BF16Linear's three products against
// float64 sums of the bf16-rounded operands (fp32 accumulation's bound), with the portable build giving the same bits.

import Testing
import Bert
import CKernels
import TestSupport
import Foundation

/// torch's float → bfloat16 (round to nearest even), as a float.
private func bf16(_ x: Float) -> Float {
    var bits = x.bitPattern
    bits = bits &+ 0x7fff &+ ((bits >> 16) & 1)
    return Float(bitPattern: bits & 0xffff_0000)
}

private func transpose(_ x: [Float], rows: Int, columns: Int) -> [Float] {
    (0..<columns * rows).map { x[($0 % rows) * columns + $0 / rows] }
}

@Suite struct MixedPrecisionKernelTests {
    static let shapes = [(k: 7, n: 37), (k: 64, n: 16), (k: 129, n: 100), (k: 1, n: 3)]

    @Test(arguments: shapes) func transposedPackingIsThePackingOfTheTranspose(shape: (k: Int, n: Int)) {
        let (k, n) = shape
        var random = Random(UInt64(k * 31 + n))
        let x = random.values(k * n)   // [k, n]
        let kp = bk_lowp_padded_k(k, 2), panels = bk_lowp_panels(n)
        var expected = [UInt16](repeating: 0xffff, count: panels * 16 * kp), packed = expected
        bk_pack_bf16(&expected, transpose(x, rows: k, columns: n), n, k)
        // Two calls over halves of the panels, as two threads pack them.
        let half = panels / 2
        bk_pack_bf16_transposed(&packed, x, n, k, n, 0, half)
        bk_pack_bf16_transposed(&packed, x, n, k, n, half, panels)
        #expect(packed == expected)
    }

    @Test(arguments: shapes) func columnsConvertAsTheRowsOfTheTranspose(shape: (k: Int, n: Int)) {
        let (k, n) = shape
        var random = Random(UInt64(k * 17 + n))
        let x = random.values(k * n)
        let kp = bk_lowp_padded_k(k, 2)
        var expected = [UInt16](repeating: 0xffff, count: n * kp), columns = expected
        bk_rows_to_bf16_portable(&expected, transpose(x, rows: k, columns: n), k, n, k)
        let split = n / 3
        bk_columns_to_bf16(&columns, x, n, k, n, 0, split)
        bk_columns_to_bf16(&columns, x, n, k, n, split, n)
        #expect(columns == expected)
    }

    @Test func everyKernelAccumulatesAsOutPlusTheProduct() {
        let rows = 11, n = 40, k = 70
        var random = Random(9)
        let w = random.values(n * k, scale: 0.1), x = random.values(rows * k), start = random.values(rows * n)
        let kp = bk_lowp_padded_k(k, 2), panels = bk_lowp_panels(n)
        var packed = [UInt16](repeating: 0, count: panels * 16 * kp), a16 = [UInt16](repeating: 0, count: rows * kp)
        bk_pack_bf16(&packed, w, n, k)
        bk_rows_to_bf16(&a16, x, k, rows, k)
        for kernel in [BK_BF16_KERNEL_PORTABLE, BK_BF16_KERNEL_DOT, BK_BF16_KERNEL_FMA] {
            var product = [Float](repeating: .nan, count: rows * n), accumulated = start
            bk_gemm_bf16_with(kernel, &product, n, a16, packed, nil, rows, n, k, 0, panels, 0)
            bk_gemm_bf16_with(kernel, &accumulated, n, a16, packed, nil, rows, n, k, 0, panels, 1)
            let expected = zip(start, product).map { $0 + $1 }
            #expect(accumulated.map(\.bitPattern) == expected.map(\.bitPattern), "kernel \(kernel)")
        }
    }
}

@Suite struct BF16LinearTests {
    /// Rows × in → out, with rows past the threads' split point (32 per thread: PackedWeight.convertThenMultiply) on this
    /// machine's thread count, and below it.
    static let shapes = [(rows: 32 * Parallel.threadCount + 5, inFeatures: 48, outFeatures: 40), (rows: 5, inFeatures: 33, outFeatures: 17)]

    /// Σ a·b over the bf16-rounded operands in float64, and the bound fp32 accumulation of those exact products
    /// keeps to: (terms + 1)·2⁻²⁴·Σ|a·b| (the +1 for the existing value or bias added last).
    private static func expectSums(_ actual: [Float], _ start: [Float], terms: Int, count: Int, _ what: String,
                                   pairs: (Int) -> [(Float, Float)]) {
        for index in 0..<count {
            var sum = Double(start[index]), magnitude = abs(Double(start[index]))
            for (a, b) in pairs(index) {
                let product = Double(bf16(a)) * Double(bf16(b))
                sum += product; magnitude += abs(product)
            }
            let bound = Double(terms + 1) * pow(2, -24) * magnitude
            if !(abs(Double(actual[index]) - sum) <= bound) {
                Issue.record("\(what)[\(index)]: \(actual[index]) vs \(sum) (bound \(bound))")
                return
            }
        }
    }

    @Test(arguments: shapes) func theThreeProductsAreBF16ProductsWithFP32Sums(shape: (rows: Int, inFeatures: Int, outFeatures: Int)) {
        let (rows, inF, outF) = shape
        var random = Random(UInt64(rows + inF))
        let x = random.values(rows * inF), w = random.values(outF * inF, scale: 0.2), bias = random.values(outF)
        let dOut = random.values(rows * outF), dInputStart = random.values(rows * inF), dWeightStart = random.values(outF * inF)
        func run(portable: Bool) -> (out: [Float], dInput: [Float], dWeight: [Float], dBias: [Float]) {
            VectorKernels.withBuild(portable: portable) {
                var out = [Float](repeating: .nan, count: rows * outF), dInput = dInputStart, dWeight = dWeightStart
                var dBias = [Float](repeating: 0, count: outF)
                BF16Linear.forward(out: &out, input: x, weight: w, bias: bias, rows: rows, inFeatures: inF, outFeatures: outF)
                BF16Linear.backward(dInput: &dInput, dWeight: &dWeight, dBias: &dBias, dOut: dOut, input: x, weight: w,
                                    rows: rows, inFeatures: inF, outFeatures: outF)
                return (out, dInput, dWeight, dBias)
            }
        }
        let fast = run(portable: false), portable = run(portable: true)
        #expect(fast.out.map(\.bitPattern) == portable.out.map(\.bitPattern))
        #expect(fast.dInput.map(\.bitPattern) == portable.dInput.map(\.bitPattern))
        #expect(fast.dWeight.map(\.bitPattern) == portable.dWeight.map(\.bitPattern))

        // forward: out[r, o] = bias[o] + Σ_i x[r, i]·w[o, i] — the bits of inference's packed bf16 weight, too.
        let inference = PackedWeight(w, outFeatures: outF, inFeatures: inF, precision: .bf16)
        var packedOut = [Float](repeating: .nan, count: rows * outF)
        inference.forward(out: &packedOut, input: x, bias: bias, rows: rows)
        #expect(fast.out.map(\.bitPattern) == packedOut.map(\.bitPattern))
        Self.expectSums(fast.out, (0..<rows * outF).map { bias[$0 % outF] }, terms: inF, count: rows * outF, "out") { index in
            let r = index / outF, o = index % outF
            return (0..<inF).map { (x[r * inF + $0], w[o * inF + $0]) }
        }
        // ∂x[r, i] += Σ_o ∂y[r, o]·w[o, i]
        Self.expectSums(fast.dInput, dInputStart, terms: outF, count: rows * inF, "dInput") { index in
            let r = index / inF, i = index % inF
            return (0..<outF).map { (dOut[r * outF + $0], w[$0 * inF + i]) }
        }
        // ∂W[o, i] += Σ_r ∂y[r, o]·x[r, i]
        Self.expectSums(fast.dWeight, dWeightStart, terms: rows, count: outF * inF, "dWeight") { index in
            let o = index / inF, i = index % inF
            return (0..<rows).map { (dOut[$0 * outF + o], x[$0 * inF + i]) }
        }
        // ∂b[o] = Σ_r ∂y[r, o], in fp32 (no rounding to bf16).
        for o in 0..<outF {
            let sum = (0..<rows).reduce(0.0) { $0 + Double(dOut[$1 * outF + o]) }
            #expect(abs(Double(fast.dBias[o]) - sum) <= Double(rows) * pow(2, -24) * (0..<rows).reduce(0.0) { $0 + abs(Double(dOut[$1 * outF + o])) })
        }
        // The rounding is real: the fp32 products differ from these by more than fp32's accumulation error.
        var fp32Out = [Float](repeating: 0, count: rows * outF)
        Linear.forward(out: &fp32Out, input: x, weight: w, bias: bias, rows: rows, inFeatures: inF, outFeatures: outF)
        #expect(zip(fp32Out, fast.out).map { abs($0 - $1) }.max()! > 1e-4)
    }
}
