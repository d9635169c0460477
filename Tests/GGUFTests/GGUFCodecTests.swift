// The GGUF codec on its own: what it writes it reads back exactly, Q8_0 is stable under a second quantization
// (the GGUF → safetensors → GGUF round trip relies on it), and every truncation and hostile count in a header is a
// GGUFError, never a crash or an allocation the file cannot back. What gguf-py and llama.cpp's converter make of
// bertkit's files is Tests/Interop/test_gguf_interop.py.

import Testing
import Foundation
import TensorCore
import GGUF
import TestSupport

@Suite struct GGUFCodecTests {
    static let metadata: [(key: String, value: GGUFValue)] = [
        ("general.architecture", .string("bert")),
        ("u8", .uint8(200)), ("i8", .int8(-100)), ("u16", .uint16(60000)), ("i16", .int16(-30000)),
        ("u32", .uint32(4_000_000_000)), ("i32", .int32(-2_000_000_000)), ("f32", .float32(1e-12)),
        ("bool", .bool(true)), ("string", .string("é ▁ \u{1F680}")), ("u64", .uint64(UInt64.max)),
        ("i64", .int64(Int64.min)), ("f64", .float64(-0.1)),
        ("strings", .array(elementType: .string, [.string("[CLS]"), .string("▁the"), .string("")])),
        ("nested", .array(elementType: .array, [.array(elementType: .int32, [.int32(1), .int32(-2)]),
                                                 .array(elementType: .int32, [.int32(3)])])),
    ]

