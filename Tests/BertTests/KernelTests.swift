// Each BLAS call against its naive twin on odd, non-square shapes, and each layer's backward against
// finite differences of its forward.

import Testing
import Bert
import TestSupport
import Foundation

struct Random {
    var generator: NormalGenerator
    init(_ seed: UInt64) { generator = NormalGenerator(seed: seed) }
    mutating func values(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in Float(generator.next()) * scale } }
}

/// Central finite differences of `loss` with respect to `x`, in float (h chosen for float32 inputs).
func numericGradient(_ x: inout [Float], h: Float = 1e-2, loss: ([Float]) -> Double) -> [Float] {
    (0..<x.count).map { i in
        let saved = x[i]
        x[i] = saved + h; let up = loss(x)
        x[i] = saved - h; let down = loss(x)
        x[i] = saved
        return Float((up - down) / Double(2 * h))
    }
}

func weightedSum(_ values: [Float], _ weights: [Float]) -> Double { zip(values, weights).reduce(0) { $0 + Double($1.0) * Double($1.1) } }

@Suite struct KernelTests {
    /// Small odd shapes, and shapes large enough for OpenBLAS's blocked, multi-threaded path.
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)], [(7, 13, 5), (263, 517, 389)])
    func sgemmMatchesNaiveTwin(_ transposes: (Bool, Bool), _ shape: (Int, Int, Int)) {
        let (transA, transB) = transposes
        var random = Random(1)
        let (m, n, k) = shape, lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 2, ldc = n + 1
        let a = random.values((transA ? k : m) * lda), b = random.values((transB ? n : k) * ldb)
        var fast = random.values(m * ldc), naive = fast
        BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.7, a: a, lda: lda, b: b, ldb: ldb,
                   beta: 0.3, c: &fast, ldc: ldc)
        BLAS.naiveSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.7, a: a, lda: lda, b: b, ldb: ldb,
                        beta: 0.3, c: &naive, ldc: ldc)
        let tolerance = k > 64 ? 1e-4 : 1e-5   // sums of hundreds of float32 products round more
        assertClose(fast, naive, rtol: tolerance, atol: tolerance)
    }

    @Test(arguments: [(9, 11, 6), (300, 97, 130)])
    func linearMatchesNaiveTwinForwardAndBackward(_ shape: (Int, Int, Int)) {
        var random = Random(2)
        let (rows, inF, outF) = shape
        let tolerance = rows > 64 ? 1e-4 : 1e-5   // the weight gradient sums over every row
        let x = random.values(rows * inF), w = random.values(outF * inF), bias = random.values(outF), dy = random.values(rows * outF)
        var y = [Float](repeating: 0, count: rows * outF), yNaive = y
        Linear.forward(out: &y, input: x, weight: w, bias: bias, rows: rows, inFeatures: inF, outFeatures: outF)
        Linear.naiveForward(out: &yNaive, input: x, weight: w, bias: bias, rows: rows, inFeatures: inF, outFeatures: outF)
        assertClose(y, yNaive, rtol: tolerance, atol: tolerance)
        var dx = [Float](repeating: 0.5, count: rows * inF), dw = [Float](repeating: 0.25, count: outF * inF), db = [Float](repeating: 1, count: outF)
        var dxN = dx, dwN = dw, dbN = db
        Linear.backward(dInput: &dx, dWeight: &dw, dBias: &db, dOut: dy, input: x, weight: w, rows: rows, inFeatures: inF, outFeatures: outF)
        Linear.naiveBackward(dInput: &dxN, dWeight: &dwN, dBias: &dbN, dOut: dy, input: x, weight: w, rows: rows, inFeatures: inF, outFeatures: outF)
        assertClose(dx, dxN, rtol: tolerance, atol: tolerance, "dInput")
        assertClose(dw, dwN, rtol: tolerance, atol: tolerance, "dWeight")
        assertClose(db, dbN, rtol: tolerance, atol: tolerance, "dBias")
    }

    @Test func linearWithRowStrideReadsEveryTthRow() {
        var random = Random(3)
        let rows = 3, stride = 4, inF = 4, outF = 5
        let x = random.values(rows * stride * inF), w = random.values(outF * inF)
        var y = [Float](repeating: 0, count: rows * outF), yNaive = y
        Linear.forward(out: &y, input: x, inputStride: stride * inF, weight: w, bias: nil, rows: rows, inFeatures: inF, outFeatures: outF)
        Linear.naiveForward(out: &yNaive, input: x, inputStride: stride * inF, weight: w, bias: nil, rows: rows, inFeatures: inF, outFeatures: outF)
        assertClose(y, yNaive, rtol: 1e-5, atol: 1e-5)
    }

    @Test(arguments: [1, 2, 3])
    func attentionMatchesNaiveAttention(_ threads: Int) {
        // Heads run as parallel tasks with one scratch slot each: any task count gives the same result.
        var random = Random(4)
        let shape = AttentionShape(batch: 2, sequence: 5, heads: 3, headDim: 4)
        let T = 5, H = 12
        let qkv = random.values(2 * T * 3 * H)
        let mask: [Float] = [1, 1, 1, 0, 0, 1, 1, 1, 1, 1]
        var ctx = [Float](repeating: 0, count: 2 * T * H), expected = ctx
        var scratch = [Float](repeating: 0, count: Attention.scratchCount(sequence: T, slots: threads))
        Attention.forward(ctx: &ctx, qkv: qkv, keyMask: mask, shape: shape, dropout: nil, scratch: &scratch, slots: threads)
        Attention.naiveForward(ctx: &expected, qkv: qkv, keyMask: mask, shape: shape)
        assertClose(ctx, expected, rtol: 1e-5, atol: 1e-5)
    }

    @Test(arguments: [Float(0), 0.3])
    func attentionBackwardMatchesFiniteDifferences(_ dropoutProbability: Float) {
        // With dropout the mask is a fixed function of the element index, so the forward stays
        // differentiable and the backward (which recomputes the probabilities) must match it.
        var random = Random(5)
        let shape = AttentionShape(batch: 2, sequence: 4, heads: 2, headDim: 3)
        let T = 4, H = 6
        var qkv = random.values(2 * T * 3 * H, scale: 0.5)
        let mask: [Float] = [1, 1, 1, 0, 1, 1, 1, 1]
        let weights = random.values(2 * T * H)
        let dropout = dropoutProbability > 0 ? DropoutMask(probability: dropoutProbability, seed: 3, site: 5) : nil
        var scratch = [Float](repeating: 0, count: Attention.scratchCount(sequence: T, slots: 2))
        func loss(_ input: [Float]) -> Double {
            var ctx = [Float](repeating: 0, count: 2 * T * H)
            Attention.forward(ctx: &ctx, qkv: input, keyMask: mask, shape: shape, dropout: dropout, scratch: &scratch, slots: 2)
            return weightedSum(ctx, weights)
        }
        var dqkv = [Float](repeating: 0, count: qkv.count)
        Attention.backward(dQKV: &dqkv, dCtx: weights, qkv: qkv, keyMask: mask, shape: shape, dropout: dropout, scratch: &scratch, slots: 2)
        let numeric = numericGradient(&qkv, loss: loss)
        assertClose(dqkv, numeric, rtol: 3e-3, atol: 2e-4)
    }

    @Test func layerNormBackwardMatchesFiniteDifferences() {
        var random = Random(6)
        let rows = 3, dim = 7
        var x = random.values(rows * dim, scale: 2)
        var gamma = random.values(dim), beta = random.values(dim)
        let weights = random.values(rows * dim)
        func forward(_ x: [Float], _ g: [Float], _ b: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: rows * dim)
            LayerNorm.forward(out: &y, mean: nil, rstd: nil, input: x, weight: g, bias: b, rows: rows, dim: dim, eps: 1e-12)
            return y
        }
        var mean = [Float](repeating: 0, count: rows), rstd = mean, y = [Float](repeating: 0, count: rows * dim)
        LayerNorm.forward(out: &y, mean: &mean, rstd: &rstd, input: x, weight: gamma, bias: beta, rows: rows, dim: dim, eps: 1e-12)
        var dx = [Float](repeating: 0, count: rows * dim), dg = [Float](repeating: 0, count: dim), db = dg
        LayerNorm.backward(dInput: &dx, dWeight: &dg, dBias: &db, dOut: weights, input: x, mean: mean, rstd: rstd,
                           weight: gamma, rows: rows, dim: dim)
        let g0 = gamma, b0 = beta, x0 = x
        assertClose(dx, numericGradient(&x) { weightedSum(forward($0, g0, b0), weights) }, rtol: 3e-3, atol: 2e-4, "dInput")
        assertClose(dg, numericGradient(&gamma) { weightedSum(forward(x0, $0, b0), weights) }, rtol: 3e-3, atol: 2e-4, "dWeight")
        assertClose(db, numericGradient(&beta) { weightedSum(forward(x0, g0, $0), weights) }, rtol: 3e-3, atol: 2e-4, "dBias")
    }

    @Test(arguments: [Activation.gelu, .geluTanh, .relu])
    func activationBackwardMatchesFiniteDifferences(_ activation: Activation) {
        var random = Random(7)
        var x = random.values(40, scale: 2).map { abs($0) < 0.05 ? $0 + 0.2 : $0 }   // keep off relu's kink
        let weights = random.values(40)
        var dx = [Float](repeating: 0, count: 40)
        Activations.backward(activation, dInput: &dx, dOut: weights, input: x, count: 40)
        let numeric = numericGradient(&x, h: 1e-3) { input in
            var y = [Float](repeating: 0, count: 40)
            Activations.forward(activation, out: &y, input: input, count: 40)
            return weightedSum(y, weights)
        }
        assertClose(dx, numeric, rtol: 3e-3, atol: 2e-4)
    }

    @Test func tanhBackwardMatchesFiniteDifferences() {
        var random = Random(8)
        var x = random.values(20)
        let weights = random.values(20)
        var y = [Float](repeating: 0, count: 20), dx = y
        Activations.tanhForward(out: &y, input: x, count: 20)
        Activations.tanhBackward(dInput: &dx, dOut: weights, out: y, count: 20)
        let numeric = numericGradient(&x, h: 1e-3) { input in
            var out = [Float](repeating: 0, count: 20)
            Activations.tanhForward(out: &out, input: input, count: 20)
            return weightedSum(out, weights)
        }
        assertClose(dx, numeric, rtol: 3e-3, atol: 2e-4)
    }

    @Test func dropoutMasksAreReproducibleAndScaled() {
        let mask = DropoutMask(probability: 0.25, seed: 99, site: 3)
        var values = [Float](repeating: 1, count: 10_000)
        mask.apply(&values, count: values.count)
        let kept = values.filter { $0 != 0 }
        #expect(abs(Double(kept.count) / 10_000 - 0.75) < 0.02)
        #expect(kept.allSatisfy { abs($0 - 4 / 3) < 1e-6 })
        var again = [Float](repeating: 1, count: 10_000)
        mask.apply(&again, count: again.count)
        #expect(again == values)
        var other = [Float](repeating: 1, count: 10_000)
        DropoutMask(probability: 0.25, seed: 99, site: 4).apply(&other, count: other.count)
        #expect(other != values)
    }
}

