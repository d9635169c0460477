// The WordPiece model (tokenizers/src/models/wordpiece/mod.rs): greedy longest-match-first over
// the word's bytes, continuation pieces looked up with the `##` prefix, and the whole word becomes
// the unknown token when it has more than `maxInputCharsPerWord` scalars or any part cannot be
// matched. Candidate ends move back one scalar at a time, as the reference's do.

package struct WordPieceModel: Sendable {
    package let vocabulary: Vocabulary
    package let unknownToken: String
    package let unknownID: Int32
    package let maxInputCharsPerWord: Int

    package init(vocabulary: Vocabulary, unknownToken: String = "[UNK]", maxInputCharsPerWord: Int = 100) throws(TokenizerError) {
        guard let id = vocabulary.id(of: unknownToken) else { throw .unknownTokenMissing(unknownToken) }
        self.vocabulary = vocabulary
        self.unknownToken = unknownToken
        self.unknownID = id
        self.maxInputCharsPerWord = maxInputCharsPerWord
    }

    /// The pieces of one word (ids and tokens), as the reference's `model.tokenize(word)`.
    package func tokenize(word: String) -> [(id: Int32, token: String)] {
        let scalars = word.unicodeScalars.map(\.value)
        var workspace = Workspace()
        var pieces: [Piece] = []
        scalars.withUnsafeBufferPointer { tokenize($0, 0..<scalars.count, workspace: &workspace, into: &pieces) }
        return pieces.map { ($0.id, vocabulary.idToToken[Int($0.id)] ?? unknownToken) }
    }

    /// Scratch space for one thread, grown to the longest word seen.
    struct Workspace {
        var bytes: [UInt8] = []        // the word in UTF-8
        var charStarts: [Int] = []     // byte offset of each scalar, plus the end
        var hashes: [UInt64] = []      // hashes[k]: FNV of bytes[pieceStart..<k]

        mutating func fit(scalars: Int) {
            if charStarts.count < scalars + 1 {
                bytes = [UInt8](repeating: 0, count: 4 * scalars)
                charStarts = [Int](repeating: 0, count: scalars + 1)
                hashes = [UInt64](repeating: 0, count: 4 * scalars + 1)
            }
        }
    }

    /// A piece of the word: vocabulary id and the scalar range it covers in the word.
    struct Piece {
        var id: Int32
        var start: Int
        var end: Int
    }

    /// Tokenizes the word `scalars[range]`, appending pieces (scalar ranges relative to the word).
    func tokenize(_ scalars: UnsafeBufferPointer<UInt32>, _ range: Range<Int>, workspace w: inout Workspace,
                  into pieces: inout [Piece]) {
        let charCount = range.count
        if charCount > maxInputCharsPerWord {
            pieces.append(Piece(id: unknownID, start: 0, end: charCount))
            return
        }
        w.fit(scalars: charCount)
        let firstPiece = pieces.count
        let table = vocabulary.table
        let matched: Bool = w.bytes.withUnsafeMutableBufferPointer { bytes in
            w.charStarts.withUnsafeMutableBufferPointer { charStarts in
                w.hashes.withUnsafeMutableBufferPointer { hashes in
                    var byteCount = 0
                    for (k, i) in range.enumerated() {
                        charStarts[k] = byteCount
                        byteCount = writeUTF8(scalars[i], to: bytes, at: byteCount)
                    }
                    charStarts[charCount] = byteCount
                    let word = UnsafeBufferPointer(start: bytes.baseAddress, count: byteCount)
                    var start = 0
                    while start < charCount {
                        let continuation = start > 0
                        let maxLength = continuation ? table.maxContinuationLength : table.maxWordLength
                        let byteStart = charStarts[start]
                        let byteLimit = min(byteCount, byteStart + maxLength)
                        // Hashes of every prefix of the rest of the word, in one pass.
                        var h = continuation ? ByteTable.seedContinuation : ByteTable.seedWord
                        var k = byteStart
                        while k < byteLimit {
                            h = ByteTable.step(h, word[k])
                            k += 1
                            hashes[k] = h
                        }
                        // Longest first: the end moves back one scalar at a time.
                        var end = charCount
                        var found: Int32? = nil
                        while end > start {
                            let byteEnd = charStarts[end]
                            if byteEnd <= byteLimit, let id = table.lookup(hash: hashes[byteEnd], word, byteStart, byteEnd) {
                                found = id
                                break
                            }
                            end -= 1
                        }
                        guard let id = found else { return false }
                        pieces.append(Piece(id: id, start: start, end: end))
                        start = end
                    }
                    return true
                }
            }
        }
        if !matched {
            pieces.removeSubrange(firstPiece...)
            pieces.append(Piece(id: unknownID, start: 0, end: charCount))
        }
    }
}

/// Writes `scalar` as UTF-8 at `offset`; returns the offset after it.
@inline(__always)
func writeUTF8(_ scalar: UInt32, to bytes: UnsafeMutableBufferPointer<UInt8>, at offset: Int) -> Int {
    switch scalar {
    case 0..<0x80:
        bytes[offset] = UInt8(scalar)
        return offset + 1
    case 0x80..<0x800:
        bytes[offset] = UInt8(0xC0 | (scalar >> 6))
        bytes[offset + 1] = UInt8(0x80 | (scalar & 0x3F))
        return offset + 2
    case 0x800..<0x10000:
        bytes[offset] = UInt8(0xE0 | (scalar >> 12))
        bytes[offset + 1] = UInt8(0x80 | ((scalar >> 6) & 0x3F))
        bytes[offset + 2] = UInt8(0x80 | (scalar & 0x3F))
        return offset + 3
    default:
        bytes[offset] = UInt8(0xF0 | (scalar >> 18))
        bytes[offset + 1] = UInt8(0x80 | ((scalar >> 12) & 0x3F))
        bytes[offset + 2] = UInt8(0x80 | ((scalar >> 6) & 0x3F))
        bytes[offset + 3] = UInt8(0x80 | (scalar & 0x3F))
        return offset + 4
    }
}
