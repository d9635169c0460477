// The WordPiece model (tokenizers/src/models/wordpiece/mod.rs): greedy longest-match-first over
// the word's bytes, continuation pieces looked up with the `##` prefix, and the whole word becomes
// the unknown token when it has more than `maxInputCharsPerWord` scalars or any part cannot be
// matched. Candidate ends move back one scalar at a time, as the reference's do.

public struct WordPieceModel: Sendable {
    public let vocabulary: Vocabulary
    public let unknownToken: String
    public let unknownID: Int32
    public let maxInputCharsPerWord: Int

    public init(vocabulary: Vocabulary, unknownToken: String = "[UNK]", maxInputCharsPerWord: Int = 100) throws(TokenizerError) {
        guard let id = vocabulary.id(of: unknownToken) else { throw .unknownTokenMissing(unknownToken) }
        self.vocabulary = vocabulary
        self.unknownToken = unknownToken
        self.unknownID = id
        self.maxInputCharsPerWord = maxInputCharsPerWord
    }

    /// Scratch space for one thread.
    struct Workspace {
        var bytes: [UInt8] = []
        var charStarts: [Int] = []     // byte offset of each scalar, plus the end
        var hashes: [UInt64] = []      // hashes[k]: FNV of bytes[pieceStart..<k]
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
        w.bytes.removeAll(keepingCapacity: true)
        w.charStarts.removeAll(keepingCapacity: true)
        for i in range {
            w.charStarts.append(w.bytes.count)
            appendUTF8(scalars[i], to: &w.bytes)
        }
        w.charStarts.append(w.bytes.count)
        if w.hashes.count < w.bytes.count + 1 { w.hashes = [UInt64](repeating: 0, count: w.bytes.count + 1) }

        let table = vocabulary.table
        let firstPiece = pieces.count
        var start = 0
        let matched: Bool = w.bytes.withUnsafeBufferPointer { bytes in
            w.charStarts.withUnsafeBufferPointer { charStarts in
                w.hashes.withUnsafeMutableBufferPointer { hashes in
                    while start < charCount {
                        let continuation = start > 0
                        let maxLength = continuation ? table.maxContinuationLength : table.maxWordLength
                        let byteStart = charStarts[start]
                        let byteLimit = min(bytes.count, byteStart + maxLength)
                        var h = continuation ? ByteTable.seedContinuation : ByteTable.seedWord
                        hashes[byteStart] = h
                        var k = byteStart
                        while k < byteLimit {
                            h = ByteTable.step(h, bytes[k])
                            k += 1
                            hashes[k] = h
                        }
                        var end = charCount
                        var found: Int32? = nil
                        while end > start {
                            let byteEnd = charStarts[end]
                            if byteEnd <= byteLimit,
                               let id = table.lookup(hash: hashes[byteEnd], bytes, byteStart, byteEnd) {
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

@inline(__always)
func appendUTF8(_ scalar: UInt32, to bytes: inout [UInt8]) {
    switch scalar {
    case 0..<0x80:
        bytes.append(UInt8(scalar))
    case 0x80..<0x800:
        bytes.append(UInt8(0xC0 | (scalar >> 6)))
        bytes.append(UInt8(0x80 | (scalar & 0x3F)))
    case 0x800..<0x10000:
        bytes.append(UInt8(0xE0 | (scalar >> 12)))
        bytes.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
        bytes.append(UInt8(0x80 | (scalar & 0x3F)))
    default:
        bytes.append(UInt8(0xF0 | (scalar >> 18)))
        bytes.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
        bytes.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
        bytes.append(UInt8(0x80 | (scalar & 0x3F)))
    }
}
