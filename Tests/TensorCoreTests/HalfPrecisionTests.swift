// F16/BF16 ↔ F32 against the bits torch 2.15 produced (Fixtures/tensorcore/half_conversion: raw little-endian
// tensors, `<name>.<dtype>.bin`, made by Tools/fixtures/make_tensorcore_fixtures.py — no codec in between).

import Testing
import TensorCore
import TestSupport

@Suite struct HalfPrecisionTests {
    let store: TensorStore

    init() throws {
        var store = TensorStore()
        let names = ["f32": DType.f32, "to_f16": .f16, "to_bf16": .bf16, "all_f16": .f16, "all_f16_to_f32": .f32,
                     "all_bf16": .bf16, "all_bf16_to_f32": .f32, "f64": .f64, "f64_to_f16": .f16, "f64_to_bf16": .bf16]
        for (name, dtype) in names {
            let bytes = try readFileBytes(Fixtures.path("tensorcore/half_conversion/\(name).\(dtype.rawValue.lowercased()).bin"))
            store[name] = bytes.withUnsafeBytes {
                Tensor(dtype: dtype, shape: [bytes.count / dtype.byteWidth!], copying: $0)
            }
        }
        self.store = store
    }

    func bits16(_ name: String) -> [UInt16] {
        let t = store[name]!
        return (0..<t.elementCount).map { t.data.baseAddress.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self) }
    }

    func bits32(_ name: String) -> [UInt32] {
        let t = store[name]!
        return (0..<t.elementCount).map { t.data.baseAddress.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self) }
    }

    @Test func float32ToFloat16MatchesTorch() {
        let inputs = store["f32"]!.float32Values()!
        let expected = bits16("to_f16")
        let mismatches = inputs.indices.filter { HalfPrecision.float16Bits(inputs[$0]) != expected[$0] }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first at \(mismatches.first ?? -1)")
    }

    @Test func float32ToBFloat16MatchesTorch() {
        let inputs = store["f32"]!.float32Values()!
        let expected = bits16("to_bf16")
        let mismatches = inputs.indices.filter { HalfPrecision.bfloat16Bits(inputs[$0]) != expected[$0] }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first at \(mismatches.first ?? -1)")
    }

    @Test func float16ToFloat32MatchesTorch() {
        let patterns = bits16("all_f16"), expected = bits32("all_f16_to_f32")
        let mismatches = patterns.indices.filter { HalfPrecision.float32(fromFloat16: patterns[$0]).bitPattern != expected[$0] }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first at pattern \(mismatches.first.map { String(patterns[$0], radix: 16) } ?? "")")
    }

    @Test func bfloat16ToFloat32MatchesTorch() {
        let patterns = bits16("all_bf16"), expected = bits32("all_bf16_to_f32")
        let mismatches = patterns.indices.filter { HalfPrecision.float32(fromBFloat16: patterns[$0]).bitPattern != expected[$0] }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches")
    }

    @Test func tensorConversionFromFloat64GoesThroughFloat32LikeTorch() {
        let f64 = store["f64"]!
        #expect(f64.converted(to: .f16)!.isBitwiseEqual(to: store["f64_to_f16"]!))
        #expect(f64.converted(to: .bf16)!.isBitwiseEqual(to: store["f64_to_bf16"]!))
    }

    @Test func tensorConversionRoundTripsThroughF32() {
        let source = store["f32"]!
        let half = source.converted(to: .f16)!
        #expect(half.isBitwiseEqual(to: store["to_f16"]!))
        #expect(source.converted(to: .bf16)!.isBitwiseEqual(to: store["to_bf16"]!))
        #expect(source.converted(to: .f32)!.isBitwiseEqual(to: source))
    }
}
