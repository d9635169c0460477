// F16/BF16 ↔ F32 against the bits torch 2.15 produced (Fixtures/safetensors/half_conversion.safetensors).

import Testing
import TensorCore
import Safetensors
import TestSupport

@Suite struct HalfPrecisionTests {
    let store: TensorStore

    init() throws {
        store = try SafetensorsReader.read(path: Fixtures.path("safetensors/half_conversion.safetensors"))
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