/// The multi-versioned C kernels (both builds) against double-precision references.
@Suite struct VectorKernelTests {
    func withBothBuilds(_ body: (String) -> Void) {
        for portable in [false, true] {
            VectorKernels.withBuild(portable: portable) { body(portable ? "portable" : "multi-versioned") }
        }
    }

    @Test func geluMatchesLibmErf() {
        var random = Random(9)
        let x = random.values(5000, scale: 3) + [0, -0, 1e-8, -10, 10, 40, -40, 100]
        withBothBuilds { build in
            var y = [Float](repeating: 0, count: x.count), dy = y
            Activations.forward(.gelu, out: &y, input: x, count: x.count)
            Activations.backward(.gelu, dInput: &dy, dOut: [Float](repeating: 1, count: x.count), input: x, count: x.count)
            assertClose(y, x.map(Activations.referenceGELU), rtol: 1e-5, atol: 5e-7, "gelu (\(build))")
            assertClose(dy, x.map(Activations.referenceGELUDerivative), rtol: 1e-5, atol: 5e-7, "gelu' (\(build))")
        }
    }

    @Test func softmaxMatchesDoublePrecision() {
        var random = Random(10)
        let shape = AttentionShape(batch: 2, sequence: 37, heads: 3, headDim: 4)
        let scores = random.values(2 * 3 * 37 * 37, scale: 5)
        var mask = [Float](repeating: 1, count: 2 * 37)
        for j in 30..<37 { mask[j] = 0 }
        withBothBuilds { build in
            var probs = scores
            Attention.softmaxRows(&probs, shape: shape, keyMask: mask)
            var expected = [Float](repeating: 0, count: scores.count)
            for row in 0..<(2 * 3 * 37) {
                let b = row / (3 * 37)
                let s = (0..<37).map { Double(scores[row * 37 + $0]) }
                let top = (0..<37).filter { mask[b * 37 + $0] != 0 }.map { s[$0] }.max()!
                let e = (0..<37).map { mask[b * 37 + $0] != 0 ? exp(s[$0] - top) : 0 }
                let total = e.reduce(0, +)
                for j in 0..<37 { expected[row * 37 + j] = Float(e[j] / total) }
            }
            assertClose(probs, expected, rtol: 1e-5, atol: 1e-7, "softmax (\(build))")
        }
    }

