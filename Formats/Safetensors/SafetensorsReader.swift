// Reads a safetensors file through a read-only memory map. The header is validated in full first;
// the tensors handed out are views into the mapping, so opening is O(header) and no tensor byte is
// read until the caller touches it.

import TensorCore

package enum SafetensorsReader {
    /// Opens `path` and returns its tensors in file order, with its metadata (empty when absent).
    /// Errors carry the path.
    package static func read(path: String) throws -> TensorStore {
        try withFileContext(path) {
            let buffer = try ByteBuffer(mappingFileAt: path)
            return try read(buffer: buffer)
        }
    }

    /// The same over bytes already in memory (tests, fuzzing).
    package static func read(buffer: ByteBuffer) throws(SafetensorsError) -> TensorStore {
        let header = try SafetensorsHeader.parse(file: UnsafeRawBufferPointer(start: buffer.baseAddress, count: buffer.count))
        var store = TensorStore()
        for entry in header.entries {
            let view = ByteView(buffer: buffer, offset: header.dataStart + entry.begin, count: entry.end - entry.begin)
            store[entry.name] = Tensor(dtype: entry.dtype, shape: entry.shape, data: view)
        }
        store.metadata = header.metadata ?? [:]
        return store
    }

    /// The header alone (for `inspect`, which must tell "no metadata" from "empty metadata").
    package static func header(path: String) throws -> SafetensorsHeader {
        try withFileContext(path) {
            let buffer = try ByteBuffer(mappingFileAt: path)
            return try SafetensorsHeader.parse(file: UnsafeRawBufferPointer(start: buffer.baseAddress, count: buffer.count))
        }
    }

    /// True when `prefix` (a file's first bytes) is probably safetensors, possibly a damaged one: the
    /// header starts with `{`, or the length field is within the limit. Damaged files then get the
    /// reader's precise error instead of "unknown format".
    package static func looksLikeSafetensors(_ prefix: [UInt8]) -> Bool {
        guard prefix.count >= 8 else { return false }
        var length: UInt64 = 0
        for i in (0..<8).reversed() { length = length << 8 | UInt64(prefix[i]) }
        var i = 8
        while i < prefix.count, [0x20, 0x09, 0x0A, 0x0D].contains(prefix[i]) { i += 1 }
        return (i < prefix.count && prefix[i] == UInt8(ascii: "{")) || length <= SafetensorsHeader.maximumHeaderLength
    }
}
