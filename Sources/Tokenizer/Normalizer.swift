// BertNormalizer, as tokenizers 0.23.3 runs it (tokenizers/src/normalizers/bert.rs), on Unicode
// scalars: clean_text (drop NUL, U+FFFD and "other" characters, map whitespace to U+0020), spaces
// around CJK ideographs, strip accents (NFD, then drop non-spacing marks), lowercase — in that order.
//
// Every normalized scalar remembers the index of the input scalar it came from ("origin"), which is
// how offsets are reported in the input. The rules mirror `NormalizedString::transform`: a scalar
// that replaces an input scalar takes its origin; an inserted one (the tail of a decomposition or of
// a lowercase mapping) takes the origin of the input scalar consumed last; a removed one leaves the
// others alone. `emptyOrigin` stands for the reference's empty (0, 0) alignment.

package struct BertNormalizerOptions: Sendable, Equatable {
    package var cleanText: Bool
    package var handleChineseChars: Bool
    /// `nil` follows `lowercase`, as in the reference.
    package var stripAccents: Bool?
    package var lowercase: Bool

    package init(cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        self.stripAccents = stripAccents
        self.lowercase = lowercase
    }

    var stripsAccents: Bool { stripAccents ?? lowercase }

    /// The normalized text, as the reference's `BertNormalizer(…).normalize_str(text)`.
    package func normalize(_ text: String) -> String { BertNormalizer(self).normalize(text) }
}

let emptyOrigin: Int32 = -1

/// Scalars with their origins, reused between calls: manually managed storage, so appending in
/// the hot loops costs no uniqueness or bounds checks. One per thread (it is not shared).
final class ScalarBuffer {
    private(set) var scalars: UnsafeMutablePointer<UInt32>
    private(set) var origins: UnsafeMutablePointer<Int32>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int = 256) {
        self.capacity = capacity
        scalars = .allocate(capacity: capacity)
        origins = .allocate(capacity: capacity)
    }

    deinit {
        scalars.deallocate()
        origins.deallocate()
    }

    func removeAll() { count = 0 }

    /// Room for `extra` more elements.
    func reserve(_ extra: Int) {
        guard count + extra > capacity else { return }
        var newCapacity = capacity * 2
        while newCapacity < count + extra { newCapacity *= 2 }
        let newScalars = UnsafeMutablePointer<UInt32>.allocate(capacity: newCapacity)
        let newOrigins = UnsafeMutablePointer<Int32>.allocate(capacity: newCapacity)
        newScalars.update(from: scalars, count: count)
        newOrigins.update(from: origins, count: count)
        scalars.deallocate()
        origins.deallocate()
        scalars = newScalars
        origins = newOrigins
        capacity = newCapacity
    }

    @inline(__always)
    func append(_ scalar: UInt32, _ origin: Int32) {
        if count == capacity { reserve(1) }
        scalars[count] = scalar
        origins[count] = origin
        count += 1
    }

    var scalarView: UnsafeBufferPointer<UInt32> { UnsafeBufferPointer(start: scalars, count: count) }
    var originView: UnsafeBufferPointer<Int32> { UnsafeBufferPointer(start: origins, count: count) }
}

struct BertNormalizer: Sendable {
    let options: BertNormalizerOptions
    private let classes = CharacterClasses.shared

    init(_ options: BertNormalizerOptions) { self.options = options }

    /// Normalizes `input[range]` (scalars, origins = their indices) into `output`, using `scratch`.
    func normalize(_ input: UnsafeBufferPointer<UInt32>, _ range: Range<Int>,
                   into output: inout ScalarBuffer, scratch: inout ScalarBuffer) {
        output.removeAll()
        output.reserve(range.count)
        var ascii = true
        for i in range where input[i] >= 0x80 { ascii = false; break }
        if ascii {
            normalizeASCII(input, range, into: &output)
            return
        }
        // clean_text and CJK spacing: one pass, both are per scalar.
        for i in range {
            let c = input[i]
            let origin = Int32(i)
            let f = classes.flags(c)
            if options.cleanText {
                if f.contains(.removed) { continue }
                if f.contains(.whitespace) { output.append(0x20, origin); continue }
            }
            if options.handleChineseChars && f.contains(.cjk) {
                // [(' ', +1), (c, 0), (' ', +1)]: the leading space is aligned with the previous scalar.
                output.append(0x20, output.count > 0 ? output.origins[output.count - 1] : emptyOrigin)
                output.append(c, origin)
                output.append(0x20, origin)
                continue
            }
            output.append(c, origin)
        }
        if options.stripsAccents {
            swap(&output, &scratch)
            output.removeAll()
            decomposeStrippingMarks(scratch, into: &output)
        }
        if options.lowercase {
            swap(&output, &scratch)
            output.removeAll()
            lowercase(scratch, into: &output)
        }
    }

