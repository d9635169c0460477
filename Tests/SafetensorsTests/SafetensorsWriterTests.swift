// Writing: byte-identical to the reference writer, atomic, and sharded.

import Testing
import Foundation
import TensorCore
import Safetensors
import TestSupport

@Suite struct SafetensorsWriterTests {
    func read(_ fixture: String) throws -> TensorStore {
        try SafetensorsReader.read(path: Fixtures.path("safetensors/" + fixture))
    }

    /// Files whose metadata has at most one key (the reference orders several keys randomly).
    @Test(arguments: [("tiny_bert.safetensors", true), ("tiny_bert_f16.safetensors", true),
                      ("every_dtype.safetensors", true), ("scalar_and_empty.safetensors", false),
                      ("no_tensors.safetensors", true)])
    func rewriteIsByteIdentical(_ fixture: String, _ hasMetadata: Bool) throws {
        let store = try read(fixture)
        let folder = TemporaryDirectory()
        try SafetensorsWriter.write(store, to: folder.file("out.safetensors"), metadata: hasMetadata ? store.metadata : nil)
        let written = try Data(contentsOf: URL(fileURLWithPath: folder.file("out.safetensors")))
        #expect(written == (try Fixtures.data("safetensors/" + fixture)))
    }

    @Test func castToHalfTypesMatchesReferenceSaveFile() throws {
        let store = try read("tiny_bert.safetensors")
        let folder = TemporaryDirectory()
        for (dtype, fixture) in [(DType.bf16, "tiny_bert_bf16.safetensors"), (.f16, "tiny_bert_f16.safetensors")] {
            var cast = TensorStore()
            for (name, tensor) in store.entries { cast[name] = tensor.converted(to: dtype)! }
            let out = folder.file("\(dtype.rawValue).safetensors")
            try SafetensorsWriter.write(cast, to: out)
            #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == (try Fixtures.data("safetensors/" + fixture)))
        }
    }

    @Test func headerOrderIsDtypeDescendingThenNameBytes() throws {
        let store = try read("unicode_metadata.safetensors")
        #expect(SafetensorsWriter.dataOrder(store) == ["B", "a10", "a9", "b", "é"])
        let (bytes, _) = try SafetensorsWriter.header(for: try read("every_dtype.safetensors"), metadata: nil)
        #expect(bytes.count % 8 == 0)
        let original = try read("unicode_metadata.safetensors")
        let folder = TemporaryDirectory()
        try SafetensorsWriter.write(original, to: folder.file("u.safetensors"), metadata: original.metadata)
        let back = try SafetensorsReader.read(path: folder.file("u.safetensors"))
        #expect(back.metadata == original.metadata)
    }

    @Test func roundTripPropertyOverRandomStores() throws {
        var generator = SplitMix64(seed: 11)
        let folder = TemporaryDirectory()
        for round in 0..<50 {
            var store = TensorStore()
            for index in 0..<Int(generator.next() % 6) {
                let dtype = DType.allCases.filter { $0.byteWidth != nil }.randomElement(using: &generator)!
                let shape = (0..<Int(generator.next() % 3)).map { _ in Int(generator.next() % 4) }
                let count = dtype.byteCount(of: shape)!
                let bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                store["t\(index)_\(round)"] = bytes.withUnsafeBytes { Tensor(dtype: dtype, shape: shape, copying: $0) }
            }
            let path = folder.file("r\(round).safetensors")
            try SafetensorsWriter.write(store, to: path)
            let back = try SafetensorsReader.read(path: path)
            #expect(Set(back.names) == Set(store.names))
            for (name, tensor) in store.entries { #expect(back[name]!.isBitwiseEqual(to: tensor)) }
            #expect(back.metadata == ["format": "pt"])
        }
    }

    @Test func failedWriteLeavesNoFile() throws {
        let folder = TemporaryDirectory()
        let blocked = folder.file("blocked")
        try FileManager.default.createDirectory(atPath: blocked, withIntermediateDirectories: false)
        // Renaming a file onto a non-empty directory fails after all data was written.
        try "x".write(toFile: blocked + "/keep", atomically: false, encoding: .utf8)
        #expect(throws: FileError.self) { try SafetensorsWriter.write(try read("tiny_bert.safetensors"), to: blocked) }
        #expect(folder.contents == ["blocked"])
    }

    @Test func shardedWriteSplitsLikeHuggingfaceAndReadsBack() throws {
        let store = try read("tiny_bert.safetensors")
        let folder = TemporaryDirectory()
        let files = try ShardedSafetensors.write(store, directory: folder.path, maxShardSize: 20_000)
        #expect(files.last == "model.safetensors.index.json")
        #expect(files.first == "model-00001-of-0000\(files.count - 1).safetensors")
        let back = try ShardedSafetensors.read(indexPath: folder.file("model.safetensors.index.json"))
        for (name, tensor) in store.entries { #expect(back[name]!.isBitwiseEqual(to: tensor)) }
        for file in files.dropLast() {
            let size = try FileManager.default.attributesOfItem(atPath: folder.file(file))[.size] as! Int
            let shard = try SafetensorsReader.read(path: folder.file(file))
            #expect(shard.totalByteCount <= 20_000 || shard.count == 1, "\(file): \(size)")
        }
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder.file(files.last!)))) as! [String: Any]
        let metadata = index["metadata"] as! [String: Int]
        #expect(metadata["total_size"] == store.totalByteCount)
        #expect(metadata["total_parameters"] == store.totalElementCount)
    }

    /// A shard that fails part-way leaves none of the shards before it behind, and no index.
    @Test func failedShardLeavesNoShardsBehind() throws {
        let store = try read("tiny_bert.safetensors")
        let folder = TemporaryDirectory()
        struct DiskFull: Error {}
        var calls = 0
        let error = #expect(throws: FileError.self) {
            try ShardIndex.writeShards(store, ShardIndex.split(store, maxShardSize: 20_000), directory: folder.path, stem: "model",
                                       fileExtension: "safetensors") { shard, path, _ in
                calls += 1
                if calls == 3 { throw FileError(path: path, cause: DiskFull()) }
                try SafetensorsWriter.write(shard, to: path)
            }
        }
        #expect(calls == 3)
        #expect(error?.path.hasPrefix(folder.path + "/model-00003-of-") == true, "\(String(describing: error))")
        #expect(folder.contents == [])
    }

    @Test func shardSplitFollowsHuggingfaceRule() {
        // Sizes 6, 6, 2, 6, 2, 2 with limit 10 → [6], [6, 2], [6, 2, 2] (huggingface_hub's docstring example).
        var store = TensorStore()
        for (i, n) in [6, 6, 2, 6, 2, 2].enumerated() {
            store["t\(i)"] = Tensor(dtype: .u8, shape: [n], data: ByteView(buffer: ByteBuffer(zeroedCount: n)))
        }
        #expect(ShardIndex.split(store, maxShardSize: 10) == [["t0"], ["t1", "t2"], ["t3", "t4", "t5"]])
    }
}
