// Element types of the tensor store, spelled and ordered as safetensors 0.8 spells and orders them
// (Docs/specs/safetensors.md §3). The declaration order is the safetensors enum order, which the
// safetensors writer sorts by (descending), so `allCases` doubles as that ranking.

package enum DType: String, CaseIterable, Sendable, Hashable {
    case bool = "BOOL"
    case f4 = "F4"
    case f6E2M3 = "F6_E2M3"
    case f6E3M2 = "F6_E3M2"
    case u8 = "U8"
    case i8 = "I8"
    case f8E5M2 = "F8_E5M2"
    case f8E4M3 = "F8_E4M3"
    case f8E8M0 = "F8_E8M0"
    case f8E4M3FNUZ = "F8_E4M3FNUZ"
    case f8E5M2FNUZ = "F8_E5M2FNUZ"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case c64 = "C64"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// Bits per element. Sub-byte types (F4, F6) pack several elements into a byte.
    package var bitWidth: Int {
        switch self {
        case .f4: return 4
        case .f6E2M3, .f6E3M2: return 6
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ: return 8
        case .i16, .u16, .f16, .bf16: return 16
        case .i32, .u32, .f32: return 32
        case .c64, .f64, .i64, .u64: return 64
        }
    }

    /// Bytes per element for whole-byte types; nil for the packed sub-byte types.
    package var byteWidth: Int? { bitWidth % 8 == 0 ? bitWidth / 8 : nil }

    /// Position in the safetensors enum (BOOL = 0 … U64 = 21).
    package var safetensorsRank: Int { DType.allCases.firstIndex(of: self)! }

    package var isFloatingPoint: Bool {
        switch self {
        case .f16, .bf16, .f32, .f64, .f4, .f6E2M3, .f6E3M2,
             .f8E5M2, .f8E4M3, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ: return true
        default: return false
        }
    }

    /// The byte count of `shape` in this dtype, or nil when it overflows `Int` or, for packed
    /// types, does not fill a whole number of bytes.
    package func byteCount(of shape: [Int]) -> Int? {
        guard let elements = Shape.elementCount(shape) else { return nil }
        let (bits, overflow) = elements.multipliedReportingOverflow(by: bitWidth)
        guard !overflow, bits % 8 == 0 else { return nil }
        return bits / 8
    }
}

/// Helpers for shapes, which are plain `[Int]` (row-major, C order).
package enum Shape {
    /// Product of the dimensions, nil on a negative dimension or overflow. `[]` (a scalar) has 1.
    package static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for dim in shape {
            guard dim >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            if overflow { return nil }
            count = product
        }
        return count
    }

    /// `[2, 3]` → `"[2, 3]"`, as Python prints a shape list.
    package static func describe(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: ", ") + "]"
    }
}
