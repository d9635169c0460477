// Masked-LM continued pre-training (domain adaptation) as transformers' run_mlm.py does it (transformers v5.24.0,
// examples/pytorch/language-modeling/run_mlm.py, and data/data_collator.py's DataCollatorForLanguageModeling):
// raw text, one document or sentence per line, either each line its own example (`lineByLine`, truncated) or every line
// tokenized with its [CLS]/[SEP], concatenated and cut into `maxLength` blocks (run_mlm's `group_texts`, which works on
// map batches of 1,000 lines and drops each batch's remainder). Blank lines (Python's `str.isspace`) are skipped in both
// modes; run_mlm skips them only line by line and otherwise adds a [CLS] [SEP] pair for each. Masks are drawn when a
// batch is collated: each token that is not special (the tokenizer's special ids, TextTokenizer.specialTokenIDs: [CLS], [SEP], [PAD], [MASK], [UNK],
// as the collator finds them under the Trainer) with `probability`, of those 80 % [MASK], 10 % a random token of the
// whole vocabulary, 10 % unchanged; with `wholeWordMask` (transformers 5's rule) a word is a run of tokens that touch
// (each starts where the previous ended), chosen with `probability` and masked whole, with [MASK] only. The draws come
// from the seed, the epoch and the block, so a run is reproducible; evaluation always uses the same masks (the Trainer
// redraws them at every evaluation, which makes its eval loss noisier).

import TensorCore
import Tokenizer
import Bert
import Training

package struct TextLine: Sendable, Equatable {
    package var text: String
    package var line: Int
    package init(text: String, line: Int) { self.text = text; self.line = line }
}

package enum TextCorpusError: Error, CustomStringConvertible, Equatable {
    case empty
    case binary
    case notJSON(line: Int, reason: String)
    case missingField(line: Int, field: String)

    package var description: String {
        switch self {
        case .empty: return "no text (every line is blank)"
        case .binary: return "not a text file (not UTF-8, or it holds NUL bytes)"
        case .notJSON(let line, let reason): return "line \(line): not a JSON object: \(reason)"
        case .missingField(let line, let field): return "line \(line): no text field '\(field)'"
        }
    }
}

/// Plain text (one document or sentence per line) or JSON lines with a text field.
package enum TextCorpus {
    package static func read(path: String, textColumn: String = "text") throws -> [TextLine] {
        try withFileContext(path) {
            let bytes = try readFileBytes(path)
            guard !bytes.contains(0), let text = String(validating: bytes, as: UTF8.self) else { throw TextCorpusError.binary }
            let json = path.lowercased().hasSuffix(".jsonl") || path.lowercased().hasSuffix(".json")
            var lines: [TextLine] = []
            // datasets' text loader: universal newlines (\n, \r\n, \r) only.
            for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).enumerated() {
                // run_mlm keeps `len(line) > 0 and not line.isspace()`.
                guard !isBlank(raw) else { continue }
                if json {
                    let value: JSONValue
                    do { value = try JSONReader.parse(String(raw)) } catch { throw TextCorpusError.notJSON(line: index + 1, reason: "\(error)") }
                    guard let field = value[textColumn]?.stringValue else { throw TextCorpusError.missingField(line: index + 1, field: textColumn) }
                    if isBlank(field[...]) { continue }
                    lines.append(TextLine(text: field, line: index + 1))
                } else {
                    lines.append(TextLine(text: String(raw), line: index + 1))
                }
            }
            guard !lines.isEmpty else { throw TextCorpusError.empty }
            return lines
        }
    }

    /// Python's `not line or line.isspace()`: every scalar of bidirectional class WS/B/S or category Zs (which takes in
    /// U+001C–U+001F and leaves out U+200B and U+FEFF, unlike Swift's isWhitespace).
    static func isBlank(_ line: Substring) -> Bool {
        line.unicodeScalars.allSatisfy { s in
            (0x09...0x0D).contains(s.value) || (0x1C...0x20).contains(s.value) || s.value == 0x85
                || (s.properties.generalCategory == .spaceSeparator) || s.value == 0x2028 || s.value == 0x2029
        }
    }
}

