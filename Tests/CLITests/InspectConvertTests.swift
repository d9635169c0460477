// The `bertkit` binary end to end: inspect, convert, and its error contract (exit 1, one `error:` line,
// no output file left behind, under a second).

import Testing
import Foundation
import Safetensors
import TestSupport

@Suite struct InspectConvertTests {
    @Test(arguments: ["tiny_bert.safetensors", "every_dtype.safetensors", "scalar_and_empty.safetensors",
                      "unicode_metadata.safetensors", "no_tensors.safetensors", "tiny_bert_bf16.safetensors"])
    func inspectJSONMatchesSafeOpen(_ fixture: String) throws {
        let result = try Bertkit.run(["inspect", "--json", Fixtures.path("safetensors/" + fixture)])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        let expected = try Fixtures.json("safetensors/\(fixture).expected.json") as! [String: Any]
        #expect(json["format"] as? String == "safetensors")
        #expect(NSArray(array: json["tensors"] as! [Any]).isEqual(to: expected["tensors"] as! [Any]))
        if let metadata = expected["metadata"] as? [String: String] {
            #expect(json["metadata"] as? [String: String] == metadata)
        } else {
            #expect(json["metadata"] is NSNull)
        }
    }

    @Test func inspectHumanTableHasTotals() throws {
        let result = try Bertkit.run(["inspect", Fixtures.path("safetensors/tiny_bert.safetensors")])
        #expect(result.status == 0)
        let row = result.stdout.split(separator: "\n").first { $0.hasPrefix("bert.embeddings.word_embeddings.weight ") }
        #expect(row.map { $0.split(separator: " ", omittingEmptySubsequences: true) }
                == ["bert.embeddings.word_embeddings.weight", "F32", "[99,", "32]", "12672"])
        #expect(result.stdout.contains("total: 41 tensors"))
    }

    @Test func inspectReadsShardedDirectoryAndIndex() throws {
        for path in ["safetensors/tiny_bert_sharded", "safetensors/tiny_bert_sharded/model.safetensors.index.json"] {
            let result = try Bertkit.run(["inspect", "--json", Fixtures.path(path)])
            #expect(result.status == 0, "\(result.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
            #expect((json["tensors"] as! [Any]).count == 41)
        }
    }

    @Test(arguments: [("bf16", "tiny_bert_bf16.safetensors"), ("f16", "tiny_bert_f16.safetensors")])
    func convertDtypeIsByteIdenticalToReference(_ dtype: String, _ fixture: String) throws {
        let folder = TemporaryDirectory()
        let out = folder.file("b.safetensors")
        let result = try Bertkit.run(["convert", Fixtures.path("safetensors/tiny_bert.safetensors"), out, "--dtype", dtype])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == (try Fixtures.data("safetensors/" + fixture)))
        #expect(folder.contents == ["b.safetensors"])
    }

    @Test func convertIntoDirectoryWithShards() throws {
        let folder = TemporaryDirectory()
        let result = try Bertkit.run(["convert", Fixtures.path("safetensors/tiny_bert.safetensors"), folder.path,
                                      "--max-shard-size", "30KB"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(folder.contents.contains("model.safetensors.index.json"))
        let shards = folder.contents.filter { $0.hasSuffix(".safetensors") }
        #expect(shards.count >= 3 && shards.allSatisfy { $0.hasPrefix("model-0000") && $0.contains("-of-0000\(shards.count)") })
        let back = try Bertkit.run(["inspect", "--json", folder.path])
        #expect(back.status == 0)
        #expect(back.stdout.contains("bert.pooler.dense.weight"))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let file: String, fragment: String
        var testDescription: String { file }
    }

    static let malformed: [Case] = ((try? Fixtures.json("safetensors/malformed/cases.json")) as? [[String: String]] ?? [])
        .map { Case(file: $0["file"]!, fragment: $0["error_contains"]!) }

    @Test(arguments: malformed)
    func malformedFilesFailCleanly(_ item: Case) throws {
        let input = Fixtures.path("safetensors/malformed/" + item.file)
        let folder = TemporaryDirectory()
        for arguments in [["inspect", input], ["convert", input, folder.file("out.safetensors")]] {
            let result = try Bertkit.run(arguments)
            #expect(result.status == 1, "\(arguments[0]) \(item.file): status \(result.status)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("error: ") && lines[0].contains(item.file), "\(result.stderr)")
            #expect(result.stderr.contains(item.fragment), "\(result.stderr)")
            #expect(result.seconds < 10, "\(arguments[0]) \(item.file) took \(result.seconds) s")   // wall clock on a shared machine: a hang or a bomb takes far longer
            #expect(folder.contents.isEmpty)
        }
    }

    @Test func missingAndUnknownInputs() throws {
        let missing = try Bertkit.run(["inspect", "/nonexistent/model.safetensors"])
        #expect(missing.status == 1 && missing.stderr.hasPrefix("error: /nonexistent/model.safetensors: cannot open"))
        let folder = TemporaryDirectory()
        try "hello, world, this is text".write(toFile: folder.file("notes.txt"), atomically: true, encoding: .utf8)
        let text = try Bertkit.run(["inspect", folder.file("notes.txt")])
        #expect(text.status == 1 && text.stderr.hasPrefix("error: "), "\(text.stderr)")
        let empty = try Bertkit.run(["inspect", folder.path])
        #expect(empty.status == 1 && empty.stderr.contains("no weights"), "\(empty.stderr)")
    }

    @Test func unwritableOutputFailsWithoutLeftovers() throws {
        let result = try Bertkit.run(["convert", Fixtures.path("safetensors/tiny_bert.safetensors"), "/nonexistent-dir/out.safetensors"])
        #expect(result.status == 1 && result.stderr.hasPrefix("error: "), "\(result.stderr)")
    }
}

/// `convert IN out/`: a folder that does not exist yet is made, as `save_pretrained` makes it, and gets Hugging Face
/// file names; a failed conversion leaves no folder behind.
@Suite struct ConvertIntoNewFolderTests {
    @Test func trailingSlashMakesTheFolder() throws {
        let folder = TemporaryDirectory()
        let sharded = folder.file("sharded") + "/"
        let result = try Bertkit.run(["convert", Fixtures.path("safetensors/tiny_bert.safetensors"), sharded, "--max-shard-size", "30KB"])
        #expect(result.status == 0, "\(result.stderr)")
        let shards = (try FileManager.default.contentsOfDirectory(atPath: folder.file("sharded"))).sorted()
        #expect(shards.contains("model.safetensors.index.json") && shards.filter { $0.hasPrefix("model-0000") }.count >= 2, "\(shards)")
        #expect(!result.stderr.contains("//"), "\(result.stderr)")
        let single = try Bertkit.run(["convert", Fixtures.path("safetensors/tiny_bert.safetensors"), folder.file("torch") + "/", "--to", "pytorch"])
        #expect(single.status == 0, "\(single.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.file("torch")) == ["pytorch_model.bin"])

        // HDF5 cannot name an attribute "": writing the metadata fails after the folder was made.
        let odd = folder.file("odd.safetensors")
        try SafetensorsWriter.write(try SafetensorsReader.read(path: Fixtures.path("safetensors/tiny_bert.safetensors")), to: odd,
                                    metadata: ["": "no name"])
        let failed = try Bertkit.run(["convert", odd, folder.file("failed") + "/", "--to", "hdf5", "--layout", "plain", "--keep-metadata"])
        #expect(failed.status == 1 && failed.stderr.hasPrefix("error: "), "\(failed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("failed")), "\(folder.contents)")
    }
}
