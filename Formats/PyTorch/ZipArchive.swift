// A read-only zip archive over a memory-mapped file: records are found through the central directory
// (ZIP64-aware), each record's data start is taken from its local header (torch pads local headers,
// not central ones), stored records are handed out as views of the mapping and deflated ones are
// inflated with zlib. Follows APPNOTE.TXT 6.3.10 for the parts torch and Python's zipfile write.

import CZlib
import TensorCore

struct ZipEntry: Sendable {
    var name: String
    var method: Int
    var flags: UInt16
    var crc: UInt32
    var compressedSize: Int
    var size: Int
    var localHeaderOffset: Int
    /// Absolute offset of the record's bytes (after the local header, name and extra field).
    var dataOffset: Int
}

struct ZipArchive {
    let buffer: ByteBuffer
    private(set) var entries: [ZipEntry] = []

    init(buffer: ByteBuffer) throws(PyTorchError) {
        self.buffer = buffer
        let file = UnsafeRawBufferPointer(start: buffer.baseAddress, count: buffer.count)
        let directory = try ZipArchive.findCentralDirectory(file)
        var position = directory.offset
        let end = directory.offset + directory.size
        for _ in 0..<directory.count {
            var entry = try ZipArchive.centralEntry(file, at: &position, end: end)
            entry.dataOffset = try ZipArchive.dataOffset(file, entry: entry, limit: directory.offset)
            entries.append(entry)
        }
    }

    // MARK: - End of central directory