    /// The same steps for ASCII input: only control characters, whitespace and case are affected.
    private func normalizeASCII(_ input: UnsafeBufferPointer<UInt32>, _ range: Range<Int>, into output: inout ScalarBuffer) {
        let clean = options.cleanText, lower = options.lowercase
        for i in range {
            var c = input[i]
            if clean && (c < 0x20 || c == 0x7F) {
                if c == 0x09 || c == 0x0A || c == 0x0D { c = 0x20 } else { continue }
            }
            if lower && c &- 0x41 < 26 { c += 0x20 }
            output.append(c, Int32(i))
        }
    }

    /// NFD (with canonical reordering) followed by dropping non-spacing marks.
    private func decomposeStrippingMarks(_ input: ScalarBuffer, into output: inout ScalarBuffer) {
        // 1. Decompose; `inserted` marks the scalars after the first of each decomposition.
        var scalars: [UInt32] = []
        var inserted: [Bool] = []
        scalars.reserveCapacity(input.count + 8)
        inserted.reserveCapacity(input.count + 8)
        for c in input.scalarView {
            if classes.flags(c).contains(.decomposes), let run = classes.decomposition(c) {
                for k in 0..<run.count { scalars.append(run[k]); inserted.append(k > 0) }
            } else {
                scalars.append(c)
                inserted.append(false)
            }
        }
        // 2. Canonical ordering: stable sort of each run of non-starters by combining class; the
        //    inserted/replacing flags travel with their scalars.
        var i = 0
        while i < scalars.count {
            guard classes.combiningClass(scalars[i]) != 0 else { i += 1; continue }
            var end = i + 1
            while end < scalars.count && classes.combiningClass(scalars[end]) != 0 { end += 1 }
            if end - i > 1 {
                for j in (i + 1)..<end {          // insertion sort: stable, runs are short
                    let s = scalars[j], flag = inserted[j], key = classes.combiningClass(s)
                    var k = j
                    while k > i && classes.combiningClass(scalars[k - 1]) > key {
                        scalars[k] = scalars[k - 1]
                        inserted[k] = inserted[k - 1]
                        k -= 1
                    }
                    scalars[k] = s
                    inserted[k] = flag
                }
            }
            i = end
        }
        // 3. Origins by position (as `transform` assigns alignments), then drop Mn.
        var consumed = -1
        for (j, s) in scalars.enumerated() {
            let origin: Int32
            if inserted[j] {
                origin = consumed >= 0 ? input.origins[consumed] : emptyOrigin
            } else {
                consumed += 1
                origin = input.origins[consumed]
            }
            if !classes.flags(s).contains(.nonspacingMark) { output.append(s, origin) }
        }
    }

    /// Per-scalar full lowercase mapping (Rust `char::to_lowercase`, no final-sigma context).
    private func lowercase(_ input: ScalarBuffer, into output: inout ScalarBuffer) {
        output.reserve(input.count)
        for (c, origin) in zip(input.scalarView, input.originView) {
            if c < 0x80 {
                output.append(c >= 0x41 && c <= 0x5A ? c + 0x20 : c, origin)
            } else if classes.flags(c).contains(.lowercases), let run = classes.lowercase(c) {
                for k in 0..<run.count { output.append(run[k], origin) }
            } else {
                output.append(c, origin)
            }
        }
    }

    /// Normalizes a whole string (for added-token patterns, tests and the CLI's explain mode).
    func normalize(_ text: String) -> String {
        let scalars = text.unicodeScalars.map(\.value)
        var output = ScalarBuffer(), scratch = ScalarBuffer()
        scalars.withUnsafeBufferPointer { normalize($0, 0..<scalars.count, into: &output, scratch: &scratch) }
        return String(decoding: output.scalarView, as: UTF32.self)
    }
}