    /// A masked key may score far above the row's maximum over the unmasked ones (a padding query attending to other
    /// padding): its probability is exactly 0, never inf · 0 = NaN. The first failure was a real QA batch at 88.72.
    @Test func maskedKeysFarAboveTheMaximumStayZero() {
        let shape = AttentionShape(batch: 1, sequence: 8, heads: 1, headDim: 4)
        var mask = [Float](repeating: 1, count: 8)
        for j in 5..<8 { mask[j] = 0 }
        for excess: Float in [80, 88.5, 88.72283, 88.8, 100, 1e30] {
            withBothBuilds { build in
                var probs = [Float](repeating: 0, count: 64)
                for row in 0..<8 { for j in 0..<8 { probs[row * 8 + j] = j < 5 ? Float(j) * 0.1 : 0.4 + excess } }
                Attention.softmaxRows(&probs, shape: shape, keyMask: mask)
                #expect(probs.allSatisfy { $0.isFinite }, "excess \(excess) (\(build)): \(probs.prefix(8))")
                #expect(probs[5..<8].allSatisfy { $0 == 0 }, "excess \(excess) (\(build))")
                #expect(abs(probs[0..<8].reduce(0, +) - 1) < 1e-6, "excess \(excess) (\(build))")
            }
        }
    }

