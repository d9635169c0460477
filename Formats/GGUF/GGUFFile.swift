// Reads a GGUF file (ggml/include/gguf.h, the layout comment; gguf-py 0.19.0 gguf_reader.py) through a
// read-only memory map. Every count, length, shape and offset is checked against the file's size before
// anything is allocated for it, so a damaged or hostile header gives a `GGUFError`, never a crash or a
// gigabyte allocation:
//   u32 magic "GGUF" · u32 version (2, 3) · u64 tensor count · u64 metadata count
//   metadata: string key · u32 type · value            (string = u64 length + UTF-8)
//   tensor infos: string name · u32 n_dims · n_dims × u64 ne (innermost first) · u32 ggml type · u64 offset
//   padding to `general.alignment` (32) · tensor data, each tensor at its offset from the data start.

import TensorCore

/// One tensor as the file describes it.
package struct GGUFTensorInfo: Sendable, Equatable {
    package var name: String
    /// numpy / PyTorch order: the file's `ne` reversed, so the last dimension is the row.
    package var shape: [Int]
    package var type: GGMLType
    /// From the start of the data section.
    package var offset: Int
    package var byteCount: Int
}

package struct GGUFFile: @unchecked Sendable {
    package static let magic: [UInt8] = Array("GGUF".utf8)
    package static let defaultAlignment = 32
    /// Array elements a file may hold in all its metadata: 4 M is 16× the largest vocabulary in use (262,144 tokens),
    /// and each element costs a 24-byte GGUFValue however few bytes it takes in the file.
    package static let maximumArrayCount = 1 << 22

    package var version: UInt32
    /// In file order.
    package var metadata: [(key: String, value: GGUFValue)]
    /// In file order.
    package var tensors: [GGUFTensorInfo]
    package var alignment: Int
    /// File offset of the data section.
    package var dataStart: Int
    package let buffer: ByteBuffer

    package subscript(key: String) -> GGUFValue? { metadata.first(where: { $0.key == key })?.value }

    /// The bytes of `tensor` (a view into the mapping).
    package func data(of tensor: GGUFTensorInfo) -> ByteView {
        ByteView(buffer: buffer, offset: dataStart + tensor.offset, count: tensor.byteCount)
    }

    /// `tensor` as values: F32, F16 and BF16 as stored (a view, no copy), Q8_0 dequantized to F32.
    package func tensor(_ info: GGUFTensorInfo) -> Tensor {
        let view = data(of: info)
        guard info.type == .q8_0 else { return Tensor(dtype: info.type.dtype, shape: info.shape, data: view) }
        let count = Shape.elementCount(info.shape)!
        let out = ByteBuffer(zeroedCount: count * 4)
        Q8_0.dequantize(view.baseAddress, blocks: count / Q8_0.blockSize,
                        into: out.mutableBaseAddress.assumingMemoryBound(to: Float.self))
        return Tensor(dtype: .f32, shape: info.shape, data: ByteView(buffer: out))
    }

    /// The alignment `metadata` sets: `general.alignment` (a power of two, u32) or 32. Reader and writer both ask here.
    static func alignment(_ metadata: [(key: String, value: GGUFValue)]) throws(GGUFError) -> Int {
        guard let value = metadata.first(where: { $0.key == "general.alignment" })?.value else { return defaultAlignment }
        guard case .uint32(let a) = value, a > 0, a & (a - 1) == 0 else { throw .badAlignment(found: value.description) }
        return Int(a)
    }

    /// True when `prefix` starts with the GGUF magic.
    package static func looksLikeGGUF(_ prefix: [UInt8]) -> Bool { prefix.starts(with: magic) }

    package static func read(path: String) throws -> GGUFFile {
        try withFileContext(path) { try parse(buffer: try ByteBuffer(mappingFileAt: path)) }
    }

    package static func parse(buffer: ByteBuffer) throws(GGUFError) -> GGUFFile {
        var cursor = Cursor(base: buffer.baseAddress, size: buffer.count, elementBudget: maximumArrayCount)
        let magicBytes = Array(UnsafeRawBufferPointer(start: buffer.baseAddress, count: min(4, buffer.count)))
        guard magicBytes == magic else { throw .notGGUF(firstBytes: magicBytes) }
        cursor.position = 4
        let version = try cursor.u32("the version")
        if version > 0xFFFF && version.byteSwapped <= 3 { throw .bigEndian }
        guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }
        // Each tensor info takes at least 24 bytes and each metadata entry at least 13: counts beyond what the
        // file could hold are damage, refused before any array is sized by them.
        let tensorCount = try cursor.count("the tensor count", limit: buffer.count / 24)
        let metadataCount = try cursor.count("the metadata count", limit: buffer.count / 13)

        var metadata: [(key: String, value: GGUFValue)] = []
        var keys = Set<String>()
        for _ in 0..<metadataCount {
            let key = try cursor.string("a metadata key")
            guard keys.insert(key).inserted else { throw .duplicateKey(key) }
            let rawType = try cursor.u32("the type of '\(key)'")
            guard let type = GGUFValueType(rawValue: rawType) else { throw .unknownValueType(key: key, type: rawType) }
            metadata.append((key, try cursor.value(type, key: key, depth: 0)))
        }
        let alignment = try Self.alignment(metadata)

        var tensors: [GGUFTensorInfo] = []
        var names = Set<String>()
        for _ in 0..<tensorCount {
            let name = try cursor.string("a tensor name")
            guard names.insert(name).inserted else { throw .duplicateTensor(name) }
            let dimensions = try cursor.u32("the dimension count of '\(name)'")
            guard dimensions <= 4 else { throw .tooManyDimensions(tensor: name, dimensions: dimensions) }
            var ne: [Int] = []
            for _ in 0..<dimensions {
                let n = try cursor.u64("a dimension of '\(name)'")
                guard n <= UInt64(Int32.max) else { throw .dimensionTooLarge(tensor: name, dimension: n) }
                ne.append(Int(n))
            }
            let rawType = try cursor.u32("the type of '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else {
                throw .unsupportedTensorType(tensor: name, type: rawType, name: GGMLType.otherName(rawType))
            }
            let offset = try cursor.u64("the offset of '\(name)'")
            let shape = Array(ne.reversed())
            if let row = shape.last, row % type.blockSize != 0 {
                throw .rowNotWholeBlocks(tensor: name, type: type.name, rowLength: row, blockSize: type.blockSize)
            }
            guard let bytes = type.byteCount(of: shape) else { throw .sizeOverflow(tensor: name) }
            guard offset % UInt64(alignment) == 0 else { throw .misalignedOffset(tensor: name, offset: offset, alignment: alignment) }
            guard offset <= UInt64(buffer.count) else {
                throw .tensorPastEnd(tensor: name, end: offset, dataSize: buffer.count)
            }
            tensors.append(GGUFTensorInfo(name: name, shape: shape, type: type, offset: Int(offset), byteCount: bytes))
        }

        let dataStart = (cursor.position + alignment - 1) / alignment * alignment
        let dataSize = max(0, buffer.count - dataStart)
        // Written as a subtraction: offset + byteCount can overflow for a hostile shape.
        for tensor in tensors where tensor.byteCount > dataSize || tensor.offset > dataSize - tensor.byteCount {
            throw .tensorPastEnd(tensor: tensor.name, end: UInt64(tensor.offset) + UInt64(tensor.byteCount), dataSize: dataSize)
        }
        let byOffset = tensors.filter { $0.byteCount > 0 }.sorted { $0.offset < $1.offset }
        for (previous, next) in zip(byOffset, byOffset.dropFirst()) where previous.offset + previous.byteCount > next.offset {
            throw .overlap(tensor: next.name, previous: previous.name)
        }
        return GGUFFile(version: version, metadata: metadata, tensors: tensors, alignment: alignment,
                        dataStart: dataStart, buffer: buffer)
    }
}

