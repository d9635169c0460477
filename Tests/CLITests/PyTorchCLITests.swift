// The `bertkit` binary on PyTorch checkpoints (issue 3): inspect and convert both ways, and the error
// contract on every hostile or broken file (exit 1, one `error:` line naming the file, under a second,
// nothing left behind).

import Testing
import Foundation
import TestSupport

@Suite struct PyTorchCLITests {
    static let readable = ["every_dtype.pt", "every_dtype_legacy.pt", "views.pt", "views_legacy.pt", "conj_neg.pt", "shared.pt",
                           "tiny_bert_mlm.bin", "tiny_bert_mlm_legacy.bin", "tiny_bert_4x/pytorch_model.bin", "nested_state_dict.pt",
                           "nested_model.pt", "mixed_values.pt", "parameters.pt", "many_entries.pt", "deflated.pt",
                           "minimal_records.pt", "big_endian.pt", "protocol4.pt", "old_names_legacy.bin"]

    func json(_ text: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
    }

    /// `inspect --json --checksum` lists what torch.load returned: names, dtypes, shapes and the CRC-32 of the bytes.
    @Test(arguments: readable)
    func inspectMatchesTorchBitForBit(_ fixture: String) throws {
        let result = try Bertkit.run(["inspect", "--json", "--checksum", Fixtures.path("pytorch/" + fixture)])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try json(result.stdout)
        let expected = try Fixtures.json("pytorch/\(fixture).expected.json") as! [String: Any]
        #expect(report["format"] as? String == "pytorch-" + (expected["container"] as! String))
        let wanted = (expected["tensors"] as! [[String: Any]]).map { entry in
            ["name": entry["name"]!, "dtype": entry["dtype"]!, "shape": entry["shape"]!, "crc32": entry["crc32"]!] as [String: Any]
        }
        #expect(NSArray(array: report["tensors"] as! [Any]).isEqual(to: wanted))
        #expect(report["metadata"] is NSNull)
        if let note = expected["note_contains"] as? String {
            #expect((report["notes"] as? [String] ?? []).contains { $0.contains(note) }, "\(report["notes"] ?? [])")
        }
    }

    @Test func inspectSaysWhichEntryHeldTheStateDict() throws {
        let result = try Bertkit.run(["inspect", Fixtures.path("pytorch/nested_state_dict.pt")])
        #expect(result.status == 0)
        #expect(result.stdout.contains("note: state dict taken from entry 'state_dict' of the checkpoint"))
        #expect(result.stdout.contains("pytorch-zip, 2 tensors"))
    }