    private static func u16(_ file: UnsafeRawBufferPointer, _ at: Int) -> Int { Int(UInt16(littleEndian: file.loadUnaligned(fromByteOffset: at, as: UInt16.self))) }
    private static func u32(_ file: UnsafeRawBufferPointer, _ at: Int) -> Int { Int(UInt32(littleEndian: file.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
    private static func u64(_ file: UnsafeRawBufferPointer, _ at: Int) -> UInt64 { UInt64(littleEndian: file.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }

    /// (offset, size, entry count) of the central directory.
    private static func findCentralDirectory(_ file: UnsafeRawBufferPointer) throws(PyTorchError) -> (offset: Int, size: Int, count: Int) {
        guard file.count >= 22 else { throw .notZip(reason: "\(file.count) bytes is too short for a zip archive (truncated)") }
        // The end record is 22 bytes plus a comment of up to 65535 bytes; it must end exactly at EOF.
        var eocd = -1
        var candidate = file.count - 22
        let lowest = max(0, file.count - 22 - 0xFFFF)
        while candidate >= lowest {
            if u32(file, candidate) == 0x0605_4B50 && candidate + 22 + u16(file, candidate + 20) == file.count {
                eocd = candidate
                break
            }
            candidate -= 1
        }
        guard eocd >= 0 else { throw .notZip(reason: "no end-of-central-directory record, so the file is truncated or damaged") }
        guard u16(file, eocd + 4) == 0, u16(file, eocd + 6) == 0 else { throw .zipCorrupt(reason: "multi-disk archives are not supported") }
        var count = u16(file, eocd + 10)
        var size = u32(file, eocd + 12)
        var offset = u32(file, eocd + 16)
        var directoryLimit = eocd

        // ZIP64: a locator sits just before the end record and points at the ZIP64 end record.
        if eocd >= 20 && u32(file, eocd - 20) == 0x0706_4B50 {
            let recordOffset = u64(file, eocd - 20 + 8)
            guard eocd >= 76, recordOffset <= UInt64(eocd - 76), u32(file, Int(recordOffset)) == 0x0606_4B50 else {
                throw .zipCorrupt(reason: "the ZIP64 locator points at byte \(recordOffset), where there is no ZIP64 end record")
            }
            let record = Int(recordOffset)
            let count64 = u64(file, record + 32), size64 = u64(file, record + 40), offset64 = u64(file, record + 48)
            guard count64 <= UInt64(Int.max), size64 <= UInt64(record), offset64 <= UInt64(record) else {
                throw .zipCorrupt(reason: "the ZIP64 end record describes a central directory outside the file")
            }
            count = Int(count64)
            size = Int(size64)
            offset = Int(offset64)
            directoryLimit = record
        } else if count == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
            throw .zipCorrupt(reason: "the end record needs ZIP64 values but there is no ZIP64 locator (truncated?)")
        }
        guard offset <= directoryLimit, size <= directoryLimit - offset else {
            throw .zipCorrupt(reason: "the central directory (\(size) bytes at byte \(offset)) runs past its end record (truncated?)")
        }
        guard count <= size / 46 else {
            throw .zipCorrupt(reason: "\(count) entries cannot fit in a \(size)-byte central directory")
        }
        return (offset, size, count)
    }

    // MARK: - Entries

    private static func centralEntry(_ file: UnsafeRawBufferPointer, at position: inout Int, end: Int) throws(PyTorchError) -> ZipEntry {
        guard end - position >= 46, u32(file, position) == 0x0201_4B50 else {
            throw .zipCorrupt(reason: "no central directory entry at byte \(position)")
        }
        let flags = UInt16(u16(file, position + 8))
        let method = u16(file, position + 10)
        let crc = UInt32(u32(file, position + 16))
        var compressed = u32(file, position + 20)
        var size = u32(file, position + 24)
        let nameLength = u16(file, position + 28), extraLength = u16(file, position + 30), commentLength = u16(file, position + 32)
        var localOffset = u32(file, position + 42)
        let nameStart = position + 46
        guard nameStart + nameLength + extraLength + commentLength <= end else {
            throw .zipCorrupt(reason: "central directory entry at byte \(position) runs past the directory")
        }
        guard let name = String(validating: UnsafeRawBufferPointer(rebasing: file[nameStart..<(nameStart + nameLength)]), as: UTF8.self) else {
            throw .zipCorrupt(reason: "an entry name at byte \(nameStart) is not valid UTF-8")
        }
        // ZIP64 extended information: present fields replace the 32-bit values that are 0xFFFFFFFF, in this order.
        var extra = nameStart + nameLength
        let extraEnd = extra + extraLength
        while extraEnd - extra >= 4 {
            let id = u16(file, extra), length = u16(file, extra + 2)
            guard extra + 4 + length <= extraEnd else { throw .zipCorrupt(reason: "entry '\(name)' has a malformed extra field") }
            if id == 0x0001 {
                var field = extra + 4
                func next() throws(PyTorchError) -> Int {
                    guard field + 8 <= extra + 4 + length else { throw .zipCorrupt(reason: "entry '\(name)' has a short ZIP64 extra field") }
                    let value = u64(file, field)
                    field += 8
                    guard value <= UInt64(Int.max) else { throw .zipCorrupt(reason: "entry '\(name)' has an impossible ZIP64 size") }
                    return Int(value)
                }
                if size == 0xFFFF_FFFF { size = try next() }
                if compressed == 0xFFFF_FFFF { compressed = try next() }
                if localOffset == 0xFFFF_FFFF { localOffset = try next() }
            }
            extra += 4 + length
        }
        position = extraEnd + commentLength
        guard flags & 0x1 == 0 else { throw .encryptedRecord(record: name) }
        guard method == 0 || method == 8 else { throw .unsupportedCompression(record: name, method: method) }
        guard method != 0 || compressed == size else {
            throw .zipCorrupt(reason: "stored record '\(name)' says \(compressed) bytes compressed but \(size) uncompressed")
        }
        return ZipEntry(name: name, method: method, flags: flags, crc: crc, compressedSize: compressed, size: size,
                        localHeaderOffset: localOffset, dataOffset: 0)
    }

    /// Where the record's bytes start, from its local header; checks they end inside the file.
    private static func dataOffset(_ file: UnsafeRawBufferPointer, entry: ZipEntry, limit: Int) throws(PyTorchError) -> Int {
        let header = entry.localHeaderOffset
        guard header <= limit - 30, u32(file, header) == 0x0403_4B50 else {
            throw .zipCorrupt(reason: "record '\(entry.name)' has no local header at byte \(header)")
        }
        let nameLength = u16(file, header + 26), extraLength = u16(file, header + 28)
        let start = header + 30 + nameLength + extraLength
        guard start <= limit else { throw .recordOutOfBounds(record: entry.name, end: start, fileSize: limit) }
        let localName = UnsafeRawBufferPointer(rebasing: file[(header + 30)..<(header + 30 + nameLength)])
        guard localName.elementsEqual(entry.name.utf8) else {
            throw .zipCorrupt(reason: "record '\(entry.name)' is named differently in its local header")
        }
        guard entry.compressedSize <= limit - start else {
            throw .recordOutOfBounds(record: entry.name, end: start &+ entry.compressedSize, fileSize: limit)
        }
        return start
    }

    // MARK: - Contents

    /// The record's uncompressed bytes: a view of the mapping when stored, inflated memory otherwise.
    /// `verifyCRC` checks stored records too (deflated ones are always checked).
    func contents(of entry: ZipEntry, verifyCRC: Bool = false) throws(PyTorchError) -> ByteView {
        if entry.method == 0 {
            let view = ByteView(buffer: buffer, offset: entry.dataOffset, count: entry.size)
            if verifyCRC { try checkCRC(entry, view) }
            return view
        }
        // DEFLATE never expands data more than 1032:1; a larger claim is a lie (or a zip bomb).
        let (ceiling, overflow) = entry.compressedSize.multipliedReportingOverflow(by: 1032)
        guard overflow || entry.size <= ceiling + 64 else {
            throw .inflateFailed(record: entry.name, reason: "\(entry.size) bytes cannot come from \(entry.compressedSize) deflated bytes")
        }
        // Within that ratio a large file can still claim more than the machine holds: refuse it before allocating.
        guard entry.size <= SystemMemory.physicalBytes else {
            throw .inflateFailed(record: entry.name, reason: "it would inflate to \(SystemMemory.describe(Double(entry.size))), "
                                 + "more than this machine's memory (\(SystemMemory.describe(Double(SystemMemory.physicalBytes))))")
        }
        guard let output = PyTorchMemory.allocate(entry.size) else {
            throw .inflateFailed(record: entry.name, reason: "cannot allocate \(entry.size) bytes to inflate it")
        }
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .inflateFailed(record: entry.name, reason: "zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var consumed = 0, produced = 0
        var status = Z_OK
        let chunk = 1 << 30
        stream.next_out = output.mutableBaseAddress.assumingMemoryBound(to: UInt8.self)
        while true {
            if stream.avail_in == 0 && consumed < entry.compressedSize {
                let count = min(chunk, entry.compressedSize - consumed)
                stream.next_in = UnsafeMutablePointer(mutating: (buffer.baseAddress + entry.dataOffset + consumed).assumingMemoryBound(to: UInt8.self))
                stream.avail_in = UInt32(count)
                consumed += count
            }
            if stream.avail_out == 0 && produced < entry.size {
                let count = min(chunk, entry.size - produced)
                stream.next_out = (output.mutableBaseAddress + produced).assumingMemoryBound(to: UInt8.self)
                stream.avail_out = UInt32(count)
                produced += count
            }
            status = inflate(&stream, Z_NO_FLUSH)
            if status == Z_OK { continue }
            // Z_BUF_ERROR: no progress; fatal only when there is no more input or room to give.
            if status == Z_BUF_ERROR && !(stream.avail_in == 0 && consumed == entry.compressedSize)
                && !(stream.avail_out == 0 && produced == entry.size) { continue }
            break
        }
        let total = produced - Int(stream.avail_out)
        guard status == Z_STREAM_END, total == entry.size else {
            throw .inflateFailed(record: entry.name, reason: status == Z_STREAM_END || status == Z_OK || status == Z_BUF_ERROR
                                 ? "inflated to \(total) bytes, not the \(entry.size) the archive says"
                                 : "zlib error \(status)")
        }
        let view = ByteView(buffer: output)
        try checkCRC(entry, view)
        return view
    }

    private func checkCRC(_ entry: ZipEntry, _ view: ByteView) throws(PyTorchError) {
        let actual = CRC32.checksum(view.bytes)
        // torch writes 0 when CRC computation is switched off (`set_crc32_options(False)`).
        guard actual == entry.crc || (entry.crc == 0 && entry.method == 0) else {
            throw .crcMismatch(record: entry.name, expected: entry.crc, actual: actual)
        }
    }
}
