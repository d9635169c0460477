// The zip container exactly as torch 2.15's `PyTorchStreamWriter` (caffe2/serialize/inline_container.cc
// over miniz, opened with MZ_ZIP_FLAG_WRITE_ZIP64) writes it (Docs/specs/pytorch.md §A2): every
// record STORED under one top folder; local headers with zero CRC/sizes, flags 0x0808 and an `FB`
// extra field padded with 'Z' so each record's data starts on a 64-byte boundary; a data descriptor
// after every non-empty record; ZIP64 extras only past 4 GiB; and a ZIP64 end record, locator and
// classic end record always. Record data streams straight from the caller's buffers.

import TensorCore

final class TorchZipWriter {
    static let alignment = 64
    private let output: AtomicFileWriter
    let archiveName: String
    private var position = 0
    private var central: [UInt8] = []
    private var entryCount = 0
    /// Record names (without the folder) and non-empty records' CRCs, in write order, for the serialization id.
    private(set) var names: [String] = []
    private(set) var crcs: [UInt32] = []

    init(output: AtomicFileWriter, archiveName: String) {
        self.output = output
        self.archiveName = archiveName
    }

    /// torch's archive folder for a destination file: its base name up to the last dot
    /// (`pytorch_model.bin` → `pytorch_model`, `my.model.v2.bin` → `my.model.v2`).
    static func archiveName(forPath path: String) -> String {
        let base = path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path
        guard let dot = base.lastIndex(of: ".") else { return base.isEmpty ? "archive" : base }
        let stem = String(base[..<dot])
        return stem.isEmpty ? "archive" : stem
    }

    func addRecord(_ name: String, _ text: String) throws(SystemError) {
        try addRecord(name, bytes: Array(text.utf8))
    }

    func addRecord(_ name: String, bytes: [UInt8]) throws(SystemError) {
        let view = ByteView(buffer: ByteBuffer(copying: bytes))
        try addRecord(name, view.bytes, crc: CRC32.checksum(view.bytes))
    }

    /// Writes one record; `crc` is the CRC-32 of `data` (computed ahead, possibly in parallel).
    func addRecord(_ name: String, _ data: UnsafeRawBufferPointer, crc: UInt32) throws(SystemError) {
        let fullName = Array((archiveName + "/" + name).utf8)
        let size = data.count
        let headerOffset = position
        let big = size >= 0xFFFF_FFFF, far = headerOffset >= 0xFFFF_FFFF

        // ZIP64 extra (local): uncompressed size and a compressed size still 0 for big records; the
        // header offset for records beyond 4 GiB.
        var zip64: [UInt64] = []
        if big { zip64 += [UInt64(size), 0] }
        if far { zip64.append(UInt64(headerOffset)) }
        var extra: [UInt8] = []
        if !zip64.isEmpty { extra += le16(1) + le16(zip64.count * 8) + zip64.flatMap(le64) }
        // `detail::getPadding`: the FB block's payload makes the data start a multiple of 64.
        let start = headerOffset + 30 + fullName.count + extra.count + 4
        let padding = (TorchZipWriter.alignment - start % TorchZipWriter.alignment) % TorchZipWriter.alignment
        extra += [0x46, 0x42] + le16(padding) + [UInt8](repeating: 0x5A, count: padding)

        let flags: Int = size > 0 ? 0x0808 : 0x0800
        var header = le32(0x0403_4B50) + le16(0) + le16(flags) + le16(0) + le16(0) + le16(0)
        header += le32(0) + le32(0) + le32(0) + le16(fullName.count) + le16(extra.count)
        try write(header + fullName + extra)
        try output.write(data)
        position += size
        if size > 0 {
            let sizes = zip64.isEmpty ? le32(size) + le32(size) : le64(UInt64(size)) + le64(UInt64(size))
            try write(le32(0x0807_4B50) + le32(Int(crc)) + sizes)
            crcs.append(crc)
        }
        names.append(name)

        // Central directory entry: real CRC and sizes, 0xFFFFFFFF where the ZIP64 extra takes over.
        var centralExtra: [UInt64] = []
        if big { centralExtra += [UInt64(size), UInt64(size)] }
        if far { centralExtra.append(UInt64(headerOffset)) }
        let centralExtraBytes = centralExtra.isEmpty ? [] : le16(1) + le16(centralExtra.count * 8) + centralExtra.flatMap(le64)
        var entry = le32(0x0201_4B50) + le16(0) + le16(0) + le16(flags) + le16(0) + le16(0) + le16(0)
        entry += le32(Int(crc)) + le32(min(size, 0xFFFF_FFFF)) + le32(min(size, 0xFFFF_FFFF))
        entry += le16(fullName.count) + le16(centralExtraBytes.count) + le16(0) + le16(0) + le16(0) + le32(0)
        entry += le32(min(headerOffset, 0xFFFF_FFFF))
        central += entry + fullName + centralExtraBytes
        entryCount += 1
    }

    /// `version`, the serialization id, the central directory and the three end records.
    func finish() throws(SystemError) {
        try addRecord("version", "3\n")
        let id = SerializationID.make(names: names, crcs: crcs)
        try addRecord(".data/serialization_id", id)
        let directoryOffset = position
        try write(central)
        let zip64EndOffset = position
        var end = le32(0x0606_4B50) + le64(44) + le16(0x031E) + le16(0x002D) + le32(0) + le32(0)
        end += le64(UInt64(entryCount)) + le64(UInt64(entryCount)) + le64(UInt64(central.count)) + le64(UInt64(directoryOffset))
        end += le32(0x0706_4B50) + le32(0) + le64(UInt64(zip64EndOffset)) + le32(1)
        end += le32(0x0605_4B50) + le16(0) + le16(0) + le16(min(entryCount, 0xFFFF)) + le16(min(entryCount, 0xFFFF))
        end += le32(min(central.count, 0xFFFF_FFFF)) + le32(min(directoryOffset, 0xFFFF_FFFF)) + le16(0)
        try write(end)
    }

    private func write(_ bytes: [UInt8]) throws(SystemError) {
        try output.write(bytes)
        position += bytes.count
    }
}

private func le16(_ value: Int) -> [UInt8] { [UInt8(truncatingIfNeeded: value), UInt8(truncatingIfNeeded: value >> 8)] }
private func le32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) } }
private func le64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) } }
