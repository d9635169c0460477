// Exact float8 → float32, as torch's c10 decodes each of its float8 types (every float8 value is exactly a
// float32). Used to read float8 tensors as numbers and to cast them with `--dtype`, as `.to()` does.
//   E4M3FN (safetensors F8_E4M3): bias 7, no infinities, S.1111.111 is NaN (c10 Float8_e4m3fn.h, bit for bit).
//   E5M2: the top byte of an IEEE half.
//   E4M3FNUZ / E5M2FNUZ: bias 8 / 16, no infinities, no negative zero: 0x80 is the only NaN.
//   E8M0FNU: an exponent alone, 2^(e − 127); 0xFF is NaN.

package enum Float8 {
    package static let formats: Set<DType> = [.f8E4M3, .f8E5M2, .f8E4M3FNUZ, .f8E5M2FNUZ, .f8E8M0]

    package static func float32(_ byte: UInt8, _ format: DType) -> Float {
        switch format {
        case .f8E4M3: return e4m3fn(byte)
        case .f8E5M2: return HalfPrecision.float32(fromFloat16: UInt16(byte) << 8)
        case .f8E4M3FNUZ: return fnuz(byte, mantissaBits: 3, bias: 8)
        case .f8E5M2FNUZ: return fnuz(byte, mantissaBits: 2, bias: 16)
        case .f8E8M0: return byte == 0xFF ? .nan : Float(sign: .plus, exponent: Int(byte) - 127, significand: 1)
        default: preconditionFailure("\(format) is not a float8 type")
        }
    }

    /// c10's `fp8e4m3fn_to_fp32_value`: renormalise subnormals, map exponent 15 / mantissa 7 to NaN.
    private static func e4m3fn(_ byte: UInt8) -> Float {
        let w = UInt32(byte) << 24
        let sign = w & 0x8000_0000
        let nonsign = w & 0x7FFF_FFFF
        var renormShift = UInt32(nonsign.leadingZeroBitCount)
        renormShift = renormShift > 4 ? renormShift - 4 : 0
        let infNanMask = UInt32(bitPattern: Int32(bitPattern: nonsign &+ 0x0100_0000) >> 8) & 0x7F80_0000
        let zeroMask = UInt32(bitPattern: Int32(bitPattern: nonsign &- 1) >> 31)
        let bits = sign | ((((nonsign << renormShift) >> 4) &+ ((0x78 &- renormShift) << 23)) | infNanMask) & ~zeroMask
        return Float(bitPattern: bits)
    }

    private static func fnuz(_ byte: UInt8, mantissaBits: Int, bias: Int) -> Float {
        if byte == 0x80 { return .nan }
        let negative = byte & 0x80 != 0
        let exponent = Int(byte & 0x7F) >> mantissaBits
        let mantissa = Int(byte) & ((1 << mantissaBits) - 1)
        let magnitude = exponent == 0
            ? Float(mantissa) * Float(sign: .plus, exponent: 1 - bias - mantissaBits, significand: 1)
            : Float((1 << mantissaBits) + mantissa) * Float(sign: .plus, exponent: exponent - bias - mantissaBits, significand: 1)
        return negative ? -magnitude : magnitude
    }
}
