// The format-neutral half of sharded checkpoints (Hugging Face convention, Docs/specs/safetensors.md
// §7): splitting a state dict into shards as huggingface_hub's `split_state_dict_into_shards_factory`
// does, shard file names, and the `*.index.json` file with its `weight_map`. The same index scheme
// serves `model.safetensors.index.json` and `pytorch_model.bin.index.json`.

package enum ShardIndexError: Error, CustomStringConvertible {
    case invalidIndex(String)
    case shardMissingTensor(tensor: String, shard: String)
    case invalidShardSize(String)

    package var description: String {
        switch self {
        case .invalidIndex(let reason): return "invalid index: \(reason)"
        case .shardMissingTensor(let tensor, let shard):
            return "the index puts tensor '\(tensor)' in \(shard), but that shard does not hold it"
        case .invalidShardSize(let text):
            return "invalid shard size '\(text)': use a number of bytes or a number with KB, MB, GB or TB"
        }
    }
}

package enum ShardIndex {
    /// "5GB" → 5_000_000_000 (decimal units, as huggingface_hub's `parse_size_to_int`); a bare number is bytes.
    package static func parseSize(_ text: String) throws(ShardIndexError) -> Int {
        let trimmed = text.filter { !$0.isWhitespace }
        if let bytes = Int(trimmed), bytes > 0 { return bytes }
        let units: [String: Double] = ["TB": 1e12, "GB": 1e9, "MB": 1e6, "KB": 1e3]
        guard trimmed.count > 2, let multiplier = units[String(trimmed.suffix(2)).uppercased()],
              let value = Double(String(trimmed.dropLast(2))), value > 0, value * multiplier >= 1,
              value * multiplier < 9e18 else { throw .invalidShardSize(text) }
        return Int(value * multiplier)
    }

    /// Groups tensor names into shards of at most `maxShardSize` bytes, in store order. Tensors that
    /// share one storage follow the first of them into its shard and are counted once.
    package static func split(_ store: TensorStore, maxShardSize: Int) -> [[String]] {
        var shards: [[String]] = []
        var current: [String] = []
        var currentSize = 0
        var followers: [(leader: String, name: String)] = []
        var leaders: [ObjectIdentifier: [(view: ByteView, name: String)]] = [:]
        for (name, tensor) in store.entries {
            let key = ObjectIdentifier(tensor.data.buffer)
            if tensor.byteCount > 0, let leader = leaders[key]?.first(where: { $0.view.isSameStorage(as: tensor.data) }) {
                followers.append((leader.name, name))
                continue
            }
            leaders[key, default: []].append((tensor.data, name))
            let size = tensor.byteCount
            if size > maxShardSize {
                shards.append([name])
                continue
            }
            if currentSize + size > maxShardSize {
                shards.append(current)
                current = []
                currentSize = 0
            }
            current.append(name)
            currentSize += size
        }
        if !current.isEmpty || shards.isEmpty { shards.append(current) }
        for (leader, name) in followers {
            if let index = shards.firstIndex(where: { $0.contains(leader) }) { shards[index].append(name) }
        }
        return shards
    }

    /// Shard file name for 0-based `index` of `count`: `model-00001-of-00003.safetensors`.
    package static func shardFileName(stem: String, extension fileExtension: String, index: Int, count: Int) -> String {
        func pad(_ n: Int) -> String { let s = String(n); return String(repeating: "0", count: max(0, 5 - s.count)) + s }
        return "\(stem)-\(pad(index + 1))-of-\(pad(count)).\(fileExtension)"
    }

    /// The index JSON text transformers 5 writes (`json.dumps(indent=2, sort_keys=True) + "\n"`).
    package static func indexText(store: TensorStore, shards: [[String]], fileNames: [String]) -> String {
        var weightMap: [(key: String, value: JSONValue)] = []
        for (names, file) in zip(shards, fileNames) { weightMap += names.map { ($0, JSONValue.string(file)) } }
        // Shared storages count once, as `num_parameters()` counts tied weights once.
        let index: JSONValue = .object(JSONObject([
            ("metadata", .object(JSONObject([("total_parameters", .int(uniqueElementCount(store))),
                                             ("total_size", .int(uniqueByteCount(store)))]))),
            ("weight_map", .object(JSONObject(weightMap))),
        ]))
        return JSONWriter.pretty(index) + "\n"
    }

    /// Bytes of the store with shared storages counted once (huggingface_hub's `total_size`).
    package static func uniqueByteCount(_ store: TensorStore) -> Int {
        uniqueTensors(store).reduce(0) { $0 + $1.byteCount }
    }

    package static func uniqueElementCount(_ store: TensorStore) -> Int {
        uniqueTensors(store).reduce(0) { $0 + $1.elementCount }
    }

    private static func uniqueTensors(_ store: TensorStore) -> [Tensor] {
        var seen: [ObjectIdentifier: [ByteView]] = [:]
        var result: [Tensor] = []
        for (_, tensor) in store.entries {
            let key = ObjectIdentifier(tensor.data.buffer)
            if tensor.byteCount > 0, seen[key]?.contains(where: { $0.isSameStorage(as: tensor.data) }) == true { continue }
            seen[key, default: []].append(tensor.data)
            result.append(tensor)
        }
        return result
    }

    /// The index's `weight_map` in file order: tensor name → shard file name (a bare name in the
    /// index's folder).
    package static func readWeightMap(indexPath: String) throws -> [(name: String, file: String)] {
        try withFileContext(indexPath) {
            let json = try JSONReader.parse(try readFileBytes(indexPath))
            guard let map = json["weight_map"]?.objectValue else { throw ShardIndexError.invalidIndex("no 'weight_map' object") }
            var seen = Set<String>()
            return try map.members.map { member in
                guard case .string(let file) = member.value, !file.isEmpty, !file.contains("/"), file != "..", file != "." else {
                    throw ShardIndexError.invalidIndex("'\(member.key)' maps to \(JSONWriter.compact(member.value)), not a file name in this folder")
                }
                guard seen.insert(member.key).inserted else { throw ShardIndexError.invalidIndex("tensor '\(member.key)' is listed twice") }
                return (member.key, file)
            }
        }
    }

    /// Loads every shard an index names with `readShard` and collects the tensors the index assigns
    /// to it, in the index's order. Each shard is opened once.
    package static func read(indexPath: String, readShard: (String) throws -> TensorStore) throws -> TensorStore {
        let weightMap = try readWeightMap(indexPath: indexPath)
        let folder = indexPath.lastIndex(of: "/").map { String(indexPath[..<$0]) } ?? "."
        var shardsByFile: [String: TensorStore] = [:]
        var store = TensorStore()
        for (name, file) in weightMap {
            if shardsByFile[file] == nil {
                let shard = try readShard(folder + "/" + file)
                for (key, value) in shard.metadata where store.metadata[key] == nil { store.metadata[key] = value }
                shardsByFile[file] = shard
            }
            guard let tensor = shardsByFile[file]![name] else {
                throw FileError(path: indexPath, cause: ShardIndexError.shardMissingTensor(tensor: name, shard: file))
            }
            store[name] = tensor
        }
        return store
    }
}
