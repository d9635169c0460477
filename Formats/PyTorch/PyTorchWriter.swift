// Writes a `TensorStore` as the zip checkpoint `torch.save({name: tensor, …}, path)` writes (torch 2.15):
// same records in the same order, same pickle, same padding, same serialization id, so for contiguous
// tensors the output is byte-identical. Tensors whose bytes overlap in one buffer (tied weights, views
// read from a checkpoint) are written once, as one storage, exactly as torch saves shared storages.
// Data streams from the tensors' own buffers into an `AtomicFileWriter`: no second copy is held.

import Dispatch
import TensorCore

package enum PyTorchWriter {
    package static let fileName = "pytorch_model.bin"
    package static let indexFileName = "pytorch_model.bin.index.json"

    /// One storage to write: its bytes and the dtype torch records it with.
    struct Storage {
        var key: String
        var dtype: TorchDType
        var bytes: ByteView
    }

    /// The storages and the pickle describing every tensor, in store order.
    static func plan(_ store: TensorStore) throws(PyTorchError) -> (storages: [Storage], tensors: [PickledTensor]) {
        // Group non-empty tensors by buffer, and within a buffer into clusters of overlapping byte
        // ranges; a cluster of one dtype whose members sit on element boundaries becomes one storage.
        struct Member { var index: Int; var start: Int; var end: Int; var dtype: TorchDType }
        var dtypes: [TorchDType] = []
        var byBuffer: [ObjectIdentifier: [Member]] = [:]
        for (index, entry) in store.entries.enumerated() {
            guard let dtype = TorchDType(entry.tensor.dtype) else {
                throw .cannotWriteDType(tensor: entry.name, dtype: entry.tensor.dtype.rawValue)
            }
            dtypes.append(dtype)
            let data = entry.tensor.data
            if data.count > 0 {
                byBuffer[ObjectIdentifier(data.buffer), default: []].append(Member(index: index, start: data.offset, end: data.offset + data.count, dtype: dtype))
            }
        }
        // storageOf[tensor] = (cluster id, cluster start offset in the buffer)
        var storageOf = [(cluster: Int, start: Int)?](repeating: nil, count: store.count)
        var clusterCount = 0
        for (_, members) in byBuffer {
            let sorted = members.sorted { ($0.start, $0.end) < ($1.start, $1.end) }
            var i = 0
            while i < sorted.count {
                var j = i + 1
                var end = sorted[i].end
                while j < sorted.count && sorted[j].start < end { end = max(end, sorted[j].end); j += 1 }
                let group = sorted[i..<j]
                let start = sorted[i].start
                let uniform = group.allSatisfy { $0.dtype == sorted[i].dtype && ($0.start - start) % $0.dtype.elementSize == 0 }
                if uniform {
                    for member in group { storageOf[member.index] = (clusterCount, start) }
                    clusterCount += 1
                } else {
                    for member in group { storageOf[member.index] = (clusterCount, member.start); clusterCount += 1 }
                }
                i = j
            }
        }
        // Keys in order of first use, as `torch.serialization._save` numbers them while pickling.
        var keyOfCluster: [Int: Int] = [:]
        var storages: [Storage] = []
        var clusterExtent: [Int: (start: Int, end: Int)] = [:]
        for (index, entry) in store.entries.enumerated() {
            if let (cluster, start) = storageOf[index] {
                let end = entry.tensor.data.offset + entry.tensor.data.count
                clusterExtent[cluster] = (start, max(clusterExtent[cluster]?.end ?? end, end))
            }
        }
        var tensors: [PickledTensor] = []
        for (index, entry) in store.entries.enumerated() {
            let tensor = entry.tensor
            let dtype = dtypes[index]
            let storageIndex: Int
            var offsetBytes = 0
            if let (cluster, start) = storageOf[index] {
                if let known = keyOfCluster[cluster] {
                    storageIndex = known
                } else {
                    let extent = clusterExtent[cluster]!
                    storageIndex = storages.count
                    keyOfCluster[cluster] = storageIndex
                    storages.append(Storage(key: String(storageIndex), dtype: dtype,
                                            bytes: ByteView(buffer: tensor.data.buffer, offset: extent.start, count: extent.end - extent.start)))
                }
                offsetBytes = tensor.data.offset - start
            } else {
                storageIndex = storages.count   // an empty tensor gets its own empty storage, as in torch
                storages.append(Storage(key: String(storageIndex), dtype: dtype, bytes: ByteView(buffer: ByteBuffer(zeroedCount: 0))))
            }
            let storage = storages[storageIndex]
            let unit = dtype.storageClassName == nil ? 1 : dtype.elementSize
            tensors.append(PickledTensor(name: entry.name, dtype: dtype, storageKey: storage.key,
                                         storageElementCount: storage.bytes.count / unit,
                                         storageOffset: offsetBytes / dtype.elementSize,
                                         shape: tensor.shape, strides: contiguousStrides(tensor.shape)))
        }
        return (storages, tensors)
    }

    /// torch's contiguous strides: `stride[i] = stride[i+1] * max(size[i+1], 1)`.
    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for i in shape.indices.reversed() {
            strides[i] = step
            step *= max(shape[i], 1)
        }
        return strides
    }

    /// Writes `store` to `path` atomically. Errors carry the path. The zip's top folder is named after
    /// the file, as torch names it, unless `archiveName` says otherwise (a file staged under another name).
    package static func write(_ store: TensorStore, to path: String, archiveName: String? = nil) throws {
        try withFileContext(path) {
            let (storages, tensors) = try plan(store)
            let pickle = PickleWriter.stateDict(tensors)
            // CRC-32 of every storage first, on all cores; the write is then a plain stream.
            var crcs = [UInt32](repeating: 0, count: storages.count)
            crcs.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let out = out
                DispatchQueue.concurrentPerform(iterations: storages.count) { i in out[i] = CRC32.checksum(storages[i].bytes.bytes) }
            }
            let output = try AtomicFileWriter(destination: path)
            let archive = TorchZipWriter(output: output, archiveName: archiveName ?? TorchZipWriter.archiveName(forPath: path))
            try archive.addRecord("data.pkl", bytes: pickle)
            try archive.addRecord(".format_version", "1")
            try archive.addRecord(".storage_alignment", String(TorchZipWriter.alignment))
            try archive.addRecord("byteorder", "little")
            for (storage, crc) in zip(storages, crcs) { try archive.addRecord("data/" + storage.key, storage.bytes.bytes, crc: crc) }
            try archive.finish()
            try output.commit()
        }
    }

    /// Writes `store` into `directory` as `pytorch_model.bin`, or, when it does not fit in
    /// `maxShardSize`, as `pytorch_model-0000k-of-0000N.bin` plus `pytorch_model.bin.index.json`
    /// (the transformers 4.x layout). Returns the file names written.
    @discardableResult
    package static func writeSharded(_ store: TensorStore, directory: String, stem: String = "pytorch_model",
                                    maxShardSize: Int) throws -> [String] {
        let shards = ShardIndex.split(store, maxShardSize: maxShardSize)
        if shards.count == 1 {
            try write(store, to: directory + "/\(stem).bin")
            return ["\(stem).bin"]
        }
        return try ShardIndex.writeShards(store, shards, directory: directory, stem: stem, fileExtension: "bin") { shard, path, name in
            try write(shard, to: path, archiveName: TorchZipWriter.archiveName(forPath: name))
        }
    }
}
