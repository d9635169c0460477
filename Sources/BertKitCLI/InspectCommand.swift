// `bertkit inspect PATH [--json]`: what a checkpoint holds.

import ArgumentParser
import BertKitInternals

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List the tensors of a checkpoint file or model directory.")

    @Argument(help: "A checkpoint file (format told from its content) or a model directory.")
    var path: String

    @Flag(help: "Print one JSON object: format, tensors sorted by name, metadata.")
    var json = false

    @Flag(help: "Read every tensor's bytes and print its CRC-32 (proves two files hold identical data).")
    var checksum = false

    func run() throws {
        let loaded = try CheckpointReader.load(path: path)
        let entries = loaded.store.entries.sorted { $0.name.unicodeScalars.lexicographicallyPrecedes($1.name.unicodeScalars) }
        let crcs = checksum ? CRC32.checksums(of: entries.map(\.tensor)).map(CRC32.hex) : []
        if json {
            var object = JSONObject()
            object.set("format", .string(loaded.format.rawValue))
            object.set("tensors", .array(entries.enumerated().map { index, entry in
                var fields: [(key: String, value: JSONValue)] = [("name", .string(entry.name)),
                                                                 ("dtype", .string(entry.tensor.dtype.rawValue)),
                                                                 ("shape", .array(entry.tensor.shape.map { .int($0) }))]
                if checksum { fields.append(("crc32", .string(crcs[index]))) }
                return .object(JSONObject(fields))
            }))
            let metadata = loaded.store.metadata.sorted { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) }
            object.set("metadata", loaded.hasMetadata ? .object(JSONObject(metadata.map { ($0.key, .string($0.value)) })) : .null)
            if !loaded.notes.isEmpty { object.set("notes", .array(loaded.notes.map { .string($0) })) }
            Console.out(JSONWriter.pretty(.object(object), sortKeys: false, ensureASCII: false))
            return
        }
        var rows = [["name", "dtype", "shape", "bytes"] + (checksum ? ["crc32"] : [])]
        for (index, (name, tensor)) in entries.enumerated() {
            rows.append([name, tensor.dtype.rawValue, Shape.describe(tensor.shape), String(tensor.byteCount)]
                        + (checksum ? [crcs[index]] : []))
        }
        Console.out("\(path): \(loaded.format.rawValue), \(loaded.store.count) tensors")
        for note in loaded.notes { Console.out("note: \(note)") }
        if !loaded.store.metadata.isEmpty {
            for (key, value) in loaded.store.metadata.sorted(by: { $0.key < $1.key }) {
                Console.out("metadata \(key): \(value.contains(where: { $0.isNewline || $0 == "\t" }) ? JSONWriter.quote(value) : value)")
            }
        }
        Console.out(Console.table(rows, rightAligned: [3]))
        Console.out("total: \(loaded.store.count) tensors, \(loaded.store.totalElementCount) elements, "
                    + "\(loaded.store.totalByteCount) bytes (\(Console.humanBytes(loaded.store.totalByteCount)))")
    }
}
