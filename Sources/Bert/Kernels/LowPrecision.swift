// Inference in bf16 or int8: the encoder's linear layers with weights packed once, at load, for the
// low-precision kernels of CKernels (lowp_gemm.c); everything else stays in fp32.
//
// int8 is dynamic quantisation as ONNX Runtime's `quantize_dynamic` and PyTorch's
// `quantize_dynamic` define it: weights int8, symmetric, one scale per output channel; activations
// quantised at run time to u8 with a scale and zero point, accumulation in int32, then dequantised to fp32
// before the bias. One difference, chosen on purpose: activations get a scale per row (token) rather than
// per tensor, so a token's result never depends on the rest of the batch — padding, or the other texts of
// a batch — and a packed batch gives exactly what the padded one gives. It is also the more accurate choice.
//
// bf16 rounds weights (once) and activations (per product) to bf16 with round-to-nearest-even, as
// `tensor.to(torch.bfloat16)`, and accumulates the products in fp32, as `torch.autocast(dtype=torch.bfloat16)`
// does on CPU.
//
// Which layers: the four products of every encoder layer (QKV, attention output, intermediate, output) —
// 99 % of bert-base's weight-matrix work at sequence 128. Embeddings, LayerNorm, softmax, GELU, the attention
// products, the pooler and the heads stay fp32: they are a small share of the time and the ones where low
// precision costs accuracy.

import CKernels

/// The number format of the encoder's linear layers at inference.
public enum Precision: String, CaseIterable, Sendable, CustomStringConvertible {
    case fp32, bf16, int8
    public var description: String { rawValue }
}

/// One linear layer's weight [outFeatures, inFeatures] packed for the bf16 or int8 kernels.
public final class PackedWeight: @unchecked Sendable {
    public let precision: Precision
    public let outFeatures: Int, inFeatures: Int
    /// k padded to the kernels' group (4 bytes of int8, 2 bf16).
    let paddedIn: Int
    let panels: Int
    let data: UnsafeMutableRawPointer
    /// int8: per-channel scales and the column sums that remove the activations' zero point.
    let scales: [Float]
    let columnSums: [Int32]

    /// Packs `weight` [outFeatures, inFeatures] (row-major, as nn.Linear stores it).
    public init(_ weight: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int, precision: Precision) {
        precondition(precision != .fp32, "fp32 weights are used as they are")
        self.precision = precision
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        panels = bk_lowp_panels(outFeatures)
        let columns = panels * 16
        switch precision {
        case .int8:
            paddedIn = bk_lowp_padded_k(inFeatures, 4)
            data = .allocate(byteCount: columns * paddedIn, alignment: 64)
            let quantized = UnsafeMutablePointer<Int8>.allocate(capacity: outFeatures * inFeatures)
            defer { quantized.deallocate() }
            var scales = [Float](repeating: 1, count: columns)
            var sums = [Int32](repeating: 0, count: columns)
            bk_quantize_weights_s8(quantized, &scales, weight, outFeatures, inFeatures)
            bk_pack_s8(data.assumingMemoryBound(to: Int8.self), &sums, quantized, outFeatures, inFeatures)
            self.scales = scales
            columnSums = sums
        default:
            paddedIn = bk_lowp_padded_k(inFeatures, 2)
            data = .allocate(byteCount: columns * paddedIn * 2, alignment: 64)
            bk_pack_bf16(data.assumingMemoryBound(to: UInt16.self), weight, outFeatures, inFeatures)
            scales = []
            columnSums = []
        }
    }

    deinit { data.deallocate() }

    /// Bytes held by the packed weight.
    public var byteCount: Int { panels * 16 * paddedIn * (precision == .int8 ? 1 : 2) + scales.count * 8 }

