// The zip layer, reachable from the rest of this package (the fuzz harness in Tests/Fuzz) without becoming public API:
// a checkpoint archive written exactly as `PyTorchWriter` writes one, and one record read back through the same
// `ZipArchive` the reader uses — so the harness carries no zip code of its own.

import TensorCore

package enum TorchArchive {
    /// Writes `records` (names relative to the archive folder, e.g. `data.pkl`, `data/0`) under the folder
    /// `archiveName`, as torch's `PyTorchStreamWriter` lays them out (TorchZipWriter.swift), followed by the `version`
    /// and serialization-id records every torch archive ends with. Not synced to disk: for scratch files.
    package static func write(_ records: [(name: String, bytes: [UInt8])], archiveName: String = "archive",
                              to path: String) throws(SystemError) {
        let output = try AtomicFileWriter(destination: path, durable: false)
        let zip = TorchZipWriter(output: output, archiveName: archiveName)
        for record in records { try zip.addRecord(record.name, bytes: record.bytes) }
        try zip.finish()
        try output.commit()
    }

    /// The bytes of the first stored or deflated record whose name ends with `suffix`, or nil when `file` is not a zip
    /// this reader accepts or has no such record.
    package static func record(endingWith suffix: String, in file: [UInt8]) -> [UInt8]? {
        guard let archive = try? ZipArchive(buffer: ByteBuffer(copying: file)),
              let entry = archive.entries.first(where: { $0.name.hasSuffix(suffix) }),
              let view = try? archive.contents(of: entry) else { return nil }
        return Array(view.bytes)
    }
}
