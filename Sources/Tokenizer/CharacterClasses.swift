// Constant-time lookups over the reference's character classes (UnicodeTables.swift, generated):
// one flag byte per code point in a two-level table, plus the lowercase and decomposition maps.
// Built once, on first use, from the generated text tables.

struct CharacterFlags: OptionSet, Sendable {
    let rawValue: UInt8
    static let removed = CharacterFlags(rawValue: 1)          // dropped by clean_text
    static let whitespace = CharacterFlags(rawValue: 2)       // Rust `char::is_whitespace`
    static let punctuation = CharacterFlags(rawValue: 4)      // BertPreTokenizer punctuation
    static let nonspacingMark = CharacterFlags(rawValue: 8)   // Mn (Unicode 8.0)
    static let cjk = CharacterFlags(rawValue: 16)             // handle_chinese_chars
    static let lowercases = CharacterFlags(rawValue: 32)      // has a lowercase mapping
    static let decomposes = CharacterFlags(rawValue: 64)      // has a canonical decomposition
    static let combining = CharacterFlags(rawValue: 128)      // non-zero combining class
}

/// Up to four scalars held inline (the longest lowercase mapping is 2, the longest decomposition 4).
struct ScalarRun: Sendable {
    var count: Int
    var s0: UInt32, s1: UInt32, s2: UInt32, s3: UInt32

    init(_ values: [UInt32]) {
        precondition(values.count >= 1 && values.count <= 4)
        count = values.count
        s0 = values[0]
        s1 = values.count > 1 ? values[1] : 0
        s2 = values.count > 2 ? values[2] : 0
        s3 = values.count > 3 ? values[3] : 0
    }

    subscript(i: Int) -> UInt32 {
        switch i {
        case 0: return s0
        case 1: return s1
        case 2: return s2
        default: return s3
        }
    }
}

final class CharacterClasses: Sendable {
    static let shared = CharacterClasses()

    private let blockIndex: [UInt16]     // code point >> 8 → block number
    private let blocks: [UInt8]          // 256 flag bytes per distinct block
    private let lowercaseMap: [UInt32: ScalarRun]
    private let decompositionMap: [UInt32: ScalarRun]
    private let combiningClassMap: [UInt32: UInt8]