    /// out[rows, outFeatures] = input[rows, inFeatures] · Wᵀ + bias, in this weight's precision.
    /// `inputStride`: distance between input rows (default inFeatures).
    public func forward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, inputStride: Int? = nil,
                        bias: UnsafePointer<Float>?, rows: Int) {
        guard rows > 0 else { return }
        let lda = inputStride ?? inFeatures
        let portable = VectorKernels.portable
        // Panel triples are the kernels' tile width: hand each thread whole triples.
        let triples = (panels + 2) / 3
        let grain = max(1, 64 / max(rows, 1))
        switch precision {
        case .int8:
            let activations = UnsafeMutablePointer<UInt8>.allocate(capacity: rows * paddedIn)
            let rowScales = UnsafeMutablePointer<Float>.allocate(capacity: rows)
            let rowZeros = UnsafeMutablePointer<Int32>.allocate(capacity: rows)
            defer { activations.deallocate(); rowScales.deallocate(); rowZeros.deallocate() }
            Parallel.forEachRange(rows, grain: 16) { range in
                let quantize = portable ? bk_quantize_rows_u8_portable : bk_quantize_rows_u8
                quantize(activations + range.lowerBound * paddedIn, rowScales + range.lowerBound, rowZeros + range.lowerBound,
                         input + range.lowerBound * lda, lda, range.count, inFeatures)
            }
            scales.withUnsafeBufferPointer { scales in
                columnSums.withUnsafeBufferPointer { sums in
                    let packed = UnsafePointer(data.assumingMemoryBound(to: Int8.self))
                    Parallel.forEachRange(triples, grain: grain) { range in
                        let gemm = portable ? bk_gemm_s8_portable : bk_gemm_s8
                        gemm(out, outFeatures, activations, rowScales, rowZeros, packed, sums.baseAddress!, scales.baseAddress!,
                             bias, rows, outFeatures, inFeatures, range.lowerBound * 3, min(panels, range.upperBound * 3))
                    }
                }
            }
        default:
            let activations = UnsafeMutablePointer<UInt16>.allocate(capacity: rows * paddedIn)
            defer { activations.deallocate() }
            Parallel.forEachRange(rows, grain: 16) { range in
                let convert = portable ? bk_rows_to_bf16_portable : bk_rows_to_bf16
                convert(activations + range.lowerBound * paddedIn, input + range.lowerBound * lda, lda, range.count, inFeatures)
            }
            let packed = UnsafePointer(data.assumingMemoryBound(to: UInt16.self))
            Parallel.forEachRange(triples, grain: grain) { range in
                let gemm = portable ? bk_gemm_bf16_portable : bk_gemm_bf16
                gemm(out, outFeatures, activations, packed, bias, rows, outFeatures, inFeatures,
                     range.lowerBound * 3, min(panels, range.upperBound * 3))
            }
        }
    }
}

/// The encoder's linear layers of one model, packed for one precision.
public final class LowPrecisionWeights: @unchecked Sendable {
    public let precision: Precision
    /// Per layer: QKV, attention output, intermediate, output.
    let layers: [[PackedWeight]]

    public init(model: BertModel, precision: Precision) {
        self.precision = precision
        let c = model.config, H = c.hiddenSize, I = c.intermediateSize
        let shapes = [(3 * H, H), (H, H), (I, H), (H, I)]
        let count = c.numHiddenLayers * shapes.count
        let slots = UnsafeMutableBufferPointer<PackedWeight?>.allocate(capacity: count)
        slots.initialize(repeating: nil)
        defer { slots.deinitialize(); slots.deallocate() }
        let offsets = model.layout.layers.map { [$0.qkvWeight, $0.attentionOutputWeight, $0.intermediateWeight, $0.outputWeight] }
        // Each slot is written by one thread only.
        Parallel.forEachRange(count) { range in
            for item in range {
                let l = item / shapes.count, m = item % shapes.count
                slots[item] = PackedWeight(model.p(offsets[l][m]), outFeatures: shapes[m].0, inFeatures: shapes[m].1,
                                           precision: precision)
            }
        }
        layers = (0..<c.numHiddenLayers).map { l in (0..<shapes.count).map { slots[l * shapes.count + $0]! } }
    }

    /// Bytes of all packed weights.
    public var byteCount: Int { layers.joined().reduce(0) { $0 + $1.byteCount } }
}