package struct MaskedLMTask: FineTuningTask {
    package var textColumn: String
    package var lineByLine: Bool
    package var probability: Float
    package var wholeWordMask: Bool
    package var seed: UInt64

    package init(textColumn: String = "text", lineByLine: Bool = false, probability: Float = 0.15, wholeWordMask: Bool = false, seed: UInt64 = 42) {
        self.textColumn = textColumn
        self.lineByLine = lineByLine
        self.probability = probability
        self.wholeWordMask = wholeWordMask
        self.seed = seed
    }

    package var head: BertHead { .maskedLM }

    package func read(_ path: String) throws -> [TextLine] { try TextCorpus.read(path: path, textColumn: textColumn) }

    package func labels(train: [TextLine], file: String, config: BertConfig, explicit: [String]?) throws -> LabelSet {
        LabelSet(names: config.id2label, problemType: .singleLabelClassification)
    }

    /// run_mlm's map batches: `group_texts` sees 1,000 lines at a time.
    static let groupBatch = 1000

    package func encode(_ lines: [TextLine], file: String, labels: LabelSet, tokenizer: any TextTokenizer, maxLength: Int) throws -> EncodedData {
        var examples: [EncodedExample] = []
        let specials = tokenizer.specialTokenIDs
        func add(_ ids: ArraySlice<Int32>, _ flags: ArraySlice<UInt8>, line: Int) {
            var example = EncodedExample(ids: Array(ids), typeIds: [Int32](repeating: 0, count: ids.count), target: .tokens([]), line: line)
            example.tokenFlags = Array(flags)
            example.feature = examples.count
            examples.append(example)
        }
        if lineByLine {
            let options = EncodeOptions(truncation: Truncation(maxLength: maxLength))
            for line in lines {
                let encoding = try withFileContext(file) { try tokenizer.encode(line.text, options: options) }
                add(encoding.ids[...], Self.flags(encoding, specialIDs: specials)[...], line: line.line)
            }
        } else {
            for start in stride(from: 0, to: lines.count, by: Self.groupBatch) {
                var ids: [Int32] = [], flags: [UInt8] = []
                for line in lines[start..<min(start + Self.groupBatch, lines.count)] {
                    let encoding = try withFileContext(file) { try tokenizer.encode(line.text) }
                    ids += encoding.ids
                    flags += Self.flags(encoding, specialIDs: specials)
                }
                let total = (ids.count / maxLength) * maxLength
                for block in stride(from: 0, to: total, by: maxLength) {
                    add(ids[block..<(block + maxLength)], flags[block..<(block + maxLength)], line: lines[start].line)
                }
            }
        }
        var notes: [String] = []
        if examples.isEmpty {
            throw FileError(path: file, cause: TextCorpusError.empty)
        }
        if !lineByLine { notes.append("\(lines.count) lines of \(file) packed into \(examples.count) blocks of \(maxLength) tokens") }
        let vocabulary = MaskingVocabulary(maskID: tokenizer.maskTokenID ?? 0, count: tokenizer.count)
        return EncodedData(examples: examples, sourceCount: lines.count, notes: notes, taskData: vocabulary)
    }

    /// Special tokens (never masked: template tokens and every special id) and word continuations (a token that
    /// starts where the previous one ended, neither special: transformers 5's whole-word rule).
    package static func flags(_ encoding: Encoding, specialIDs: Set<Int32>) -> [UInt8] {
        let special = (0..<encoding.count).map { encoding.specialTokensMask[$0] == 1 || specialIDs.contains(encoding.ids[$0]) }
        return (0..<encoding.count).map { t in
            if special[t] { return EncodedExample.specialToken }
            let continues = t > 0 && !special[t - 1] && encoding.offsets[t].start == encoding.offsets[t - 1].end
            return continues ? EncodedExample.continuesWord : 0
        }
    }

    package func training(labels: LabelSet, train: EncodedData, eval: EncodedData?) -> any TrainingTask {
        let vocabulary = train.taskData as? MaskingVocabulary ?? MaskingVocabulary(maskID: 0, count: 0)
        return MaskedLMTraining(masking: TokenMasking(probability: probability, wholeWordMask: wholeWordMask, maskID: vocabulary.maskID,
                                                      vocabularySize: vocabulary.count, seed: seed))
    }

    package func configure(_ config: inout BertConfig, labels: LabelSet) {}
}

