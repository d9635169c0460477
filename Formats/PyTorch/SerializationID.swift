// The `.data/serialization_id` record torch writes last. It is not random: caffe2's
// `PyTorchStreamWriter::writeSerializationId` (torch 2.15, caffe2/serialize/inline_container.cc)
// prints two 20-digit decimal numbers —
//   1. the record names written so far, each hashed with `std::hash<std::string>` (libstdc++'s
//      `_Hash_bytes`, a MurmurHash64A variant, seed 0xc70f6907) and folded with `c10::hash_combine`
//      in the iteration order of the `std::unordered_set` that holds them;
//   2. the CRC-32 of every non-empty record's data, folded with `c10::hash_combine` in write order
//      (taken from each data descriptor).
// Reproducing (1) means replaying libstdc++'s hash table: nodes on one singly linked list, a new node
// going first in its bucket (or first in the list when its bucket is empty), and rehashing (which
// relinks nodes in list order) to the bucket counts libstdc++'s prime policy picks. The counts below
// are what `bucket_count()` reports after each growth with libstdc++ (GCC 12), checked against torch's
// own output in the tests.

enum SerializationID {
    /// Bucket counts of a default-constructed `std::unordered_set` as it grows: it holds at most that
    /// many elements before the next rehash.
    static let bucketCounts: [Int] = [13, 29, 59, 127, 257, 541, 1109, 2357, 5087, 10273, 20753, 42043, 85229, 172933,
                                      351061, 712697, 1447153, 2938679, 5967347, 12117689]

    static func make(names: [String], crcs: [UInt32]) -> String {
        var nameHash: UInt64 = 0
        for index in unorderedSetOrder(names.map { stdHash(Array($0.utf8)) }) {
            nameHash = hashCombine(nameHash, stdHash(Array(names[index].utf8)))
        }
        var crcHash: UInt64 = 0
        for crc in crcs { crcHash = hashCombine(crcHash, UInt64(crc)) }
        return padded(nameHash) + padded(crcHash)
    }

    /// `c10::hash_combine`: `seed ^ (value + 0x9e3779b9 + (seed << 6) + (seed >> 2))` in 64-bit size_t.
    static func hashCombine(_ seed: UInt64, _ value: UInt64) -> UInt64 {
        seed ^ (value &+ 0x9E37_79B9 &+ (seed << 6) &+ (seed >> 2))
    }

    /// libstdc++ `std::_Hash_bytes(ptr, len, 0xc70f6907)` for 64-bit size_t.
    static func stdHash(_ bytes: [UInt8]) -> UInt64 {
        let mul: UInt64 = (0xC6A4_A793 << 32) &+ 0x5BD1_E995
        func shiftMix(_ v: UInt64) -> UInt64 { v ^ (v >> 47) }
        let alignedCount = bytes.count & ~7
        var hash = 0xC70F_6907 ^ (UInt64(bytes.count) &* mul)
        var i = 0
        while i < alignedCount {
            var word: UInt64 = 0
            for b in (0..<8).reversed() { word = word << 8 | UInt64(bytes[i + b]) }
            hash ^= shiftMix(word &* mul) &* mul
            hash = hash &* mul
            i += 8
        }
        if bytes.count & 7 != 0 {
            var tail: UInt64 = 0
            for b in (alignedCount..<bytes.count).reversed() { tail = tail << 8 | UInt64(bytes[b]) }
            hash ^= tail
            hash = hash &* mul
        }
        hash = shiftMix(hash) &* mul
        return shiftMix(hash)
    }

    /// The order in which a libstdc++ `unordered_set` filled by inserting these (distinct) hashes one
    /// by one iterates them; returns insertion indices.
    static func unorderedSetOrder(_ hashes: [UInt64]) -> [Int] {
        let empty = -1, beforeBegin = -2
        var next = [Int](repeating: -1, count: hashes.count)   // singly linked list, -1 = end
        var head = -1
        var buckets: [Int] = [empty]                            // node before the bucket's first node
        var growth = 0

        func bucket(_ node: Int) -> Int { Int(hashes[node] % UInt64(buckets.count)) }

        func rehash(to count: Int) {
            var newBuckets = [Int](repeating: empty, count: count)
            var node = head
            head = -1
            var beginBucket = 0
            while node >= 0 {
                let following = next[node]
                let b = Int(hashes[node] % UInt64(count))
                if newBuckets[b] == empty {
                    next[node] = head
                    head = node
                    newBuckets[b] = beforeBegin
                    if next[node] >= 0 { newBuckets[beginBucket] = node }
                    beginBucket = b
                } else if newBuckets[b] == beforeBegin {
                    next[node] = head
                    head = node
                } else {
                    next[node] = next[newBuckets[b]]
                    next[newBuckets[b]] = node
                }
                node = following
            }
            buckets = newBuckets
        }

        for node in hashes.indices {
            // A fresh set has one bucket and rehashes on the first insert; after that, when full.
            let elements = node + 1
            if node == 0 || elements > buckets.count {
                let count = growth < bucketCounts.count ? bucketCounts[growth] : buckets.count * 2 + 1
                growth += 1
                rehash(to: count)
            }
            let b = bucket(node)
            if buckets[b] == empty {
                next[node] = head
                head = node
                if next[node] >= 0 { buckets[bucket(next[node])] = node }
                buckets[b] = beforeBegin
            } else if buckets[b] == beforeBegin {
                next[node] = head
                head = node
            } else {
                next[node] = next[buckets[b]]
                next[buckets[b]] = node
            }
        }
        var order: [Int] = []
        var node = head
        while node >= 0 { order.append(node); node = next[node] }
        return order
    }

    private static func padded(_ value: UInt64) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }
}
