// `bertkit inspect PATH [--json]`: what a checkpoint holds.

import ArgumentParser
import BertKit
import TensorCore   // printing only: JSONWriter, Shape.describe

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
        let checkpoint = try Checkpoint(contentsOf: path, checksums: checksum)
        let tensors = checkpoint.tensors
        if json {
            var object = JSONObject()
            object.set("format", .string(checkpoint.format.rawValue))
            object.set("tensors", .array(tensors.map { tensor in
                var fields: [(key: String, value: JSONValue)] = [("name", .string(tensor.name)), ("dtype", .string(tensor.dtype)),
                                                                 ("shape", .array(tensor.shape.map { .int($0) }))]
                if let crc32 = tensor.crc32 { fields.append(("crc32", .string(crc32))) }
                return .object(JSONObject(fields))
            }))
            let metadata = checkpoint.metadata?.sorted { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) }
            object.set("metadata", metadata.map { .object(JSONObject($0.map { ($0.key, .string($0.value)) })) } ?? .null)
            if !checkpoint.notes.isEmpty { object.set("notes", .array(checkpoint.notes.map { .string($0) })) }
            Console.out(JSONWriter.pretty(.object(object), sortKeys: false, ensureASCII: false))
            return
        }
        var rows = [["name", "dtype", "shape", "bytes"] + (checksum ? ["crc32"] : [])]
        for tensor in tensors {
            rows.append([tensor.name, tensor.dtype, Shape.describe(tensor.shape), String(tensor.byteCount)] + (tensor.crc32.map { [$0] } ?? []))
        }
        Console.out("\(path): \(checkpoint.format.rawValue), \(tensors.count) tensors")
        for note in checkpoint.notes { Console.out("note: \(note)") }
        for (key, value) in (checkpoint.metadata ?? [:]).sorted(by: { $0.key < $1.key }) {
            Console.out("metadata \(key): \(value.contains(where: { $0.isNewline || $0 == "\t" }) ? JSONWriter.quote(value) : value)")
        }
        let bytes = tensors.reduce(0) { $0 + $1.byteCount }
        Console.out(Console.table(rows, rightAligned: [3]))
        Console.out("total: \(tensors.count) tensors, \(tensors.reduce(0) { $0 + $1.elementCount }) elements, "
                    + "\(bytes) bytes (\(Console.humanBytes(bytes)))")
    }
}
