// Float32 ↔ float16 / bfloat16 with the exact bits torch's CPU `.to()` produces (torch 2.15, AVX2):
// round to nearest even for finite values; NaN handling copies torch's vectorised kernels, which is
// what `.to()` runs for tensors of any length:
//   f32 → f16   NaN keeps sign and the top mantissa bits, quiet bit set (vcvtps2ph);
//   f32 → bf16  every NaN becomes 0xFFFF (the blend in `cvtfp32_bf16`);
//   f16 → f32   NaN made quiet, payload kept (vcvtph2ps; torch's scalar tail path differs);
//   bf16 → f32  the bits shifted left by 16 (exact, NaN payload kept).
// These were measured with torch 2.15 (see Tools/fixtures/make_safetensors_fixtures.py, the dtype file).

package enum HalfPrecision {
    /// IEEE binary16 bits of `value`, rounded to nearest even.
    @inline(__always)
    package static func float16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        let exponent = Int((bits >> 23) & 0xFF)
        let mantissa = bits & 0x7F_FFFF
        if exponent == 0xFF {
            if mantissa == 0 { return sign | 0x7C00 }                       // ±inf
            return sign | 0x7C00 | 0x0200 | UInt16(mantissa >> 13)          // quiet NaN, payload kept
        }
        let halfExponent = exponent - 127 + 15
        if halfExponent >= 0x1F { return sign | 0x7C00 }                    // overflow → inf
        if halfExponent <= 0 {
            // Subnormal half (or zero): shift the full significand right and round to nearest even.
            if halfExponent < -10 { return sign }                           // below half the smallest subnormal
            let significand = mantissa | 0x80_0000
            let shift = UInt32(14 - halfExponent)
            var result = significand >> shift
            let remainder = significand & ((1 << shift) - 1)
            let halfway = UInt32(1) << (shift - 1)
            if remainder > halfway || (remainder == halfway && (result & 1) == 1) { result += 1 }
            return sign | UInt16(result)
        }
        var result = UInt32(halfExponent) << 10 | (mantissa >> 13)
        let remainder = mantissa & 0x1FFF
        if remainder > 0x1000 || (remainder == 0x1000 && (result & 1) == 1) { result += 1 }  // may carry into inf: correct
        return sign | UInt16(result)
    }

    /// The float value of IEEE binary16 `bits`.
    @inline(__always)
    package static func float32(fromFloat16 bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32((bits >> 10) & 0x1F)
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0x1F {
            // inf, or NaN made quiet with its payload kept (vcvtph2ps).
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa == 0 ? 0 : 0x40_0000 | mantissa << 13))
        }
        if exponent == 0 {
            if mantissa == 0 { return Float(bitPattern: sign) }
            // Subnormal: value = mantissa × 2^-24, exact in float32.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    /// bfloat16 bits of `value`, rounded to nearest even; NaN → 0xFFFF as torch's vector kernel.
    @inline(__always)
    package static func bfloat16Bits(_ value: Float) -> UInt16 {
        if value.isNaN { return 0xFFFF }
        let bits = value.bitPattern
        let roundingBias = ((bits >> 16) & 1) + 0x7FFF
        return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
    }

    @inline(__always)
    package static func float32(fromBFloat16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    package static func float32ToFloat16(_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, count: Int) {
        let out = destination.assumingMemoryBound(to: UInt16.self)
        for i in 0..<count { out[i] = float16Bits(source[i]) }
    }

    package static func float32ToBFloat16(_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, count: Int) {
        let out = destination.assumingMemoryBound(to: UInt16.self)
        for i in 0..<count { out[i] = bfloat16Bits(source[i]) }
    }

    package static func float16ToFloat32(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { destination[i] = float32(fromFloat16: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
    }

    package static func bfloat16ToFloat32(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { destination[i] = float32(fromBFloat16: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
    }
}
