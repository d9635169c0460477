// Inference: the encoder's linear layers with weights packed once, at load, for the kernels of CKernels —
// int8 and bf16 (lowp_gemm.c), and fp32 on CPUs with AVX-512 (f32_gemm.c); everything else stays in fp32.
//
// fp32: OpenBLAS repacks the weight on every sgemm call (17.5 % of a bert-base forward at 1 × 128) and its threads
// spin against ours between products; the packed kernel does neither. bert-base, 2 threads, AMD EPYC Zen 4
// (2026-12-04): 8 × 128 in 0.830 s against OpenBLAS's 0.943 s, 1 × 128 in 0.108 against 0.132 s. (A first packed fp32
// kernel, tried on 2026-12-02 on an Intel Xeon, was slower than OpenBLAS there — 1.15 against 0.97 s at 8 × 128 —
// and was not kept; this one was measured on the AMD machine only. BERTKIT_F32_OPENBLAS=1 keeps OpenBLAS.)
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
#if canImport(Glibc)
import Glibc
#endif

/// The number format of the encoder's linear layers at inference.
package enum Precision: String, CaseIterable, Sendable, CustomStringConvertible {
    case fp32, bf16, int8
    package var description: String { rawValue }
}

/// One linear layer's weight [outFeatures, inFeatures] packed for the bf16 or int8 kernels.
package final class PackedWeight: @unchecked Sendable {
    package let precision: Precision
    package let outFeatures: Int, inFeatures: Int
    /// k padded to the kernels' group (4 bytes of int8, 2 bf16).
    let paddedIn: Int
    let panels: Int
    let data: UnsafeMutableRawPointer
    /// int8: per-channel scales and the column sums that remove the activations' zero point.
    let scales: [Float]
    let columnSums: [Int32]

    /// Packs `weight` [outFeatures, inFeatures] (row-major, as nn.Linear stores it).
    package init(_ weight: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int, precision: Precision) {
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
        case .bf16:
            paddedIn = bk_lowp_padded_k(inFeatures, 2)
            data = .allocate(byteCount: columns * paddedIn * 2, alignment: 64)
            bk_pack_bf16(data.assumingMemoryBound(to: UInt16.self), weight, outFeatures, inFeatures)
            scales = []
            columnSums = []
        case .fp32:
            paddedIn = inFeatures
            data = .allocate(byteCount: columns * inFeatures * 4, alignment: 64)
            bk_pack_f32(data.assumingMemoryBound(to: Float.self), weight, outFeatures, inFeatures)
            scales = []
            columnSums = []
        }
    }

    deinit { data.deallocate() }

    /// Bytes held by the packed weight.
    package var byteCount: Int { panels * 16 * paddedIn * Self.bytesPerValue(precision) + scales.count * 8 }

    private static func bytesPerValue(_ precision: Precision) -> Int {
        switch precision {
        case .int8: 1
        case .bf16: 2
        case .fp32: 4
        }
    }

    /// out[rows, outFeatures] = input[rows, inFeatures] · Wᵀ + bias, in this weight's precision; `gelu`: then the
    /// exact GELU, in the kernels' epilogue (one pass over `out` fewer than `Activations.forward` after it, same bits).
    /// `inputStride`: distance between input rows (default inFeatures).
    package func forward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, inputStride: Int? = nil,
                        bias: UnsafePointer<Float>?, rows: Int, gelu: Bool = false) {
        guard rows > 0 else { return }
        let lda = inputStride ?? inFeatures
        let flags: Int32 = gelu ? BK_GEMM_GELU : 0
        let portable = VectorKernels.portable
        switch precision {
        case .int8:
            OperandBuffers.with([rows * paddedIn, rows * 4, rows * 4]) { buffers in
                let activations = buffers[0].assumingMemoryBound(to: UInt8.self)
                let rowScales = buffers[1].assumingMemoryBound(to: Float.self), rowZeros = buffers[2].assumingMemoryBound(to: Int32.self)
                let quantize = portable ? bk_quantize_rows_u8_portable : bk_quantize_rows_u8
                let gemm = portable ? bk_gemm_s8_portable : bk_gemm_s8
                scales.withUnsafeBufferPointer { scales in
                    columnSums.withUnsafeBufferPointer { sums in
                        let packed = UnsafePointer(data.assumingMemoryBound(to: Int8.self))
                        func multiply(_ r: Range<Int>, _ panelRange: Range<Int>) {
                            gemm(out + r.lowerBound * outFeatures, outFeatures, activations + r.lowerBound * paddedIn,
                                 rowScales + r.lowerBound, rowZeros + r.lowerBound, packed, sums.baseAddress!, scales.baseAddress!,
                                 bias, r.count, outFeatures, inFeatures, panelRange.lowerBound, panelRange.upperBound, flags)
                        }
                        func convert(_ r: Range<Int>) {
                            quantize(activations + r.lowerBound * paddedIn, rowScales + r.lowerBound, rowZeros + r.lowerBound,
                                     input + r.lowerBound * lda, lda, r.count, inFeatures)
                        }
                        Self.convertThenMultiply(rows: rows, panels: panels, convert: convert, multiply: multiply)
                    }
                }
            }
        case .fp32:
            let gemm = portable ? bk_gemm_f32_portable : bk_gemm_f32
            let packed = UnsafePointer(data.assumingMemoryBound(to: Float.self))
            Self.split(rows: rows, panels: panels) { r, panelRange in
                gemm(out + r.lowerBound * outFeatures, outFeatures, input + r.lowerBound * lda, lda, packed, bias,
                     r.count, outFeatures, inFeatures, panelRange.lowerBound, panelRange.upperBound, flags)
            }
        case .bf16:
            OperandBuffers.with([rows * paddedIn * 2]) { buffers in
                let activations = buffers[0].assumingMemoryBound(to: UInt16.self)
                let convertRows = portable ? bk_rows_to_bf16_portable : bk_rows_to_bf16
                let gemm = portable ? bk_gemm_bf16_portable : bk_gemm_bf16
                let packed = UnsafePointer(data.assumingMemoryBound(to: UInt16.self))
                func multiply(_ r: Range<Int>, _ panelRange: Range<Int>) {
                    gemm(out + r.lowerBound * outFeatures, outFeatures, activations + r.lowerBound * paddedIn, packed, bias,
                         r.count, outFeatures, inFeatures, panelRange.lowerBound, panelRange.upperBound, flags)
                }
                func convert(_ r: Range<Int>) {
                    convertRows(activations + r.lowerBound * paddedIn, input + r.lowerBound * lda, lda, r.count, inFeatures)
                }
                Self.convertThenMultiply(rows: rows, panels: panels, convert: convert, multiply: multiply)
            }
        }
    }

    /// The threads' split of a product whose activations are converted first (int8, bf16): `convert(rows)`
    /// converts input rows, `multiply(rows, panels)` multiplies converted rows by a range of panels. Many rows:
    /// each thread converts its own rows and multiplies them by every panel — one hand-off, no barrier between
    /// the two. Few rows: all rows are converted first, then each thread takes whole panel triples (the
    /// kernels' tile width). Also the split of bf16 training's products (MixedPrecision.swift).
    static func convertThenMultiply(rows: Int, panels: Int, convert: (Range<Int>) -> Void,
                                    multiply: (Range<Int>, Range<Int>) -> Void) {
        if rows >= 32 * Parallel.threadCount {
            Parallel.forEachRange(rows, grain: 32) { r in convert(r); multiply(r, 0..<panels) }
        } else {
            Parallel.forEachRange(rows, grain: 16, convert)
            splitPanels(rows: rows, panels: panels, multiply)
        }
    }

    /// The threads' split of an fp32 product (nothing to convert): ranges of rows when there are many, else panel triples.
    static func split(rows: Int, panels: Int, _ multiply: (Range<Int>, Range<Int>) -> Void) {
        if rows >= 256 * Parallel.threadCount {
            Parallel.forEachRange(rows, grain: 32) { r in multiply(r, 0..<panels) }
        } else {
            splitPanels(rows: rows, panels: panels, multiply)
        }
    }

    private static func splitPanels(rows: Int, panels: Int, _ multiply: (Range<Int>, Range<Int>) -> Void) {
        Parallel.forEachRange((panels + 2) / 3, grain: max(1, 64 / max(rows, 1))) { t in
            multiply(0..<rows, t.lowerBound * 3 ..< min(panels, t.upperBound * 3))
        }
    }
}