    private init() {
        var flags = [UInt8](repeating: 0, count: 0x110000)
        func mark(_ table: String, _ flag: CharacterFlags) {
            for (first, last) in Self.parseRanges(table) {
                for cp in Int(first)...Int(last) { flags[cp] |= flag.rawValue }
            }
        }
        mark(UnicodeTables.removed, .removed)
        mark(UnicodeTables.whitespace, .whitespace)
        mark(UnicodeTables.punctuation, .punctuation)
        mark(UnicodeTables.nonspacingMarks, .nonspacingMark)
        mark(UnicodeTables.cjkIdeographs, .cjk)

        var lowercase: [UInt32: ScalarRun] = [:]
        for (cp, run) in Self.parseMappings(UnicodeTables.lowercase) {
            lowercase[cp] = run
            flags[Int(cp)] |= CharacterFlags.lowercases.rawValue
        }
        var decompositions: [UInt32: ScalarRun] = [:]
        for (cp, run) in Self.parseMappings(UnicodeTables.decompositions) {
            decompositions[cp] = run
            flags[Int(cp)] |= CharacterFlags.decomposes.rawValue
        }
        for cp in Hangul.firstSyllable..<(Hangul.firstSyllable + Hangul.syllableCount) {
            flags[Int(cp)] |= CharacterFlags.decomposes.rawValue
        }
        var classes: [UInt32: UInt8] = [:]
        for item in UnicodeTables.combiningClasses.split(whereSeparator: { $0 == "," || $0.isNewline || $0 == " " }) {
            let parts = item.split(separator: ":")     // "first-last:class", the class in decimal
            let value = UInt8(parts[1])!
            for (first, last) in Self.parseRanges(String(parts[0])) {
                for cp in first...last {
                    classes[cp] = value
                    flags[Int(cp)] |= CharacterFlags.combining.rawValue
                }
            }
        }

        // Two-level table: identical 256-entry blocks are stored once.
        var index = [UInt16](repeating: 0, count: 0x1100)
        var unique: [UInt8] = []
        var seen: [UInt64: [UInt16]] = [:]     // block hash → candidate block numbers
        flags.withUnsafeBufferPointer { all in
            for block in 0..<0x1100 {
                let slice = UnsafeBufferPointer(rebasing: all[(block << 8)..<((block + 1) << 8)])
                var h: UInt64 = 0xcbf2_9ce4_8422_2325
                for b in slice { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
                if let number = seen[h]?.first(where: { unique[Int($0) << 8..<(Int($0) + 1) << 8].elementsEqual(slice) }) {
                    index[block] = number
                } else {
                    let number = UInt16(unique.count >> 8)
                    seen[h, default: []].append(number)
                    unique.append(contentsOf: slice)
                    index[block] = number
                }
            }
        }
        blockIndex = index
        blocks = unique
        lowercaseMap = lowercase
        decompositionMap = decompositions
        combiningClassMap = classes
    }

    @inline(__always)
    func flags(_ scalar: UInt32) -> CharacterFlags {
        let block = Int(blockIndex[Int(scalar >> 8)])
        return CharacterFlags(rawValue: blocks[block << 8 | Int(scalar & 0xFF)])
    }

    /// The full lowercase mapping (only for scalars flagged `.lowercases`).
    func lowercase(_ scalar: UInt32) -> ScalarRun? { lowercaseMap[scalar] }

    /// The full canonical decomposition (only for scalars flagged `.decomposes`).
    func decomposition(_ scalar: UInt32) -> ScalarRun? {
        if let run = Hangul.decompose(scalar) { return run }
        return decompositionMap[scalar]
    }

    func combiningClass(_ scalar: UInt32) -> UInt8 {
        flags(scalar).contains(.combining) ? combiningClassMap[scalar] ?? 0 : 0
    }

    /// "a,b-c,…" in hex → inclusive ranges.
    static func parseRanges(_ text: String) -> [(UInt32, UInt32)] {
        var result: [(UInt32, UInt32)] = []
        var scanner = HexScanner(text)
        while let first = scanner.next() {
            result.append((first, scanner.separator == UInt8(ascii: "-") ? scanner.next() ?? first : first))
        }
        return result
    }

    /// "cp:x y,…" in hex → (cp, [x, y]).
    static func parseMappings(_ text: String) -> [(UInt32, ScalarRun)] {
        var result: [(UInt32, ScalarRun)] = []
        var scanner = HexScanner(text)
        while let key = scanner.next() {
            var values: [UInt32] = []
            while let value = scanner.next() {
                values.append(value)
                if scanner.separator != UInt8(ascii: " ") { break }
            }
            result.append((key, ScalarRun(values)))
        }
        return result
    }
}

/// Reads hex numbers from the generated tables; `separator` is the byte that ended the last one.
struct HexScanner {
    private let bytes: [UInt8]
    private var position = 0
    private(set) var separator: UInt8 = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    mutating func next() -> UInt32? {
        while position < bytes.count && !Self.isHex(bytes[position]) { position += 1 }
        guard position < bytes.count else { return nil }
        var value: UInt32 = 0
        while position < bytes.count && Self.isHex(bytes[position]) {
            let b = bytes[position]
            value = value << 4 | UInt32(b <= UInt8(ascii: "9") ? b - UInt8(ascii: "0") : b - UInt8(ascii: "a") + 10)
            position += 1
        }
        separator = position < bytes.count ? bytes[position] : 0
        return value
    }

    private static func isHex(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f"))
    }
}

/// Hangul syllables decompose algorithmically (Unicode §3.12), as in every NFD implementation.
enum Hangul {
    static let firstSyllable: UInt32 = 0xAC00
    static let syllableCount: UInt32 = 11172
    static let leadBase: UInt32 = 0x1100, vowelBase: UInt32 = 0x1161, trailBase: UInt32 = 0x11A7
    static let vowelCount: UInt32 = 21, trailCount: UInt32 = 28

    static func decompose(_ scalar: UInt32) -> ScalarRun? {
        guard scalar >= firstSyllable && scalar < firstSyllable + syllableCount else { return nil }
        let index = scalar - firstSyllable
        let lead = leadBase + index / (vowelCount * trailCount)
        let vowel = vowelBase + (index % (vowelCount * trailCount)) / trailCount
        let trail = index % trailCount
        return ScalarRun(trail == 0 ? [lead, vowel] : [lead, vowel, trailBase + trail])
    }
}