    @Test func layerNormMatchesDoublePrecision() {
        var random = Random(11)
        let rows = 5, dim = 45
        let x = random.values(rows * dim, scale: 4), w = random.values(dim), b = random.values(dim)
        withBothBuilds { build in
            var y = [Float](repeating: 0, count: rows * dim)
            LayerNorm.forward(out: &y, mean: nil, rstd: nil, input: x, weight: w, bias: b, rows: rows, dim: dim, eps: 1e-12)
            var expected = [Float](repeating: 0, count: rows * dim)
            for r in 0..<rows {
                let row = (0..<dim).map { Double(x[r * dim + $0]) }
                let mean = row.reduce(0, +) / Double(dim)
                let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(dim)
                for i in 0..<dim { expected[r * dim + i] = Float((row[i] - mean) / (variance + 1e-12).squareRoot() * Double(w[i]) + Double(b[i])) }
            }
            assertClose(y, expected, rtol: 1e-5, atol: 1e-5, "layer norm (\(build))")
        }
    }
}

extension VectorKernelTests {
    @Test func dropoutKernelFollowsTheMaskRuleInBothBuilds() {
        let mask = DropoutMask(probability: 0.3, seed: 12, site: 7)
        let values = (0..<5000).map { Float($0 % 13) + 1 }
        withBothBuilds { build in
            var out = [Float](repeating: -1, count: values.count)
            mask.apply(to: values, out: &out, count: values.count, first: 100)
            let expected = values.indices.map { mask.keeps(100 + $0) ? values[$0] / 0.7 : 0 }
            assertClose(out, expected, rtol: 1e-6, atol: 0, "dropout (\(build))")
        }
    }
}

