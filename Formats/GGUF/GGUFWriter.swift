// Writes GGUF version 3 as gguf-py 0.19.0's GGUFWriter does (gguf_writer.py: write_header_to_file,
// write_kv_data_to_file, write_ti_data_to_file, write_tensors_to_file): header, metadata in the order
// given, tensor infos with offsets that are the running sum of the tensors' sizes each padded to the
// alignment (llama.cpp's loader insists on exactly that), zero padding to the data start, then each
// tensor followed by zero padding — after the last one too. Streamed into an `AtomicFileWriter`.

import TensorCore

/// A tensor to write: its bytes are already in `type`'s encoding.
package struct GGUFOutputTensor: Sendable {
    package var name: String
    /// numpy order; written reversed as ggml's `ne`.
    package var shape: [Int]
    package var type: GGMLType
    package var data: ByteView

    package init(name: String, shape: [Int], type: GGMLType, data: ByteView) {
        self.name = name
        self.shape = shape
        self.type = type
        self.data = data
    }
}

package enum GGUFWriter {
    /// llama.cpp's GGML_MAX_NAME is 64 bytes with the terminating NUL.
    package static let maximumNameBytes = 63

    /// Writes `metadata` and `tensors` to `path` atomically. `general.alignment` in `metadata`, when present,
    /// sets the alignment (gguf-py's `add_custom_alignment`).
    package static func write(metadata: [(key: String, value: GGUFValue)], tensors: [GGUFOutputTensor],
                             to path: String) throws {
        try withFileContext(path) {
            let (head, alignment) = try header(metadata: metadata, tensors: tensors)
            let writer = try AtomicFileWriter(destination: path)
            try writer.write(head)
            for tensor in tensors {
                try writer.write(tensor.data.bytes)
                try writer.writeZeros(padding(tensor.data.count, alignment))
            }
            try writer.commit()
        }
    }

    /// Everything before the data section, padded to the alignment; and the alignment.
    package static func header(metadata: [(key: String, value: GGUFValue)], tensors: [GGUFOutputTensor])
        throws(GGUFError) -> (bytes: [UInt8], alignment: Int) {
        let alignment = try GGUFFile.alignment(metadata)
        var out = Array(GGUFFile.magic)
        append(UInt32(3), to: &out)
        append(UInt64(tensors.count), to: &out)
        append(UInt64(metadata.count), to: &out)
        var keys = Set<String>()
        for (key, value) in metadata {
            guard keys.insert(key).inserted else { throw .duplicateKey(key) }
            appendString(key, to: &out)
            append(value.type.rawValue, to: &out)
            try appendValue(value, key: key, to: &out)
        }
        var offset = 0
        var names = Set<String>()
        for tensor in tensors {
            guard names.insert(tensor.name).inserted else { throw .duplicateTensor(tensor.name) }
            guard tensor.name.utf8.count <= maximumNameBytes else { throw .nameTooLong(tensor: tensor.name, bytes: tensor.name.utf8.count) }
            guard tensor.shape.count <= 4 else { throw .tooManyDimensions(tensor: tensor.name, dimensions: UInt32(tensor.shape.count)) }
            if let row = tensor.shape.last, row % tensor.type.blockSize != 0 {
                throw .rowNotWholeBlocks(tensor: tensor.name, type: tensor.type.name, rowLength: row, blockSize: tensor.type.blockSize)
            }
            guard let bytes = tensor.type.byteCount(of: tensor.shape) else { throw .sizeOverflow(tensor: tensor.name) }
            guard bytes == tensor.data.count else { throw .dataSizeMismatch(tensor: tensor.name, expected: bytes, actual: tensor.data.count) }
            appendString(tensor.name, to: &out)
            append(UInt32(tensor.shape.count), to: &out)
            for n in tensor.shape.reversed() { append(UInt64(n), to: &out) }
            append(tensor.type.rawValue, to: &out)
            append(UInt64(offset), to: &out)
            offset += bytes + padding(bytes, alignment)
        }
        out.append(contentsOf: repeatElement(0, count: padding(out.count, alignment)))
        return (out, alignment)
    }

    static func padding(_ count: Int, _ alignment: Int) -> Int { (alignment - count % alignment) % alignment }

    private static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func appendString(_ text: String, to out: inout [UInt8]) {
        append(UInt64(text.utf8.count), to: &out)
        out.append(contentsOf: text.utf8)
    }

    private static func appendValue(_ value: GGUFValue, key: String, to out: inout [UInt8]) throws(GGUFError) {
        switch value {
        case .uint8(let v): out.append(v)
        case .int8(let v): out.append(UInt8(bitPattern: v))
        case .bool(let v): out.append(v ? 1 : 0)
        case .uint16(let v): append(v, to: &out)
        case .int16(let v): append(v, to: &out)
        case .uint32(let v): append(v, to: &out)
        case .int32(let v): append(v, to: &out)
        case .float32(let v): append(v.bitPattern, to: &out)
        case .uint64(let v): append(v, to: &out)
        case .int64(let v): append(v, to: &out)
        case .float64(let v): append(v.bitPattern, to: &out)
        case .string(let s): appendString(s, to: &out)
        case .array(let elementType, let items):
            guard !items.isEmpty else { throw .emptyArray(key: key) }
            guard items.allSatisfy({ $0.type == elementType }) else { throw .mixedArray(key: key) }
            append(elementType.rawValue, to: &out)
            append(UInt64(items.count), to: &out)
            for item in items { try appendValue(item, key: key, to: &out) }
        }
    }
}
