// The tensor element types bertkit reads and writes (ggml/include/ggml.h `enum ggml_type`; gguf-py 0.19.0
// `GGMLQuantizationType` and `GGML_QUANT_SIZES`), and Q8_0 quantization as gguf-py's quants.py does it,
// bit for bit (it reproduces ggml-quants.c `quantize_row_q8_0_ref`).

import TensorCore

package enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0, f16 = 1, q8_0 = 8, bf16 = 30

    /// Values per block and bytes per block: a row (the innermost dimension) is a whole number of blocks.
    package var blockSize: Int { self == .q8_0 ? Q8_0.blockSize : 1 }
    package var blockBytes: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q8_0: return Q8_0.blockBytes
        }
    }

    /// The name gguf-py and llama.cpp print.
    package var name: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .q8_0: return "Q8_0"
        case .bf16: return "BF16"
        }
    }

    /// The safetensors dtype the values have once read (Q8_0 is dequantized to F32).
    package var dtype: DType {
        switch self {
        case .f32, .q8_0: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        }
    }

    /// Bytes of a tensor of `shape` (numpy order: the last dimension is the row), nil on overflow or when a
    /// row is not whole blocks.
    package func byteCount(of shape: [Int]) -> Int? {
        guard let elements = Shape.elementCount(shape) else { return nil }
        if let row = shape.last, row % blockSize != 0 { return nil }
        let (bytes, overflow) = (elements / blockSize).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }

    /// Names of the ggml types bertkit does not read, for error messages (ggml.h, ggml 0.9 numbering).
    static func otherName(_ raw: UInt32) -> String? {
        let names: [UInt32: String] = [2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K",
                                       12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS",
                                       18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS",
                                       24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M",
                                       34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4"]
        return names[raw]
    }
}

/// Q8_0: blocks of 32 values stored as an f16 scale `d` and 32 int8 `q`, value = q × d
/// (ggml-common.h `block_q8_0`).
package enum Q8_0 {
    package static let blockSize = 32
    package static let blockBytes = 34

    /// Quantizes `values` (a whole number of blocks, all finite) exactly as gguf-py's `Q8_0.quantize_blocks`:
    /// in float32, d = max|x| / 127, id = 1/d (0 when d is 0), q = round half away from zero (x × id) — C's
    /// `roundf`, which is not numpy's `round` — and the scale stored as float16(d) (nearest even). q uses the
    /// float32 d, not the rounded scale. Multiplying by id rather than dividing by d matters: division differs
    /// in about one value in a million.
    package static func quantize(_ values: UnsafeBufferPointer<Float>, into out: UnsafeMutableRawPointer) {
        precondition(values.count % blockSize == 0)
        for block in 0..<(values.count / blockSize) {
            let x = values.baseAddress! + block * blockSize
            var amax: Float = 0
            for j in 0..<blockSize { amax = max(amax, abs(x[j])) }
            let d = amax / 127
            let id: Float = d == 0 ? 0 : 1 / d
            let target = out + block * blockBytes
            target.storeBytes(of: HalfPrecision.float16Bits(d).littleEndian, toByteOffset: 0, as: UInt16.self)
            for j in 0..<blockSize {
                // |x × id| ≤ 127 up to one rounding; the clamp only matters when 1/d overflows (d subnormal).
                let q = min(max((x[j] * id).rounded(.toNearestOrAwayFromZero), -127), 127)
                target.storeBytes(of: Int8(q.isNaN ? 0 : q), toByteOffset: 2 + j, as: Int8.self)
            }
        }
    }

    /// The values of `blocks` Q8_0 blocks at `source`, as ggml's `dequantize_row_q8_0`: q × float(d).
    package static func dequantize(_ source: UnsafeRawPointer, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let base = source + block * blockBytes
            let d = HalfPrecision.float32(fromFloat16: UInt16(littleEndian: base.loadUnaligned(as: UInt16.self)))
            for j in 0..<blockSize {
                out[block * blockSize + j] = Float(base.load(fromByteOffset: 2 + j, as: Int8.self)) * d
            }
        }
    }
}