extension VectorKernelTests {
    @Test func inPlaceGELUBackwardAndDropoutMatchOutOfPlace() {
        // The backward runs both in place (dx == dy, out == in); that path must vectorise and agree.
        var random = Random(13)
        let x = random.values(1003, scale: 3), dy = random.values(1003)
        let mask = DropoutMask(probability: 0.2, seed: 5, site: 9)
        withBothBuilds { build in
            var separate = [Float](repeating: 0, count: x.count), inPlace = dy
            Activations.backward(.gelu, dInput: &separate, dOut: dy, input: x, count: x.count)
            inPlace.withUnsafeMutableBufferPointer { Activations.backward(.gelu, dInput: $0.baseAddress!, dOut: $0.baseAddress!, input: x, count: x.count) }
            #expect(inPlace == separate, "gelu' in place (\(build))")
            var dropped = [Float](repeating: 0, count: x.count), droppedInPlace = x
            mask.apply(to: x, out: &dropped, count: x.count, first: 7)
            droppedInPlace.withUnsafeMutableBufferPointer { mask.apply(to: $0.baseAddress!, out: $0.baseAddress!, count: x.count, first: 7) }
            #expect(droppedInPlace == dropped, "dropout in place (\(build))")
        }
    }

    @Test func softmaxBackwardMatchesDoublePrecision() {
        var random = Random(14)
        let rows = 6, n = 37
        let scores = random.values(rows * n, scale: 3), g = random.values(rows * n)
        let probs = (0..<rows).flatMap { r in
            let e = (0..<n).map { exp(Double(scores[r * n + $0])) }
            let total = e.reduce(0, +)
            return e.map { Float($0 / total) }
        }
        withBothBuilds { build in
            var out = g
            VectorKernels.softmaxBackwardRows(&out, probs, rows: rows, length: n)
            var expected = [Float](repeating: 0, count: rows * n)
            for r in 0..<rows {
                let dot = (0..<n).reduce(0.0) { $0 + Double(g[r * n + $1]) * Double(probs[r * n + $1]) }
                for j in 0..<n { expected[r * n + j] = Float(Double(probs[r * n + j]) * (Double(g[r * n + j]) - dot)) }
            }
            assertClose(out, expected, rtol: 1e-5, atol: 1e-6, "softmax backward (\(build))")
        }
    }

    @Test func layerNormBackwardMatchesDoublePrecision() {
        var random = Random(15)
        let rows = 21, dim = 45
        let x = random.values(rows * dim, scale: 4), w = random.values(dim), b = random.values(dim), dy = random.values(rows * dim)
        var mean = [Float](repeating: 0, count: rows), rstd = mean, y = x
        LayerNorm.forward(out: &y, mean: &mean, rstd: &rstd, input: x, weight: w, bias: b, rows: rows, dim: dim, eps: 1e-12)
        // Reference in double, from the definition: x̂ from the row's own statistics.
        var dxExpected = [Double](repeating: 0.5, count: rows * dim), dwExpected = [Double](repeating: 1, count: dim)
        var dbExpected = [Double](repeating: -1, count: dim)
        for r in 0..<rows {
            let row = (0..<dim).map { Double(x[r * dim + $0]) }
            let m = row.reduce(0, +) / Double(dim)
            let s = 1 / ((row.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(dim)) + 1e-12).squareRoot()
            let xHat = row.map { ($0 - m) * s }
            let g = (0..<dim).map { Double(dy[r * dim + $0]) * Double(w[$0]) }
            let gMean = g.reduce(0, +) / Double(dim)
            let gxMean = zip(g, xHat).map(*).reduce(0, +) / Double(dim)
            for i in 0..<dim {
                dxExpected[r * dim + i] += s * (g[i] - gMean - xHat[i] * gxMean)
                dwExpected[i] += Double(dy[r * dim + i]) * xHat[i]
                dbExpected[i] += Double(dy[r * dim + i])
            }
        }
        withBothBuilds { build in
            var dx = [Float](repeating: 0.5, count: rows * dim), dw = [Float](repeating: 1, count: dim), db = [Float](repeating: -1, count: dim)
            LayerNorm.backward(dInput: &dx, dWeight: &dw, dBias: &db, dOut: dy, input: x, mean: mean, rstd: rstd, weight: w, rows: rows, dim: dim)
            assertClose(dx, dxExpected.map { Float($0) }, rtol: 1e-4, atol: 1e-5, "dInput (\(build))")
            assertClose(dw, dwExpected.map { Float($0) }, rtol: 1e-4, atol: 1e-5, "dWeight (\(build))")
            assertClose(db, dbExpected.map { Float($0) }, rtol: 1e-5, atol: 1e-5, "dBias (\(build))")
        }
    }

