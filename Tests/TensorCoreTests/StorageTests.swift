// Dtypes, tensors, the store and atomic files.

import Testing
import Foundation
import TensorCore
import TestSupport

@Suite struct StorageTests {
    @Test func dtypeSizesAndSafetensorsOrder() {
        #expect(DType.allCases.first == .bool && DType.allCases.last == .u64)
        #expect(DType.f32.byteCount(of: [2, 3]) == 24)
        #expect(DType.f4.byteCount(of: [3]) == nil)
        #expect(DType.f4.byteCount(of: [4]) == 2)
        #expect(DType.f32.byteCount(of: []) == 4)
        #expect(DType.f32.byteCount(of: [0, 5]) == 0)
        #expect(DType.f64.byteCount(of: [Int.max / 2, 3]) == nil)
        #expect(DType.bf16.safetensorsRank > DType.f16.safetensorsRank)
    }

    @Test func storeKeepsInsertionOrderAndRenamesInPlace() {
        var store = TensorStore()
        store["b"] = Tensor(float32: [1], shape: [1])
        store["a"] = Tensor(float32: [2], shape: [1])
        store["c"] = Tensor(float32: [3], shape: [1])
        #expect(store.names == ["b", "a", "c"])
        let renamed = store.rename("a", to: "z")
        #expect(renamed)
        #expect(store.names == ["b", "z", "c"])
        let clash = store.rename("b", to: "c")
        #expect(!clash)
        store["b"] = nil
        #expect(store.names == ["z", "c"])
        #expect(store.totalByteCount == 8)
    }

    @Test func sharedStorageIsDetected() {
        let buffer = ByteBuffer(zeroedCount: 16)
        let a = ByteView(buffer: buffer, offset: 0, count: 8)
        let b = ByteView(buffer: buffer, offset: 0, count: 8)
        let c = ByteView(buffer: buffer, offset: 4, count: 8)
        #expect(a.isSameStorage(as: b))
        #expect(!a.isSameStorage(as: c) && a.overlaps(c))
    }

    @Test func atomicWriterLeavesNothingBehindWhenAbandoned() throws {
        let folder = TemporaryDirectory()
        let target = folder.file("out.bin")
        do {
            let writer = try AtomicFileWriter(destination: target)
            try writer.write([1, 2, 3])
            writer.abandon()
        }
        #expect(folder.contents.isEmpty)
        do {
            let writer = try AtomicFileWriter(destination: target)
            try writer.write([4, 5])
            // dropped without commit
            _ = writer
        }
        #expect(folder.contents.isEmpty)
        try AtomicFileWriter.write([9, 9], to: target)
        #expect(folder.contents == ["out.bin"])
        #expect(try readFileBytes(target) == [9, 9])
    }

    @Test func atomicWriterStreamsLargeWritesAndReplacesTarget() throws {
        let folder = TemporaryDirectory()
        let target = folder.file("big.bin")
        try AtomicFileWriter.write([1], to: target)
        let writer = try AtomicFileWriter(destination: target)
        let chunk = [UInt8](repeating: 7, count: 3 << 19)
        for _ in 0..<3 { try writer.write(chunk) }
        try writer.write([8])
        try writer.commit()
        let bytes = try readFileBytes(target)
        #expect(bytes.count == 3 * chunk.count + 1 && bytes.last == 8 && bytes.first == 7)
        #expect(folder.contents == ["big.bin"])
    }

    @Test func writerInMissingFolderFailsCleanly() {
        #expect(throws: SystemError.self) { try AtomicFileWriter(destination: "/nonexistent-folder/x.bin") }
    }

    @Test func shardSizesParseLikeHuggingfaceHub() throws {
        #expect(try ShardIndex.parseSize("5GB") == 5_000_000_000)
        #expect(try ShardIndex.parseSize("20KB") == 20_000)
        #expect(try ShardIndex.parseSize("1.5mb") == 1_500_000)
        #expect(try ShardIndex.parseSize("1234") == 1234)
        #expect(throws: ShardIndexError.self) { try ShardIndex.parseSize("5GiB") }
        #expect(throws: ShardIndexError.self) { try ShardIndex.parseSize("-1KB") }
    }
}
