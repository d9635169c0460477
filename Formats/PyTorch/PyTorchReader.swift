// Reads PyTorch checkpoints — the zip format `torch.save` writes since 1.6 and the legacy (pre-1.6)
// stream — into a `TensorStore`, following torch 2.15's `torch.serialization._load` and
// `_legacy_load` (Docs/specs/pytorch.md Parts A and B) without executing any pickle code.
// Stored records are views of the memory-mapped file; tensors that share a storage share its bytes.

import TensorCore

/// What a PyTorch checkpoint held.
package struct PyTorchCheckpoint {
    package enum Container: String, Sendable { case zip, legacy }
    package var container: Container
    package var store: TensorStore
    /// Remarks for `inspect`: which nested entry held the state dict, what was skipped.
    package var notes: [String]
}

package enum PyTorchReader {
    /// The legacy format's magic number, `0x1950A86A20F9469CFC6C`, as LONG1's little-endian bytes.
    static let legacyMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    /// Opens `path` (zip or legacy, told from its first bytes). Errors carry the path.
    package static func read(path: String, limits: PickleLimits = PickleLimits()) throws -> PyTorchCheckpoint {
        try withFileContext(path) {
            try read(buffer: try ByteBuffer(mappingFileAt: path), limits: limits)
        }
    }

    /// The same over bytes already in memory (tests, fuzzing).
    package static func read(buffer: ByteBuffer, limits: PickleLimits = PickleLimits()) throws(PyTorchError) -> PyTorchCheckpoint {
        let isZip = buffer.count >= 4 && UnsafeRawBufferPointer(start: buffer.baseAddress, count: 2).elementsEqual([0x50, 0x4B])
        return isZip ? try readZip(buffer, limits: limits) : try readLegacy(buffer, limits: limits)
    }

    // MARK: - Zip

    static func readZip(_ buffer: ByteBuffer, limits: PickleLimits) throws(PyTorchError) -> PyTorchCheckpoint {
        let archive = try ZipArchive(buffer: buffer)
        var records: [String: ZipEntry] = [:]
        var folder: String?
        for entry in archive.entries where !entry.name.hasSuffix("/") {
            guard let slash = entry.name.firstIndex(of: "/") else { throw .entryOutsideFolder(name: entry.name) }
            let top = String(entry.name[..<slash])
            if let folder, folder != top { throw .severalTopFolders(first: folder, second: top) }
            folder = top
            let name = String(entry.name[entry.name.index(after: slash)...])
            guard records.updateValue(entry, forKey: name) == nil else { throw .duplicateRecord(name: entry.name) }
        }
        guard let top = folder, let pickleEntry = records["data.pkl"] else { throw .missingRecord(name: "data.pkl") }
        guard let versionEntry = records["version"] ?? records[".data/version"] else { throw .missingRecord(name: "version") }
        let versionText = try text(archive.contents(of: versionEntry, verifyCRC: true))
        guard let version = Int(versionText.trimmingWhitespace), (1...10).contains(version) else {
            throw .badVersionRecord("'\(versionText.trimmingWhitespace.prefix(20))'")
        }
        var bigEndian = false
        if let order = records["byteorder"] {
            let value = try text(archive.contents(of: order, verifyCRC: true))
            guard value == "little" || value == "big" else { throw .badByteOrder("'\(value.prefix(20))'") }
            bigEndian = value == "big"
        }

        let pickle = try archive.contents(of: pickleEntry, verifyCRC: true)
        let (root, arena, _) = try PickleMachine.run(pickle.bytes, limits: limits) { (pid, arena, offset) throws(PyTorchError) in
            try storageReference(pid, arena: &arena, offset: offset, legacy: false)
        }
        let selected = try StateDictSelection.select(root, arena: arena)

        // Each storage is looked up (and, for big-endian files, byte-swapped) once, so tensors that
        // share it share its bytes.
        var storages: [String: ByteView] = [:]
        var store = TensorStore()
        for (name, record) in selected.tensors {
            let key = record.storage.key
            let recordName = "data/" + key
            if storages[key] == nil {
                guard let entry = records[recordName] else { throw .missingStorageRecord(key: key, record: top + "/" + recordName) }
                storages[key] = try archive.contents(of: entry)
            }
            var bytes = storages[key]!
            guard let declared = record.storage.byteCount, declared == bytes.count else {
                throw .storageSizeMismatch(key: key, record: top + "/" + recordName, dtype: (record.storage.dtype ?? .uint8).rawValue,
                                           elements: record.storage.elementCount, expectedBytes: record.storage.byteCount ?? -1,
                                           actualBytes: bytes.count)
            }
            if bigEndian && record.dtype.elementSize > 1 {
                let unit = record.dtype.rawValue.hasPrefix("complex") ? record.dtype.elementSize / 2 : record.dtype.elementSize
                let swappedKey = "\(key)\u{0}\(unit)"
                if storages[swappedKey] == nil { storages[swappedKey] = TensorRebuild.byteSwapped(bytes, unit: unit) }
                bytes = storages[swappedKey]!
            }
            store[name] = try TensorRebuild.materialize(record, name: name, key: key, storage: bytes)
        }
        return PyTorchCheckpoint(container: .zip, store: store, notes: selected.notes)
    }

    private static func text(_ view: ByteView) throws(PyTorchError) -> String {
        guard view.count <= 4096, let value = String(validating: view.bytes, as: UTF8.self) else {
            throw .zipCorrupt(reason: "a small text record is not short UTF-8 text")
        }
        return value
    }

    /// BINPERSID: `('storage', StorageClass, key, location, numel)` (zip) or the same plus
    /// `view_metadata` (legacy).
    static func storageReference(_ pid: PickleValue, arena: inout PickleArena, offset: Int, legacy: Bool) throws(PyTorchError) -> PickleValue {
        guard case .tuple(let items)? = arena.object(pid) else {
            throw .badPersistentID(reason: "expected a tuple ('storage', …), found \(pid.kind(in: arena))", offset: offset)
        }
        let expected = legacy ? 6 : 5
        guard items.count == expected, items[0].stringValue == "storage" else {
            throw .badPersistentID(reason: "expected a \(expected)-tuple starting with 'storage'", offset: offset)
        }
        let dtype: TorchDType?
        switch arena.object(items[1]) {
        case .global(.typedStorage(let typed))?: dtype = typed
        case .global(.untypedStorage)?: dtype = nil
        default: throw .badPersistentID(reason: "storage type is \(items[1].kind(in: arena)), not a storage class", offset: offset)
        }
        guard let key = items[2].stringValue, !key.isEmpty else { throw .badPersistentID(reason: "storage key is not a str", offset: offset) }
        guard let location = items[3].stringValue else { throw .badPersistentID(reason: "storage location is not a str", offset: offset) }
        guard let count = items[4].intValue, count >= 0 else { throw .badPersistentID(reason: "storage size is not a non-negative int", offset: offset) }
        var reference = StorageReference(key: key, dtype: dtype, elementCount: count, location: location)
        guard reference.byteCount != nil else { throw .badPersistentID(reason: "storage size \(count) overflows", offset: offset) }
        if legacy, case .tuple(let view)? = arena.object(items[5]) {
            guard view.count == 3, let viewKey = view[0].stringValue, let viewOffset = view[1].intValue, let viewCount = view[2].intValue,
                  viewOffset >= 0, viewCount >= 0 else {
                throw .badPersistentID(reason: "view metadata is not (key, offset, size)", offset: offset)
            }
            reference.view = (viewKey, viewOffset, viewCount)
        } else if legacy, case .none = items[5] {
        } else if legacy {
            throw .badPersistentID(reason: "view metadata is \(items[5].kind(in: arena)), not None or a tuple", offset: offset)
        }
        return arena.add(.storage(reference))
    }

    // MARK: - Legacy

    static func readLegacy(_ buffer: ByteBuffer, limits: PickleLimits) throws(PyTorchError) -> PyTorchCheckpoint {
        let file = UnsafeRawBufferPointer(start: buffer.baseAddress, count: buffer.count)
        let noStorage: PickleMachine.PersistentLoad = { (_, _, offset) throws(PyTorchError) in
            throw .badPersistentID(reason: "storage reference outside the main pickle", offset: offset)
        }
        let magic = try PickleMachine.run(file, limits: limits, persistentLoad: noStorage)
        guard case .bigInt(let magicBytes) = magic.value, magicBytes == legacyMagic else {
            throw .badMagicNumber(found: magic.value.kind(in: magic.arena))
        }
        let protocolVersion = try PickleMachine.run(file, from: magic.end, limits: limits, persistentLoad: noStorage)
        guard protocolVersion.value.intValue == 1001 else {
            throw .badProtocolVersion(found: protocolVersion.value.intValue.map(String.init) ?? protocolVersion.value.kind(in: protocolVersion.arena))
        }
        // sys_info (endianness, type sizes): torch's loader reads and ignores it; storages are little-endian.
        let sysInfo = try PickleMachine.run(file, from: protocolVersion.end, limits: limits, persistentLoad: noStorage)

        var declared: [String: StorageReference] = [:]
        let main = try PickleMachine.run(file, from: sysInfo.end, limits: limits) { (pid, arena, offset) throws(PyTorchError) in
            let value = try storageReference(pid, arena: &arena, offset: offset, legacy: true)
            if case .storage(let reference)? = arena.object(value), declared[reference.key] == nil { declared[reference.key] = reference }
            return value
        }
        let keyList = try PickleMachine.run(file, from: main.end, limits: limits, persistentLoad: noStorage)
        guard case .list(let keyValues)? = keyList.arena.object(keyList.value) else {
            throw .badPersistentID(reason: "the legacy storage list is \(keyList.value.kind(in: keyList.arena)), not a list", offset: main.end)
        }

        // Storages follow back to back: an 8-byte little-endian element count, then the elements.
        var located: [String: ByteView] = [:]
        var position = keyList.end
        for value in keyValues {
            guard let key = value.stringValue else { throw .legacyUnknownStorage(key: value.kind(in: keyList.arena)) }
            guard let reference = declared[key] else { throw .legacyUnknownStorage(key: key) }
            guard file.count - position >= 8 else { throw .legacyTruncated(key: key, needed: 8, available: file.count - position) }
            let stored = Int64(littleEndian: file.loadUnaligned(fromByteOffset: position, as: Int64.self))
            position += 8
            guard stored == Int64(reference.elementCount) else {
                throw .legacyCountMismatch(key: key, declared: reference.elementCount, stored: Int(stored))
            }
            let byteCount = reference.byteCount!
            guard file.count - position >= byteCount else {
                throw .legacyTruncated(key: key, needed: byteCount, available: file.count - position)
            }
            // Legacy storages sit at arbitrary offsets; copy the ones not aligned for their dtype.
            let view = ByteView(buffer: buffer, offset: position, count: byteCount)
            let itemSize = (reference.dtype ?? .uint8).elementSize
            located[key] = position % itemSize == 0 ? view : ByteView(buffer: ByteBuffer(copying: view.bytes))
            position += byteCount
        }

        let selected = try StateDictSelection.select(main.value, arena: main.arena)
        var store = TensorStore()
        for (name, record) in selected.tensors {
            let key = record.storage.key
            guard var bytes = located[key] else { throw .legacyMissingStorage(key: key) }
            guard record.storage.byteCount == bytes.count else {
                throw .storageSizeMismatch(key: key, record: "legacy storage '\(key)'", dtype: (record.storage.dtype ?? .uint8).rawValue,
                                           elements: record.storage.elementCount, expectedBytes: record.storage.byteCount ?? -1,
                                           actualBytes: bytes.count)
            }
            if let view = record.storage.view {
                let itemSize = (record.storage.dtype ?? .uint8).elementSize
                let (start, overflow1) = view.offset.multipliedReportingOverflow(by: itemSize)
                let (length, overflow2) = view.count.multipliedReportingOverflow(by: itemSize)
                guard !overflow1, !overflow2, start <= bytes.count, length <= bytes.count - start else {
                    throw .tensorOutsideStorage(tensor: name, key: key, neededBytes: overflow1 || overflow2 ? Int.max : start + length,
                                                storageBytes: bytes.count)
                }
                bytes = ByteView(buffer: bytes.buffer, offset: bytes.offset + start, count: length)
            }
            store[name] = try TensorRebuild.materialize(record, name: name, key: key, storage: bytes)
        }
        return PyTorchCheckpoint(container: .legacy, store: store, notes: selected.notes)
    }
}