    @Test func biasGradientColumnSumsMatchDoublePrecision() {
        var random = Random(16)
        for (rows, columns) in [(5, 3), (300, 1000), (2, 4097)] {
            let x = random.values(rows * columns)
            let expected = (0..<columns).map { j in Float((0..<rows).reduce(0.25) { $0 + Double(x[$1 * columns + j]) }) }
            withBothBuilds { build in
                var out = [Float](repeating: 0.25, count: columns)
                Linear.columnSums(into: &out, x, rows: rows, columns: columns)
                assertClose(out, expected, rtol: 1e-5, atol: 1e-5, "column sums \(rows)×\(columns) (\(build))")
            }
        }
    }

    @Test func adamWKernelMatchesDoublePrecision() {
        var random = Random(17)
        let n = 1001
        let p0 = random.values(n), g = random.values(n, scale: 0.1)
        let m0 = random.values(n, scale: 0.01), v0 = random.values(n, scale: 0.001).map { abs($0) }
        let (lr, decay, beta1, beta2, eps, gradientScale): (Double, Double, Double, Double, Double, Double) = (1e-3, 1 - 1e-3 * 0.01, 0.9, 0.999, 1e-8, 0.37)
        let step = 3.0
        let stepSize = lr / (1 - pow(beta1, step)), bias2Root = (1 - pow(beta2, step)).squareRoot()
        var pExpected = [Float](), mExpected = [Float](), vExpected = [Float]()
        for i in 0..<n {
            let gi = Double(g[i]) * gradientScale
            let m = beta1 * Double(m0[i]) + (1 - beta1) * gi, v = beta2 * Double(v0[i]) + (1 - beta2) * gi * gi
            pExpected.append(Float(Double(p0[i]) * decay - stepSize * m / (v.squareRoot() / bias2Root + eps)))
            mExpected.append(Float(m)); vExpected.append(Float(v))
        }
        withBothBuilds { build in
            var p = p0, m = m0, v = v0
            VectorKernels.adamW(&p, g, &m, &v, count: n, gradientScale: Float(gradientScale), decay: Float(decay), beta1: Float(beta1),
                                beta2: Float(beta2), stepSize: Float(stepSize), bias2Root: Float(bias2Root), epsilon: Float(eps))
            // m is a difference of terms of size ~1e-2: absolute error ~ their float rounding.
            assertClose(m, mExpected, rtol: 1e-5, atol: 1e-8, "m (\(build))")
            assertClose(v, vExpected, rtol: 1e-5, atol: 1e-12, "v (\(build))")
            assertClose(p, pExpected, rtol: 1e-5, atol: 1e-7, "p (\(build))")
        }
    }

    @Test func sumOfSquaresAndScaleMatchDoublePrecision() {
        var random = Random(18)
        let x = random.values(100_003, scale: 3)
        let expected = x.reduce(0.0) { $0 + Double($1) * Double($1) }
        withBothBuilds { build in
            let sum = x.withUnsafeBufferPointer { VectorKernels.sumOfSquares($0.baseAddress!, count: x.count) }
            #expect(abs(sum - expected) <= 1e-12 * expected, "sum of squares (\(build)): \(sum) vs \(expected)")
            var scaled = x
            VectorKernels.scale(&scaled, count: x.count, by: 0.3)
            assertClose(scaled, x.map { Float(Double($0) * Double(Float(0.3))) }, rtol: 1e-7, atol: 0, "scale (\(build))")
        }
    }
}