    @Test func inspectReadsShardedPyTorchDirectoryAndIndex() throws {
        let expected = try Fixtures.json("pytorch/tiny_bert_4x_sharded.expected.json") as! [String: Any]
        for path in ["pytorch/tiny_bert_4x_sharded", "pytorch/tiny_bert_4x_sharded/pytorch_model.bin.index.json"] {
            let result = try Bertkit.run(["inspect", "--json", Fixtures.path(path)])
            #expect(result.status == 0, "\(result.stderr)")
            let names = (try json(result.stdout)["tensors"] as! [[String: Any]]).map { $0["name"] as! String }
            #expect(names == expected["tensors"] as! [String])
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let file: String, fragment: String
        var testDescription: String { file }
    }

    static let hostile: [Case] = ((try? Fixtures.json("pytorch/hostile/cases.json")) as? [[String: String]] ?? [])
        .map { Case(file: $0["file"]!, fragment: $0["error_contains"]!) }

    @Test(arguments: hostile)
    func hostileFilesFailCleanly(_ item: Case) throws {
        let input = Fixtures.path("pytorch/hostile/" + item.file)
        let folder = TemporaryDirectory()
        for arguments in [["inspect", input], ["convert", input, folder.file("out.safetensors")], ["convert", input, folder.file("out.bin")]] {
            let result = try Bertkit.run(arguments)
            #expect(result.status == 1, "\(arguments[0]) \(item.file): status \(result.status)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("error: ") && lines[0].contains(item.file), "\(result.stderr)")
            #expect(result.stderr.contains(item.fragment), "\(result.stderr)")
            #expect(result.stdout.isEmpty)
            #expect(result.seconds < 10, "\(arguments[0]) \(item.file) took \(result.seconds) s")   // wall clock on a shared machine: a hang or a bomb takes far longer
            #expect(folder.contents.isEmpty)
        }
    }

    /// To safetensors: Hugging Face's conventions — the tied decoder is dropped (the input embedding
    /// kept), metadata {"format": "pt"}.
    @Test func convertToSafetensorsDropsTiedDuplicates() throws {
        let folder = TemporaryDirectory()
        let out = folder.file("model.safetensors")
        let result = try Bertkit.run(["convert", Fixtures.path("pytorch/tiny_bert_mlm.bin"), out])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("'cls.predictions.decoder.weight' shares storage with 'bert.embeddings.word_embeddings.weight'"))
        let report = try json(try Bertkit.run(["inspect", "--json", "--checksum", out]).stdout)
        let names = (report["tensors"] as! [[String: Any]]).map { $0["name"] as! String }
        let source = (try Fixtures.json("pytorch/tiny_bert_mlm.bin.expected.json") as! [String: Any])["tensors"] as! [[String: Any]]
        #expect(names == source.map { $0["name"] as! String }.filter { !$0.hasPrefix("cls.predictions.decoder.") })
        #expect(report["metadata"] as? [String: String] == ["format": "pt"])
        let crcs = Dictionary(uniqueKeysWithValues: source.map { ($0["name"] as! String, $0["crc32"] as! String) })
        for entry in report["tensors"] as! [[String: Any]] { #expect(entry["crc32"] as? String == crcs[entry["name"] as! String]) }
    }

    /// Casting keeps ties: the decoder is still recognised as the embedding's alias afterwards.
    @Test func castingKeepsTiedWeightsTied() throws {
        let folder = TemporaryDirectory()
        let result = try Bertkit.run(["convert", Fixtures.path("pytorch/tiny_bert_mlm.bin"), folder.file("m.safetensors"), "--dtype", "bf16"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("'cls.predictions.decoder.weight' shares storage"))
        #expect(try Bertkit.run(["convert", Fixtures.path("pytorch/tiny_bert_mlm.bin"), folder.file("m.bin"), "--dtype", "f16"]).status == 0)
        let report = try json(try Bertkit.run(["inspect", "--json", folder.file("m.bin")]).stdout)
        let embedding = (report["tensors"] as! [[String: Any]]).first { $0["name"] as? String == "bert.embeddings.word_embeddings.weight" }
        #expect(embedding?["dtype"] as? String == "F16")
        // Written once as a shared storage, the pair reads back as aliases.
        let again = try Bertkit.run(["convert", folder.file("m.bin"), folder.file("again.safetensors")])
        #expect(again.stderr.contains("'cls.predictions.decoder.weight' shares storage with 'bert.embeddings.word_embeddings.weight'"))
    }

    /// safetensors → pytorch → safetensors gives back the very same file.
    @Test func safetensorsThroughPyTorchAndBackIsIdentical() throws {
        let folder = TemporaryDirectory()
        let source = Fixtures.path("safetensors/tiny_bert.safetensors")
        #expect(try Bertkit.run(["convert", source, folder.file("m.pt")]).status == 0)
        #expect(try Bertkit.run(["convert", folder.file("m.pt"), folder.file("back.safetensors")]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.file("back.safetensors"))) == (try Fixtures.data("safetensors/tiny_bert.safetensors")))
        #expect(folder.contents == ["back.safetensors", "m.pt"])
    }

    @Test func pytorchRewriteIsByteIdenticalToTorchSave() throws {
        let folder = TemporaryDirectory()
        let out = folder.file("pytorch_model.bin")
        let result = try Bertkit.run(["convert", Fixtures.path("pytorch/tiny_bert_4x/pytorch_model.bin"), out])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == (try Fixtures.data("pytorch/tiny_bert_4x/pytorch_model.bin")))
    }

    /// `--hf-names` renames exactly as transformers' legacy renamings do on load.
    @Test func hfNamesRenamesLikeTransformers() throws {
        let folder = TemporaryDirectory()
        let out = folder.file("model.safetensors")
        let result = try Bertkit.run(["convert", "--hf-names", Fixtures.path("pytorch/old_names_legacy.bin"), out])
        #expect(result.status == 0, "\(result.stderr)")
        let mapping = try Fixtures.json("pytorch/old_names_legacy.bin.hf_names.json") as! [String: String]
        let names = Set((try json(try Bertkit.run(["inspect", "--json", out]).stdout)["tensors"] as! [[String: Any]]).map { $0["name"] as! String })
        #expect(names == Set(mapping.values).subtracting(["cls.predictions.decoder.weight", "cls.predictions.decoder.bias"]))
        #expect(names.contains("bert.embeddings.LayerNorm.weight") && !names.contains { $0.contains("gamma") })
        let plain = try Bertkit.run(["convert", Fixtures.path("pytorch/old_names_legacy.bin"), folder.file("plain.safetensors")])
        #expect(plain.status == 0)
        #expect(try Bertkit.run(["inspect", folder.file("plain.safetensors")]).stdout.contains("LayerNorm.gamma"))
    }

    @Test func convertIntoDirectoryWritesPyTorchShards() throws {
        let folder = TemporaryDirectory()
        let result = try Bertkit.run(["convert", Fixtures.path("pytorch/tiny_bert_mlm.bin"), folder.path, "--to", "pytorch",
                                      "--max-shard-size", "20KB"])
        #expect(result.status == 0, "\(result.stderr)")
        let shards = folder.contents.filter { $0.hasSuffix(".bin") }
        #expect(folder.contents.contains("pytorch_model.bin.index.json"))
        #expect(shards.count >= 3 && shards.allSatisfy { $0.hasPrefix("pytorch_model-0000") && $0.contains("-of-0000\(shards.count)") })
        let back = try json(try Bertkit.run(["inspect", "--json", folder.path]).stdout)
        #expect((back["tensors"] as! [Any]).count == 44)
        #expect(back["format"] as? String == "pytorch-zip")
    }
}
