// Writing: byte-identical to `torch.save` of the same plain dict, shared storages written once,
// atomic, sharded, and a round trip that keeps every bit and every tie.

import Testing
import Foundation
import TensorCore
import PyTorch
import TestSupport

@Suite struct PyTorchWriterTests {
    /// Plain dicts of contiguous tensors saved by torch: reading and rewriting under the same file name
    /// (torch names the archive folder after it) reproduces the file byte for byte, serialization id included.
    @Test(arguments: ["tiny_bert_4x/pytorch_model.bin", "every_dtype.pt", "single.pt", "many_entries.pt"])
    func rewriteIsByteIdenticalToTorchSave(_ fixture: String) throws {
        let store = try PyTorchReader.read(path: Fixtures.path("pytorch/" + fixture)).store
        let folder = TemporaryDirectory()
        let out = folder.file(String(fixture.split(separator: "/").last!))
        try PyTorchWriter.write(store, to: out)
        let written = try Data(contentsOf: URL(fileURLWithPath: out))
        let original = try Fixtures.data("pytorch/" + fixture)
        #expect(written.count == original.count)
        if let index = zip(written, original).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            Issue.record("\(fixture): first difference at byte \(index) of \(original.count)")
        }
    }

    @Test func shardsAreByteIdenticalToTransformers4x() throws {
        let folder = Fixtures.path("pytorch/tiny_bert_4x_sharded")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".bin") }
        #expect(files.count >= 3)
        let out = TemporaryDirectory()
        for file in files {
            let store = try PyTorchReader.read(path: folder + "/" + file).store
            try PyTorchWriter.write(store, to: out.file(file))
            #expect(try Data(contentsOf: URL(fileURLWithPath: out.file(file))) == (try Data(contentsOf: URL(fileURLWithPath: folder + "/" + file))), "\(file)")
        }
    }

    @Test func tiedWeightsAreWrittenOnceAsOneStorage() throws {
        let store = try PyTorchReader.read(path: Fixtures.path("pytorch/tiny_bert_mlm.bin")).store
        let folder = TemporaryDirectory()
        try PyTorchWriter.write(store, to: folder.file("m.bin"))
        let back = try PyTorchReader.read(path: folder.file("m.bin")).store
        #expect(back["cls.predictions.decoder.weight"]!.data.isSameStorage(as: back["bert.embeddings.word_embeddings.weight"]!.data))
        #expect(back["cls.predictions.decoder.bias"]!.data.isSameStorage(as: back["cls.predictions.bias"]!.data))
        let size = try FileManager.default.attributesOfItem(atPath: folder.file("m.bin"))[.size] as! Int
        #expect(size < store.totalByteCount, "the tied decoder was written twice")
        for (name, tensor) in store.entries { #expect(back[name]!.isBitwiseEqual(to: tensor), "\(name)") }
    }

    /// Views read from a checkpoint (a row inside a matrix) go back as one storage with an offset.
    @Test func overlappingViewsShareOneStorage() throws {
        let store = try PyTorchReader.read(path: Fixtures.path("pytorch/shared.pt")).store
        let folder = TemporaryDirectory()
        try PyTorchWriter.write(store, to: folder.file("s.pt"))
        let back = try PyTorchReader.read(path: folder.file("s.pt")).store
        #expect(back["tail"]!.data.buffer === back["a"]!.data.buffer)
        #expect(back["tail"]!.data.offset == back["a"]!.data.offset + 12)
        #expect(back["flat"]!.data.isSameStorage(as: back["a"]!.data))
        for (name, tensor) in store.entries { #expect(back[name]!.isBitwiseEqual(to: tensor), "\(name)") }
    }

    @Test func roundTripPropertyOverRandomStores() throws {
        let writable = DType.allCases.filter { $0.byteWidth != nil }
        var generator = SplitMix64(seed: 23)
        let folder = TemporaryDirectory()
        for round in 0..<60 {
            var store = TensorStore()
            var ties: [(String, String)] = []
            for index in 0..<Int(generator.next() % 7) {
                let dtype = writable.randomElement(using: &generator)!
                let shape = (0..<Int(generator.next() % 4)).map { _ in Int(generator.next() % 4) }
                let count = dtype.byteCount(of: shape)!
                let bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                let name = "t\(index).\(round)"
                let tensor = bytes.withUnsafeBytes { Tensor(dtype: dtype, shape: shape, copying: $0) }
                store[name] = tensor
                if count > 0 && generator.next() % 3 == 0 {   // a tied alias
                    store[name + ".tied"] = tensor
                    ties.append((name, name + ".tied"))
                }
            }
            let path = folder.file("r\(round).bin")
            try PyTorchWriter.write(store, to: path)
            let back = try PyTorchReader.read(path: path).store
            #expect(back.names == store.names)
            for (name, tensor) in store.entries { #expect(back[name]!.isBitwiseEqual(to: tensor), "\(name)") }
            for (a, b) in ties { #expect(back[a]!.data.isSameStorage(as: back[b]!.data)) }
        }
    }

    @Test func packedDTypesAreRefused() throws {
        let store = TensorStore([("w", Tensor(dtype: .f4, shape: [2], data: ByteView(buffer: ByteBuffer(zeroedCount: 1))))])
        let folder = TemporaryDirectory()
        #expect { try PyTorchWriter.write(store, to: folder.file("x.bin")) } throws: { "\($0)".contains("tensor 'w' is F4") }
        #expect(folder.contents.isEmpty)
    }

    @Test func failedWriteLeavesNoFile() throws {
        let folder = TemporaryDirectory()
        let blocked = folder.file("blocked.bin")
        try FileManager.default.createDirectory(atPath: blocked, withIntermediateDirectories: false)
        try "x".write(toFile: blocked + "/keep", atomically: false, encoding: .utf8)
        let store = try PyTorchReader.read(path: Fixtures.path("pytorch/single.pt")).store
        #expect(throws: FileError.self) { try PyTorchWriter.write(store, to: blocked) }
        #expect(folder.contents == ["blocked.bin"])
    }

    @Test func shardedWriteMatchesTheHuggingFaceLayout() throws {
        let store = try PyTorchReader.read(path: Fixtures.path("pytorch/tiny_bert_mlm.bin")).store
        let folder = TemporaryDirectory()
        let files = try PyTorchWriter.writeSharded(store, directory: folder.path, maxShardSize: 20_000)
        #expect(files.last == "pytorch_model.bin.index.json")
        #expect(files.dropLast().allSatisfy { $0.hasPrefix("pytorch_model-0000") && $0.hasSuffix("-of-0000\(files.count - 1).bin") })
        let map = try ShardIndex.readWeightMap(indexPath: folder.file("pytorch_model.bin.index.json"))
        #expect(Set(map.map(\.name)) == Set(store.names))
        for file in files.dropLast() {
            let shard = try PyTorchReader.read(path: folder.file(file)).store
            for (name, tensor) in shard.entries { #expect(tensor.isBitwiseEqual(to: store[name]!), "\(name)") }
        }
    }
}