extension VectorKernelTests {
    @Test func residualLayerNormMatchesDoublePrecision() {
        var random = Random(19)
        let rows = 19, dim = 45
        let x = random.values(rows * dim, scale: 4), residual = random.values(rows * dim), w = random.values(dim), b = random.values(dim)
        var expected = [Float](repeating: 0, count: rows * dim), expectedMean = [Float](), expectedRstd = [Float]()
        for r in 0..<rows {
            let row = (0..<dim).map { Double(x[r * dim + $0] + residual[r * dim + $0]) }   // the float sum, as kept
            let mean = row.reduce(0, +) / Double(dim)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(dim)
            for i in 0..<dim { expected[r * dim + i] = Float((row[i] - mean) / (variance + 1e-12).squareRoot() * Double(w[i]) + Double(b[i])) }
            expectedMean.append(Float(mean)); expectedRstd.append(Float(1 / (variance + 1e-12).squareRoot()))
        }
        withBothBuilds { build in
            var sum = x, y = [Float](repeating: 0, count: rows * dim), mean = [Float](repeating: 0, count: rows), rstd = mean
            LayerNorm.residualForward(out: &y, mean: &mean, rstd: &rstd, sum: &sum, residual: residual, weight: w, bias: b,
                                      rows: rows, dim: dim, eps: 1e-12)
            #expect(sum == zip(x, residual).map { $0 + $1 }, "the sum is kept (\(build))")
            assertClose(y, expected, rtol: 1e-5, atol: 1e-5, "residual layer norm (\(build))")
            assertClose(mean, expectedMean, rtol: 1e-5, atol: 1e-6, "mean (\(build))")
            assertClose(rstd, expectedRstd, rtol: 1e-5, atol: 1e-6, "rstd (\(build))")
        }
    }
}

extension VectorKernelTests {
    /// The build a test picks reaches the `Parallel` workers it starts and no other thread: tests that run at the
    /// same time keep the process-wide build.
    @Test func chosenBuildReachesTheWorkersAndNoOtherThread() {
        let chunks = min(Parallel.threadCount, 64)
        for portable in [true, false] {
            // NSLock (a pthread mutex), not Synchronization.Mutex: ThreadSanitizer cannot see the latter's futex.
            let seen = LockedList<(thread: pthread_t, portable: Bool)>()
            var onAnotherThread: Bool?
            VectorKernels.withBuild(portable: portable) {
                // Every chunk waits for the others (up to 10 s) so that they run on as many threads: left alone,
                // Dispatch may run them all on the calling thread, which would not show the workers' build.
                Parallel.forEachRange(64, grain: 1) { _ in
                    seen.append((pthread_self(), VectorKernels.portable))
                    let deadline = Date().addingTimeInterval(10)
                    while seen.count < chunks && Date() < deadline { usleep(100) }
                }
                let done = DispatchSemaphore(value: 0)
                nonisolated(unsafe) var read: Bool?
                Thread { read = VectorKernels.portable; done.signal() }.start()
                done.wait()
                onAnotherThread = read
            }
            let caller = pthread_self()
            let entries = seen.values
            #expect(entries.count == chunks)
            #expect(entries.contains { pthread_equal($0.thread, caller) == 0 } || chunks == 1, "a chunk ran on a worker")
            #expect(entries.allSatisfy { $0.portable == portable }, "workers use the caller's build")
            #expect(onAnotherThread == VectorKernels.portableByDefault, "an unrelated thread keeps the default")
        }
        #expect(VectorKernels.portable == VectorKernels.portableByDefault, "the choice ends with withBuild")
    }
}

/// OpenBLAS's thread count is one setting for the process: when two callers overlap in single-threaded sections,
/// the first to leave must not bring threads back under the one still inside.
@Suite struct SingleThreadedSectionTests {
    @Test(.enabled(if: Parallel.threadCount > 1))
    func overlappingSectionsStaySingleThreadedUntilTheLastLeaves() {
        let firstInside = DispatchSemaphore(value: 0), secondInside = DispatchSemaphore(value: 0)
        let firstLeft = DispatchSemaphore(value: 0), check = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var countAfterFirstLeft = -1
        Thread {
            BLAS.withSingleThreadedCalls { firstInside.signal(); secondInside.wait() }
            firstLeft.signal()
        }.start()
        Thread {
            firstInside.wait()
            BLAS.withSingleThreadedCalls {
                secondInside.signal()
                check.wait()
                countAfterFirstLeft = BLAS.threadCount
            }
            done.signal()
        }.start()
        firstLeft.wait()
        check.signal()
        done.wait()
        #expect(countAfterFirstLeft == 1)
    }
}

/// A list appended to from several threads, behind an NSLock.
final class LockedList<Element>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Element] = []
    func append(_ item: Element) { lock.withLock { items.append(item) } }
    var count: Int { lock.withLock { items.count } }
    var values: [Element] { lock.withLock { items } }
}