/// What masking needs of the tokenizer.
package struct MaskingVocabulary: Sendable {
    package var maskID: Int32
    /// `len(tokenizer)`: random replacements are drawn from all of it.
    package var count: Int
}

/// DataCollatorForLanguageModeling's masking, from counter-based random streams.
package struct TokenMasking: Sendable {
    package var probability: Float
    package var wholeWordMask: Bool
    package var maskID: Int32
    package var vocabularySize: Int
    package var seed: UInt64

    package init(probability: Float, wholeWordMask: Bool, maskID: Int32, vocabularySize: Int, seed: UInt64) {
        self.probability = probability
        self.wholeWordMask = wholeWordMask
        self.maskID = maskID
        self.vocabularySize = vocabularySize
        self.seed = seed
    }

    /// The masked ids and labels (-100 where nothing is predicted) of one example.
    package func mask(_ example: EncodedExample, pass: CollationPass) -> (ids: [Int32], labels: [Int]) {
        let epoch: UInt64
        switch pass {
        case .training(let e): epoch = UInt64(e) + 1
        case .evaluation: epoch = 0
        }
        var random = NormalGenerator(seed: SeedStream.maskedTokens.seed(seed, index: epoch << 32 | UInt64(example.feature)))
        var ids = example.ids, labels = [Int](repeating: Labels.ignoreIndex, count: ids.count)
        let n = ids.count
        func flag(_ t: Int) -> UInt8 { t < example.tokenFlags.count ? example.tokenFlags[t] : 0 }
        var chosen = [Bool](repeating: false, count: n)
        if wholeWordMask {
            var t = 0
            while t < n {
                var end = t + 1
                while end < n && flag(end) & EncodedExample.continuesWord != 0 { end += 1 }
                if flag(t) & EncodedExample.specialToken == 0 && random.nextUniform() < Double(probability) {
                    for k in t..<end where flag(k) & EncodedExample.specialToken == 0 { chosen[k] = true }
                }
                t = end
            }
        } else {
            for t in 0..<n where flag(t) & EncodedExample.specialToken == 0 && random.nextUniform() < Double(probability) { chosen[t] = true }
        }
        for t in 0..<n where chosen[t] {
            labels[t] = Int(example.ids[t])
            if wholeWordMask { ids[t] = maskID; continue }
            let u = random.nextUniform()
            if u < 0.8 {
                ids[t] = maskID
            } else if u < 0.9 {
                ids[t] = Int32(random.nextUInt64() % UInt64(max(vocabularySize, 1)))
            }
        }
        return (ids, labels)
    }
}

package struct MaskedLMTraining: TrainingTask {
    package let masking: TokenMasking
    package var head: BertHead { .maskedLM }

    package func collate(_ examples: [EncodedExample], padId: Int, pass: CollationPass) throws -> (TokenBatch, Labels) {
        let masked = examples.map { example -> EncodedExample in
            let (ids, labels) = masking.mask(example, pass: pass)
            var copy = example
            copy.ids = ids
            copy.target = .tokens(labels)
            return copy
        }
        return try MicroBatch.make(masked, head: .maskedLM, problemType: nil, padId: padId)
    }

    package func makeMetrics() -> any MetricAccumulator { HeadMetrics(head: .maskedLM) }
}
