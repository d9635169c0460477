// The WordPiece vocabulary: token ↔ id, and an open-addressing hash table over the tokens' UTF-8
// bytes so WordPiece looks up slices of a word without building strings. Continuation pieces
// ("##ing") get a second entry keyed by the bytes after the prefix, so `##` is never concatenated.
// Hashes are FNV-1a, which extends byte by byte: one pass over a word gives the hash of every prefix.

package struct Vocabulary: Sendable {
    /// Id → token, `nil` for ids no token maps to.
    package let idToToken: [String?]
    /// The prefix of continuation pieces (`##`).
    package let continuingSubwordPrefix: String
    /// Number of distinct tokens.
    package let count: Int

    let table: ByteTable

    /// `tokens` in id order (ids are positions), as read from vocab.txt.
    package init(orderedTokens tokens: [String], continuingSubwordPrefix: String = "##") {
        self.init(tokenIDs: tokens.enumerated().map { ($1, Int32($0)) }, continuingSubwordPrefix: continuingSubwordPrefix)
    }

    /// (token, id) entries; a token listed twice keeps its last id (as a Python dict / Rust HashMap).
    /// Tokens are compared byte for byte: "é" and "e\u{301}" are different tokens, as in the reference
    /// (Swift's `String ==` would treat them as equal).
    package init(tokenIDs: [(String, Int32)], continuingSubwordPrefix: String = "##") {
        self.continuingSubwordPrefix = continuingSubwordPrefix
        let table = ByteTable(tokenIDs, prefix: Array(continuingSubwordPrefix.utf8))
        self.table = table
        var reverse = [String?](repeating: nil, count: Int((tokenIDs.map(\.1).max() ?? -1) + 1))
        // With a token listed twice only its last id maps back to it (the table knows which).
        for (token, id) in tokenIDs where reverse[Int(id)] == nil && (!table.hasDuplicates || table.lookup(token) == id) {
            reverse[Int(id)] = token
        }
        idToToken = reverse
        count = table.wordCount
    }

    /// The id of `token` (exact bytes), or nil.
    package func id(of token: String) -> Int32? { table.lookup(token) }
}

/// Open addressing with linear probing; keys live in one byte arena. Ids are never negative (-1 marks an empty slot).
struct ByteTable: Sendable {
    static let seedWord: UInt64 = 0xcbf2_9ce4_8422_2325      // FNV offset basis
    static let seedContinuation: UInt64 = 0x8422_2325_cbf2_9ce4
    static let prime: UInt64 = 0x0000_0100_0000_01b3

    private struct Slot: Sendable {
        var hash: UInt64 = 0
        var offset: UInt32 = 0
        var length: UInt32 = 0
        var id: Int32 = -1        // -1: empty
    }

    private var slots: [Slot]
    private var arena: [UInt8] = []
    private let mask: Int
    /// Distinct whole tokens.
    private(set) var wordCount = 0
    /// Whether a whole token was inserted twice.
    private(set) var hasDuplicates = false
    /// Longest key in bytes, per kind (longer slices cannot match).
    private(set) var maxWordLength = 0
    private(set) var maxContinuationLength = 0

    init(_ tokens: [(String, Int32)], prefix: [UInt8]) {
        var capacity = 16
        while capacity < tokens.count * 3 { capacity <<= 1 }   // load ≤ 2/3 even with continuations
        slots = [Slot](repeating: Slot(), count: capacity)
        mask = capacity - 1
        for (token, id) in tokens {
            let bytes = Array(token.utf8)
            if insert(bytes[...], id: id, seed: Self.seedWord) { wordCount += 1 } else { hasDuplicates = true }
            maxWordLength = max(maxWordLength, bytes.count)
            if !prefix.isEmpty && bytes.count >= prefix.count && bytes.starts(with: prefix) {
                insert(bytes[prefix.count...], id: id, seed: Self.seedContinuation)
                maxContinuationLength = max(maxContinuationLength, bytes.count - prefix.count)
            }
        }
    }

    @inline(__always)
    static func step(_ hash: UInt64, _ byte: UInt8) -> UInt64 { (hash ^ UInt64(byte)) &* prime }

    static func hash(_ bytes: ArraySlice<UInt8>, seed: UInt64) -> UInt64 {
        var h = seed
        for b in bytes { h = step(h, b) }
        return h
    }

    @inline(__always)
    private func home(_ hash: UInt64) -> Int { Int(truncatingIfNeeded: (hash &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask }

    /// Inserts or, for a key already present, replaces its id (the last entry wins). True if new.
    @discardableResult
    private mutating func insert(_ key: ArraySlice<UInt8>, id: Int32, seed: UInt64) -> Bool {
        let h = Self.hash(key, seed: seed)
        var i = home(h)
        while slots[i].id >= 0 {
            let slot = slots[i]
            if slot.hash == h && Int(slot.length) == key.count && arena[Int(slot.offset)..<Int(slot.offset) + key.count].elementsEqual(key) {
                slots[i].id = id
                return false
            }
            i = (i + 1) & mask
        }
        slots[i] = Slot(hash: h, offset: UInt32(arena.count), length: UInt32(key.count), id: id)
        arena.append(contentsOf: key)
        return true
    }

    /// The id of `bytes[start..<end]` given its hash (computed with the matching seed).
    @inline(__always)
    func lookup(hash h: UInt64, _ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int32? {
        let length = end - start
        var i = home(h)
        return slots.withUnsafeBufferPointer { slots in
            arena.withUnsafeBufferPointer { arena in
                while true {
                    let slot = slots[i]
                    if slot.id < 0 { return nil }
                    if slot.hash == h && Int(slot.length) == length {
                        var equal = true
                        let offset = Int(slot.offset)
                        for k in 0..<length where arena[offset + k] != bytes[start + k] { equal = false; break }
                        if equal { return slot.id }
                    }
                    i = (i + 1) & mask
                }
            }
        }
    }

    /// Convenience for whole tokens (tests, API).
    func lookup(_ token: String, continuation: Bool = false) -> Int32? {
        let bytes = Array(token.utf8)
        let h = Self.hash(bytes[...], seed: continuation ? Self.seedContinuation : Self.seedWord)
        return bytes.withUnsafeBufferPointer { lookup(hash: h, $0, 0, bytes.count) }
    }
}