    static func floats(_ count: Int, seed: UInt64) -> [Float] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float(Double(random.next() % 2_000_001) / 1_000_000 - 1) }
    }

    static func tensors() -> [GGUFOutputTensor] {
        let a = floats(3 * 64, seed: 1), b = floats(5, seed: 2), c = floats(2 * 32, seed: 3)
        let q = ByteBuffer(zeroedCount: 2 * Q8_0.blockBytes)
        c.withUnsafeBufferPointer { Q8_0.quantize($0, into: q.mutableBaseAddress) }
        return [
            GGUFOutputTensor(name: "a.weight", shape: [3, 64], type: .f32, data: Tensor(float32: a, shape: [3, 64]).data),
            GGUFOutputTensor(name: "b.bias", shape: [5], type: .f16, data: Tensor(float32: b, shape: [5]).converted(to: .f16)!.data),
            GGUFOutputTensor(name: "c.weight", shape: [2, 32], type: .q8_0, data: ByteView(buffer: q)),
        ]
    }

    /// A folder holding m.gguf (the folder goes when the value does).
    func written() throws -> TemporaryDirectory {
        let folder = TemporaryDirectory()
        try GGUFWriter.write(metadata: Self.metadata, tensors: Self.tensors(), to: folder.file("m.gguf"))
        return folder
    }

    @Test func readsBackWhatItWrote() throws {
        let folder = try written(), path = folder.file("m.gguf")
        let file = try GGUFFile.read(path: path)
        #expect(file.version == 3)
        #expect(file.metadata.map(\.key) == Self.metadata.map(\.key))
        for (key, value) in Self.metadata { #expect(file[key] == value, "\(key)") }
        #expect(file.tensors.map(\.name) == ["a.weight", "b.bias", "c.weight"])
        for (info, original) in zip(file.tensors, Self.tensors()) {
            #expect(info.shape == original.shape && info.type == original.type)
            #expect(info.offset % 32 == 0)
            #expect(Array(file.data(of: info).bytes) == Array(original.data.bytes), "\(info.name)")
        }
        // Contiguous: each tensor starts where the previous one's padded bytes end (llama.cpp checks this).
        for (previous, next) in zip(file.tensors, file.tensors.dropFirst()) {
            #expect(next.offset == (previous.offset + previous.byteCount + 31) / 32 * 32)
        }
        #expect(file.dataStart % 32 == 0)
        let size = try readFileBytes(path).count
        #expect(size % 32 == 0 && size == file.dataStart + file.tensors.last!.offset + (file.tensors.last!.byteCount + 31) / 32 * 32)
        #expect(folder.contents == ["m.gguf"])
    }

    @Test func q8_0DequantizesWithinHalfAStepAndRequantizesToTheSameBytes() {
        let values = Self.floats(32 * 50, seed: 9) + [Float](repeating: 0, count: 32) + (0..<32).map { Float($0) * 1e-3 }
        var quantized = [UInt8](repeating: 0, count: values.count / 32 * 34)
        values.withUnsafeBufferPointer { source in quantized.withUnsafeMutableBytes { Q8_0.quantize(source, into: $0.baseAddress!) } }
        var restored = [Float](repeating: 0, count: values.count)
        quantized.withUnsafeBytes { Q8_0.dequantize($0.baseAddress!, blocks: values.count / 32, into: &restored) }
        for block in 0..<(values.count / 32) {
            let slice = values[block * 32..<(block + 1) * 32]
            let step = (slice.map(abs).max() ?? 0) / 127
            // Half a step, plus what rounding the scale to float16 moves the largest q (127 × 2^-11 steps).
            for j in slice.indices { #expect(abs(values[j] - restored[j]) <= step * (0.5 + 127.0 / 2048) + 1e-7, "value \(j)") }
        }
        var again = [UInt8](repeating: 0, count: quantized.count)
        restored.withUnsafeBufferPointer { source in again.withUnsafeMutableBytes { Q8_0.quantize(source, into: $0.baseAddress!) } }
        #expect(again == quantized)
    }

    @Test func everyTruncationIsAnErrorNamingWhatIsMissing() throws {
        let folder = try written(), path = folder.file("m.gguf")
        let bytes = try readFileBytes(path)
        let file = try GGUFFile.read(path: path)
        let complete = file.dataStart + file.tensors.last!.offset + file.tensors.last!.byteCount
        for length in stride(from: 0, to: complete, by: 1) {
            #expect(throws: GGUFError.self, "cut at \(length)") { try GGUFFile.parse(buffer: ByteBuffer(copying: Array(bytes[..<length]))) }
        }
    }

    /// A count or length field set to a huge value at each place one occurs: refused before anything is sized by it.
    @Test func hugeCountsAndLengthsAreRefused() throws {
        let folder = try written(), path = folder.file("m.gguf")
        let bytes = try readFileBytes(path)
        var offsets = [8, 16, 24]                                  // tensor count, metadata count, first key length
        let keyLength = Int(bytes[24])
        offsets.append(24 + 8 + keyLength + 4)                     // the first value's string length
        for offset in offsets {
            var hostile = bytes
            for i in 0..<8 { hostile[offset + i] = i == 7 ? 0x7F : 0xFF }
            #expect(throws: GGUFError.self, "u64 at \(offset)") { try GGUFFile.parse(buffer: ByteBuffer(copying: hostile)) }
        }
    }

    @Test func foreignAndDamagedHeadersAreNamed() throws {
        let folder = try written(), path = folder.file("m.gguf")
        let bytes = try readFileBytes(path)
        var bigEndian = bytes
        bigEndian.replaceSubrange(4..<8, with: [0, 0, 0, 3])
        #expect(throws: GGUFError.bigEndian) { try GGUFFile.parse(buffer: ByteBuffer(copying: bigEndian)) }
        var version = bytes
        version[4] = 1
        #expect(throws: GGUFError.unsupportedVersion(1)) { try GGUFFile.parse(buffer: ByteBuffer(copying: version)) }
        var magic = bytes
        magic[0] = UInt8(ascii: "X")
        #expect(throws: GGUFError.self) { try GGUFFile.parse(buffer: ByteBuffer(copying: magic)) }
        // The first tensor's type (after its name, dimension count and two dimensions) set to Q4_K.
        let file = try GGUFFile.read(path: path)
        let tensorInfoStart = try headerLengthBeforeTensorInfos(bytes, metadataCount: file.metadata.count)
        var type = bytes
        type[tensorInfoStart + 8 + 8 + 4 + 16] = 12
        #expect(throws: GGUFError.unsupportedTensorType(tensor: "a.weight", type: 12, name: "Q4_K")) {
            try GGUFFile.parse(buffer: ByteBuffer(copying: type))
        }
    }

    @Test func writerRefusesWhatReadersWouldRefuse() {
        let folder = TemporaryDirectory()
        #expect(throws: GGUFError.emptyArray(key: "e")) {
            try GGUFWriter.header(metadata: [("e", .array(elementType: .int32, []))], tensors: [])
        }
        let long = String(repeating: "n", count: 64)
        let tensor = GGUFOutputTensor(name: long, shape: [1], type: .f32, data: Tensor(float32: [1], shape: [1]).data)
        #expect(throws: GGUFError.nameTooLong(tensor: long, bytes: 64)) { try GGUFWriter.header(metadata: [], tensors: [tensor]) }
        // Through the file writer: the error names the file, and nothing is left behind.
        let error = #expect(throws: FileError.self) { try GGUFWriter.write(metadata: [], tensors: [tensor], to: folder.file("x.gguf")) }
        #expect(error?.path == folder.file("x.gguf") && (error?.cause as? GGUFError) == .nameTooLong(tensor: long, bytes: 64))
        #expect(folder.contents.isEmpty)
    }

    /// `general.alignment` is one rule for reader and writer: a power of two as u32, or refused.
    @Test func customAlignmentIsHonouredAndABadOneRefused() throws {
        let folder = TemporaryDirectory()
        try GGUFWriter.write(metadata: [("general.alignment", .uint32(64))] + Self.metadata.dropFirst(0), tensors: Self.tensors(),
                             to: folder.file("a.gguf"))
        let file = try GGUFFile.read(path: folder.file("a.gguf"))
        #expect(file.alignment == 64 && file.dataStart % 64 == 0 && file.tensors.allSatisfy { $0.offset % 64 == 0 })
        #expect(throws: GGUFError.badAlignment(found: "24")) {
            try GGUFWriter.header(metadata: [("general.alignment", .uint32(24))], tensors: [])
        }
    }

    @Test func sha256MatchesCoreutils() throws {
        let folder = TemporaryDirectory()
        for (index, length) in [0, 3, 55, 56, 64, 1000].enumerated() {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
            let path = folder.file("\(index).bin")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let result = try runProcess("/usr/bin/sha256sum", [path])
            #expect(result.stdout.prefix(64) == SHA256.hexDigest(bytes), "\(length) bytes")
        }
    }

    /// Bytes before the first tensor info: header, then every metadata entry (walked with the parser's own rules).
    func headerLengthBeforeTensorInfos(_ bytes: [UInt8], metadataCount: Int) throws -> Int {
        var position = 24
        func u64() -> Int { defer { position += 8 }; return (0..<8).reduce(0) { $0 | Int(bytes[position + $1]) << (8 * $1) } }
        func u32() -> Int { defer { position += 4 }; return (0..<4).reduce(0) { $0 | Int(bytes[position + $1]) << (8 * $1) } }
        func skip(_ type: Int) {
            switch type {
            case 0, 1, 7: position += 1
            case 2, 3: position += 2
            case 4, 5, 6: position += 4
            case 10, 11, 12: position += 8
            case 8: position += u64()
            default: let element = u32(); for _ in 0..<u64() { skip(element) }
            }
        }
        for _ in 0..<metadataCount { position += u64(); skip(u32()) }
        return position
    }
}