/// The encoder's linear layers of one model, packed for one precision. Filled either from the model's
/// parameters (`BertModel.prepare(precision:)`) or weight by weight while a checkpoint loads
/// (`BertModel.beginPacking(precision:)`; BertCheckpointMapping then packs each encoder weight straight from
/// the checkpoint and never writes it into the parameters, so its fp32 copy never occupies memory).
package final class PackedEncoderWeights: @unchecked Sendable {
    package let precision: Precision
    /// Per layer, in this order: QKV, attention output, intermediate, output.
    static let products = 4
    private let shapes: [(outFeatures: Int, inFeatures: Int)]
    /// Parameter offset of each piece of a packed weight → its slot (layer · 4 + product), which piece it is and
    /// of how many: the QKV weight is the layout's query, key and value blocks, which checkpoints hold as three
    /// tensors.
    private let pieceAt: [Int: (slot: Int, piece: Int, pieces: Int)]
    private var slots: [PackedWeight?]
    /// QKV pieces that arrived before the rest of their weight, by slot.
    private var staging: [Int: (values: [Float], arrived: Set<Int>)] = [:]

    /// Whether a model packs its encoder for `precision`: int8 and bf16 always; fp32 where the CPU runs the
    /// AVX-512 fp32 kernel (f32_gemm.c). Elsewhere fp32 multiplies the weights as they are through OpenBLAS, whose
    /// kernels suit the CPU; so it does with the portable kernels (BERTKIT_PORTABLE_KERNELS=1, what a CPU without
    /// AVX-512 runs) and with BERTKIT_F32_OPENBLAS=1 (Tools/bench's comparison row).
    package static func packs(_ precision: Precision?) -> Bool {
        switch precision {
        case .int8?, .bf16?: true
        case .fp32?: bk_f32_packed_isa() != 0 && !VectorKernels.portableByDefault && getenv("BERTKIT_F32_OPENBLAS") == nil
        case nil: false
        }
    }

    /// Empty: nothing packed yet.
    init(model: BertModel, precision: Precision) {
        self.precision = precision
        let c = model.config, H = c.hiddenSize, I = c.intermediateSize
        shapes = [(3 * H, H), (H, H), (I, H), (H, I)]
        var pieceAt: [Int: (slot: Int, piece: Int, pieces: Int)] = [:]
        for (l, w) in model.layout.layers.enumerated() {
            let slot = l * Self.products
            for k in 0..<3 { pieceAt[w.qkvWeight + k * H * H] = (slot, k, 3) }
            pieceAt[w.attentionOutputWeight] = (slot + 1, 0, 1)
            pieceAt[w.intermediateWeight] = (slot + 2, 0, 1)
            pieceAt[w.outputWeight] = (slot + 3, 0, 1)
        }
        self.pieceAt = pieceAt
        slots = [PackedWeight?](repeating: nil, count: c.numHiddenLayers * Self.products)
    }

    /// The parameter offset where slot's weight starts.
    private func offset(ofSlot slot: Int) -> Int { pieceAt.first { $0.value.slot == slot && $0.value.piece == 0 }!.key }

    /// Packs `count` values of the parameter at `offset` when they are (a piece of) one of the encoder's linear
    /// weights; true when they were taken (the caller then need not store them).
    func pack(offset: Int, count: Int, from values: UnsafePointer<Float>) -> Bool {
        guard let (slot, piece, pieces) = pieceAt[offset] else { return false }
        let shape = shapes[slot % Self.products], pieceCount = shape.outFeatures * shape.inFeatures / pieces
        guard count == pieceCount, slots[slot] == nil else { return false }
        if pieces == 1 {
            slots[slot] = PackedWeight(values, outFeatures: shape.outFeatures, inFeatures: shape.inFeatures, precision: precision)
            return true
        }
        var staged = staging[slot] ?? ([Float](repeating: 0, count: pieces * pieceCount), [])
        staged.values.withUnsafeMutableBufferPointer { ($0.baseAddress! + piece * pieceCount).update(from: values, count: pieceCount) }
        staged.arrived.insert(piece)
        if staged.arrived.count == pieces {
            staging[slot] = nil
            slots[slot] = staged.values.withUnsafeBufferPointer {
                PackedWeight($0.baseAddress!, outFeatures: shape.outFeatures, inFeatures: shape.inFeatures, precision: precision)
            }
        } else {
            staging[slot] = staged
        }
        return true
    }

    /// Packs, from the model's parameters, every weight not packed yet (all of them after `prepare`; after a
    /// load, those the checkpoint did not hold and the loader initialised).
    func packMissing(from model: BertModel) {
        // Pieces staged without the rest of their weight (a checkpoint missing, say, one key matrix) go back
        // into the parameters, where the loader's initialisation filled the rest.
        for (slot, staged) in staging {
            let pieces = 3, pieceCount = staged.values.count / pieces, start = offset(ofSlot: slot)
            for piece in staged.arrived {
                staged.values.withUnsafeBufferPointer {
                    model.p(start + piece * pieceCount).update(from: $0.baseAddress! + piece * pieceCount, count: pieceCount)
                }
            }
        }
        staging = [:]
        let missing = slots.indices.filter { slots[$0] == nil }
        let offsets = missing.map(offset(ofSlot:))
        let packed = UnsafeMutableBufferPointer<PackedWeight?>.allocate(capacity: missing.count)
        packed.initialize(repeating: nil)
        defer { packed.deinitialize(); packed.deallocate() }
        // Each entry is written by one thread only.
        Parallel.forEachRange(missing.count) { range in
            for item in range {
                let shape = shapes[missing[item] % Self.products]
                packed[item] = PackedWeight(model.p(offsets[item]), outFeatures: shape.outFeatures,
                                            inFeatures: shape.inFeatures, precision: precision)
            }
        }
        for (item, slot) in missing.enumerated() { slots[slot] = packed[item] }
    }

    /// Layer l's packed weight for product m (0 QKV, 1 attention output, 2 intermediate, 3 output).
    @inline(__always) func weight(layer l: Int, product m: Int) -> PackedWeight { slots[l * Self.products + m]! }

    /// Bytes of all packed weights.
    package var byteCount: Int { slots.reduce(0) { $0 + ($1?.byteCount ?? 0) } }
}