/// Little-endian reads with the bounds checked first.
private struct Cursor {
    let base: UnsafeRawPointer
    let size: Int
    /// Array elements left for the whole file: each costs a GGUFValue (far more than its bytes in the file), so the
    /// total is capped, not only each array.
    var elementBudget: Int
    var position = 0

    mutating func take(_ count: Int, _ what: @autoclosure () -> String) throws(GGUFError) -> UnsafeRawPointer {
        guard count <= size - position else { throw .truncated(what: what(), offset: position, needed: count, fileSize: size) }
        defer { position += count }
        return base + position
    }

    mutating func u32(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt32 {
        UInt32(littleEndian: try take(4, what()).loadUnaligned(as: UInt32.self))
    }

    mutating func u64(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt64 {
        UInt64(littleEndian: try take(8, what()).loadUnaligned(as: UInt64.self))
    }

    mutating func count(_ what: String, limit: Int) throws(GGUFError) -> Int {
        let n = try u64(what)
        guard n <= UInt64(limit) else { throw .countTooLarge(what: what, count: n, limit: limit) }
        return Int(n)
    }

    mutating func string(_ what: @autoclosure () -> String) throws(GGUFError) -> String {
        let start = position
        let length = try u64("the length of \(what())")
        guard length <= UInt64(size - position) else {
            throw .truncated(what: what(), offset: start, needed: Int(clamping: length), fileSize: size)
        }
        let bytes = UnsafeRawBufferPointer(start: try take(Int(length), what()), count: Int(length))
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .stringNotUTF8(what: what(), offset: start) }
        return text
    }

    mutating func value(_ type: GGUFValueType, key: String, depth: Int) throws(GGUFError) -> GGUFValue {
        let what = "the value of '\(key)'"
        switch type {
        case .uint8: return .uint8(try take(1, what).load(as: UInt8.self))
        case .int8: return .int8(try take(1, what).load(as: Int8.self))
        case .bool: return .bool(try take(1, what).load(as: UInt8.self) != 0)
        case .uint16: return .uint16(UInt16(littleEndian: try take(2, what).loadUnaligned(as: UInt16.self)))
        case .int16: return .int16(Int16(littleEndian: try take(2, what).loadUnaligned(as: Int16.self)))
        case .uint32: return .uint32(try u32(what))
        case .int32: return .int32(Int32(bitPattern: try u32(what)))
        case .float32: return .float32(Float(bitPattern: try u32(what)))
        case .uint64: return .uint64(try u64(what))
        case .int64: return .int64(Int64(bitPattern: try u64(what)))
        case .float64: return .float64(Double(bitPattern: try u64(what)))
        case .string: return .string(try string(what))
        case .array:
            guard depth < 4 else { throw .arrayTooDeep(key: key) }
            let rawType = try u32("the element type of '\(key)'")
            guard let elementType = GGUFValueType(rawValue: rawType) else { throw .unknownValueType(key: key, type: rawType) }
            // Every element takes at least one byte (a string eight, an array twelve).
            let minimum = elementType.fixedSize ?? (elementType == .string ? 8 : 12)
            let limit = min(elementBudget, (size - position) / minimum)
            let n = try count("the length of '\(key)'", limit: limit)
            elementBudget -= n
            var items: [GGUFValue] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try value(elementType, key: key, depth: depth + 1)) }
            return .array(elementType: elementType, items)
        }
    }
}
