// Sharded safetensors checkpoints: `model-00001-of-0000N.safetensors` + `model.safetensors.index.json`
// (Docs/specs/safetensors.md §7). Splitting and the index file are format-neutral (`ShardIndex`).

import TensorCore

package enum ShardedSafetensors {
    package static let indexFileName = "model.safetensors.index.json"

    /// Writes `store` into `directory` as `model.safetensors`, or, when it does not fit in
    /// `maxShardSize`, as shards plus the index. Returns the file names written.
    @discardableResult
    package static func write(_ store: TensorStore, directory: String, stem: String = "model", maxShardSize: Int,
                             metadata: [String: String]? = SafetensorsWriter.defaultMetadata) throws -> [String] {
        let shards = ShardIndex.split(store, maxShardSize: maxShardSize)
        if shards.count == 1 {
            try SafetensorsWriter.write(store, to: directory + "/\(stem).safetensors", metadata: metadata)
            return ["\(stem).safetensors"]
        }
        return try ShardIndex.writeShards(store, shards, directory: directory, stem: stem, fileExtension: "safetensors") { shard, path, _ in
            try SafetensorsWriter.write(shard, to: path, metadata: metadata)
        }
    }

    /// Reads every tensor the index names from its shard.
    package static func read(indexPath: String) throws -> TensorStore {
        try ShardIndex.read(indexPath: indexPath) { try SafetensorsReader.read(path: $0) }
    }
}
