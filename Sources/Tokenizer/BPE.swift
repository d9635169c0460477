// The BPE model of tokenizers 0.23.3 (tokenizers/src/models/bpe/model.rs and word.rs) for byte-level
// vocabularies: a word's characters are its UTF-8 bytes (each stands for one vocabulary character, see
// ByteLevel.swift), and adjacent symbols are merged by rank — always the lowest-ranked mergeable pair,
// the leftmost among equals — until no pair of the merge list is left (`Word::merge_all`).

package struct BPEModel: Sendable {
    package let vocabulary: Vocabulary
    /// `nil`: characters missing from the vocabulary are dropped (the reference's behaviour without unk_token).
    package let unknownToken: String?
    package let fuseUnknown: Bool
    /// A word that is itself in the vocabulary is one token, merges or not.
    package let ignoreMerges: Bool

    /// (left id << 32 | right id) → (rank, merged id).
    let mergeTable: [UInt64: Merge]
    /// Id of each byte's character, -1 when the vocabulary lacks it.
    let byteIDs: [Int32]
    let unknownID: Int32?

    struct Merge: Sendable { var rank: Int32; var id: Int32 }

    /// Checks every merge as the reference's builder does: both tokens and their concatenation must be in
    /// the vocabulary. `mergeLocation(i)` names merge `i` in errors ("line 7", "model.merges[6]").
    package init(vocabulary: Vocabulary, merges: [(String, String)], unknownToken: String? = nil, fuseUnknown: Bool = false,
                ignoreMerges: Bool = false, mergeLocation: (Int) -> String = { "merge \($0 + 1)" }) throws(TokenizerError) {
        guard vocabulary.count > 0 else { throw .emptyVocabulary }
        self.vocabulary = vocabulary
        self.unknownToken = unknownToken
        self.fuseUnknown = fuseUnknown
        self.ignoreMerges = ignoreMerges
        var table: [UInt64: Merge] = [:]
        table.reserveCapacity(merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let left = vocabulary.id(of: a) else { throw .mergeTokenNotInVocabulary(location: mergeLocation(rank), token: a) }
            guard let right = vocabulary.id(of: b) else { throw .mergeTokenNotInVocabulary(location: mergeLocation(rank), token: b) }
            guard let merged = vocabulary.id(of: a + b) else {
                throw .mergeTokenNotInVocabulary(location: mergeLocation(rank), token: a + b)
            }
            // A pair listed twice keeps its last rank, as the reference's map does.
            table[UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))] = Merge(rank: Int32(clamping: rank), id: merged)
        }
        mergeTable = table
        byteIDs = ByteLevel.byteToScalar.map { vocabulary.id(of: String(Unicode.Scalar($0)!)) ?? -1 }
        if let unknownToken {
            guard let id = vocabulary.id(of: unknownToken) else { throw .unknownTokenMissing(unknownToken) }
            unknownID = id
        } else {
            unknownID = nil
        }
    }

    /// One token of a word: its id and its bytes `start..<end` in the word.
    struct Piece: Sendable, Equatable { var id: Int32; var start: Int32; var end: Int32 }

    struct Workspace {
        var symbols: [Symbol] = []
        var heap = MergeHeap()
        var lookup: [UInt8] = []
        /// Recent words → pieces (the reference's cache; a plain size bound instead of its LRU-less map).
        var cache: [[UInt8]: [Piece]] = [:]
    }

    struct Symbol { var id: Int32; var prev: Int32; var next: Int32; var length: Int32 }

    /// The pieces of `word` (UTF-8 bytes of the original text), appended to `out`.
    func tokenize(_ word: ArraySlice<UInt8>, workspace w: inout Workspace, into out: inout [Piece]) {
        guard !word.isEmpty else { return }
        if ignoreMerges, let id = wholeWordID(word, &w) {
            out.append(Piece(id: id, start: 0, end: Int32(word.count)))
            return
        }
        let key = Array(word)
        if let cached = w.cache[key] {
            out += cached
            return
        }
        let first = out.count
        initialSymbols(word, &w.symbols)
        mergeAll(&w)
        var position: Int32 = 0
        for symbol in w.symbols where symbol.length > 0 {
            out.append(Piece(id: symbol.id, start: position, end: position + symbol.length))
            position += symbol.length
        }
        if w.cache.count >= 10_000 { w.cache.removeAll(keepingCapacity: true) }
        w.cache[key] = Array(out[first...])
    }

    private func wholeWordID(_ word: ArraySlice<UInt8>, _ w: inout Workspace) -> Int32? {
        w.lookup.removeAll(keepingCapacity: true)
        for b in word { w.lookup += ByteLevel.byteCharUTF8[Int(b)] }
        let h = ByteTable.hash(w.lookup[...], seed: ByteTable.seedWord)
        return w.lookup.withUnsafeBufferPointer { vocabulary.table.lookup(hash: h, $0, 0, $0.count) }
    }

    /// `merge_word` before merging: one symbol per byte; bytes missing from the vocabulary become the unknown
    /// token (consecutive ones fused when `fuseUnknown`), or are dropped when there is none.
    private func initialSymbols(_ word: ArraySlice<UInt8>, _ symbols: inout [Symbol]) {
        symbols.removeAll(keepingCapacity: true)
        var pendingUnknown: Int32 = 0
        func add(_ id: Int32, _ length: Int32) {
            let index = Int32(symbols.count)
            symbols.append(Symbol(id: id, prev: index - 1, next: index + 1, length: length))
        }
        for b in word {
            let id = byteIDs[Int(b)]
            if id >= 0 {
                if pendingUnknown > 0, let unknownID { add(unknownID, pendingUnknown); pendingUnknown = 0 }
                add(id, 1)
            } else if let unknownID {
                if pendingUnknown > 0 && !fuseUnknown { add(unknownID, pendingUnknown); pendingUnknown = 0 }
                pendingUnknown += 1
            }
        }
        if pendingUnknown > 0, let unknownID { add(unknownID, pendingUnknown) }
        if !symbols.isEmpty { symbols[symbols.count - 1].next = -1 }
    }

    /// `Word::merge_all` without dropout: a min-heap of candidate merges ordered by (rank, position);
    /// stale entries (a side already merged away, or the pair no longer the one queued) are skipped.
    private func mergeAll(_ w: inout Workspace) {
        w.heap.removeAll()
        for i in 0..<max(0, w.symbols.count - 1) {
            if let m = merge(w.symbols[i].id, w.symbols[i + 1].id) { w.heap.push(MergeHeap.Entry(rank: m.rank, position: Int32(i), id: m.id)) }
        }
        while let top = w.heap.pop() {
            let position = Int(top.position)
            let current = w.symbols[position]
            guard current.length > 0, current.next >= 0 else { continue }
            let nextPosition = Int(current.next)
            let right = w.symbols[nextPosition]
            guard let m = merge(current.id, right.id), m.id == top.id else { continue }
            w.symbols[position].id = top.id
            w.symbols[position].length += right.length
            w.symbols[position].next = right.next
            w.symbols[nextPosition].length = 0
            if right.next >= 0 && Int(right.next) < w.symbols.count { w.symbols[Int(right.next)].prev = Int32(position) }
            let merged = w.symbols[position]
            if merged.prev >= 0, let m = merge(w.symbols[Int(merged.prev)].id, merged.id) {
                w.heap.push(MergeHeap.Entry(rank: m.rank, position: merged.prev, id: m.id))
            }
            if merged.next >= 0 && Int(merged.next) < w.symbols.count, let m = merge(merged.id, w.symbols[Int(merged.next)].id) {
                w.heap.push(MergeHeap.Entry(rank: m.rank, position: Int32(position), id: m.id))
            }
        }
    }

    @inline(__always)
    private func merge(_ left: Int32, _ right: Int32) -> Merge? {
        mergeTable[UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))]
    }
}

/// A binary min-heap of merge candidates, ordered by rank, then position.
struct MergeHeap {
    struct Entry { var rank: Int32; var position: Int32; var id: Int32 }
    private var items: [Entry] = []

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    @inline(__always)
    private static func less(_ a: Entry, _ b: Entry) -> Bool { a.rank != b.rank ? a.rank < b.rank : a.position < b.position }

    mutating func push(_ entry: Entry) {
        items.append(entry)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.less(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let last = items.popLast() else { return nil }
        guard !items.isEmpty else { return last }
        let top = items[0]
        items[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count && Self.less(items[left], items[smallest]) { smallest = left }
            if right < items.count && Self.less(items[right], items[smallest]) { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
