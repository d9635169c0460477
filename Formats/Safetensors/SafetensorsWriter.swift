// Writes safetensors byte-identical to safetensors 0.8's `save_file` (Docs/specs/safetensors.md §5):
// tensors sorted by dtype (descending enum order) then name (UTF-8 bytes), offsets contiguous from 0,
// compact serde_json header with `__metadata__` first, padded with spaces to a multiple of 8.
// The data is streamed from the tensors' own buffers into an `AtomicFileWriter`: no second copy of the
// model is ever held in memory, and a failed write leaves nothing behind.

import TensorCore

package enum SafetensorsWriter {
    /// Metadata Hugging Face's `save_pretrained` writes.
    package static let defaultMetadata = ["format": "pt"]

    /// Order of tensors in the data section.
    package static func dataOrder(_ store: TensorStore) -> [String] {
        store.entries.sorted { a, b in
            let rankA = a.tensor.dtype.safetensorsRank, rankB = b.tensor.dtype.safetensorsRank
            if rankA != rankB { return rankA > rankB }
            return Array(a.name.utf8).lexicographicallyPrecedes(Array(b.name.utf8))
        }.map(\.name)
    }

    /// The 8-byte length plus the padded JSON header for `store`, and the data order it describes.
    /// `metadata` nil omits `__metadata__`; keys are written sorted so output is reproducible.
    package static func header(for store: TensorStore, metadata: [String: String]?) throws(SafetensorsError) -> (bytes: [UInt8], order: [String]) {
        let order = dataOrder(store)
        var json = "{"
        var first = true
        if let metadata {
            json += "\"__metadata__\":{"
            json += metadata.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
                .map { JSONWriter.quote($0) + ":" + JSONWriter.quote(metadata[$0]!) }.joined(separator: ",")
            json += "}"
            first = false
        }
        var offset = 0
        for name in order {
            let tensor = store[name]!
            if !first { json += "," }
            first = false
            json += JSONWriter.quote(name) + ":{\"dtype\":\"" + tensor.dtype.rawValue + "\",\"shape\":["
            json += tensor.shape.map(String.init).joined(separator: ",")
            json += "],\"data_offsets\":[\(offset),\(offset + tensor.byteCount)]}"
            offset += tensor.byteCount
        }
        json += "}"
        var headerBytes = Array(json.utf8)
        let padding = (8 - headerBytes.count % 8) % 8
        headerBytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))
        guard headerBytes.count <= Int(SafetensorsHeader.maximumHeaderLength) else {
            throw .headerTooLargeToWrite(length: headerBytes.count)
        }
        var bytes = withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { Array($0) }
        bytes.append(contentsOf: headerBytes)
        return (bytes, order)
    }

    /// Writes `store` to `path` atomically. `metadata` defaults to `{"format": "pt"}`. `durable: false` skips the
    /// syncs to disk, for scratch files that never outlive the run.
    package static func write(_ store: TensorStore, to path: String,
                             metadata: [String: String]? = defaultMetadata, durable: Bool = true) throws {
        try withFileContext(path) {
            let (headerBytes, order) = try header(for: store, metadata: metadata)
            let writer = try AtomicFileWriter(destination: path, durable: durable)
            try writer.write(headerBytes)
            for name in order { try writer.write(store[name]!.data.bytes) }
            try writer.commit()
        }
    }
}
