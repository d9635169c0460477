// Word-level labelled sentences for token classification (NER), from the two formats people have:
// - CoNLL column files (CoNLL-2003's `word POS chunk NER`): space- or tab-separated columns, the word first and the
//   label last (or the 1-based column `labelColumn`), a blank line or a `-DOCSTART-` line ending a sentence;
// - JSONL records with a list of words and a list of tags (`tokens` / `ner_tags`, as the Hub's conll2003 and
//   run_ner.py name them), tags as names or as integer ids.
// Every problem is an error naming the file and line (`FILE:LINE: cause`) before anything is trained.

import TensorCore

package struct TaggedSentence: Sendable, Equatable {
    package var words: [String]
    /// One tag per word: a name, or (JSONL) an integer id written as its decimal text, resolved by the label set.
    package var tags: [String]
    /// 1-based line of the sentence's first word (JSONL: its record's line).
    package var line: Int
    /// CoNLL: word i is on line `line + i`. JSONL: every word is on `line`.
    package var oneWordPerLine: Bool
    /// JSONL tags written as integer ids (`"ner_tags": [3, 0, 7]`): indices into the label set.
    package var tagsAreIDs: Bool

    package init(words: [String], tags: [String], line: Int, oneWordPerLine: Bool = false, tagsAreIDs: Bool = false) {
        self.words = words
        self.tags = tags
        self.line = line
        self.oneWordPerLine = oneWordPerLine
        self.tagsAreIDs = tagsAreIDs
    }

    /// The line a word is on, for messages.
    package func line(ofWord index: Int) -> Int { oneWordPerLine ? line + index : line }
}

package enum TaggedDataError: Error, CustomStringConvertible, Equatable {
    case empty
    case noLabelColumn(found: Int)
    case labelColumnOutOfRange(column: Int, columns: Int)
    case lengthMismatch(words: Int, tags: Int)
    case notJSON(String)
    case missingField(String)
    case wrongType(field: String, expected: String)
    case notUTF8
    case unknownLabel(String, known: [String])
    case idOutOfRange(Int, count: Int)
    case idsNeedNames
    case unknownFormat

    package var description: String {
        switch self {
        case .empty: return "no sentences"
        case .noLabelColumn(let found):
            return "a word without a label: \(found) column\(found == 1 ? "" : "s") (CoNLL lines are 'word ... label', space- or tab-separated)"
        case .labelColumnOutOfRange(let column, let columns): return "no column \(column) (the line has \(columns))"
        case .lengthMismatch(let words, let tags): return "\(words) tokens but \(tags) tags"
        case .notJSON(let reason): return "not a JSON object: \(reason)"
        case .missingField(let name): return "no '\(name)'"
        case .wrongType(let field, let expected): return "'\(field)' must be \(expected)"
        case .notUTF8: return "the file is not UTF-8"
        case .unknownLabel(let label, let known):
            return "label '\(label)' is not in the label set (\(known.prefix(30).joined(separator: ", ")))"
        case .idOutOfRange(let id, let count): return "tag id \(id) is outside the label set's 0..<\(count)"
        case .idsNeedNames:
            return "tags are integer ids: give their names with --labels (in id order), or a model whose config.json names them in id2label"
        case .unknownFormat: return "cannot tell the format: use CoNLL columns (.conll, .txt, .iob, .bio, .tsv) or JSON lines (.jsonl, .json)"
        }
    }
}

package struct TaggedColumns: Sendable, Equatable {
    /// JSONL: the field holding the words.
    package var words = "tokens"
    /// JSONL: the field holding the tags. CoNLL: a 1-based column number (default: the last column).
    package var tags = "ner_tags"
    package init(words: String = "tokens", tags: String = "ner_tags") {
        self.words = words
        self.tags = tags
    }
}

package enum TaggedSentences {
    /// An error at one line of a file: printed as `FILE:LINE: cause`.
    static func at(_ path: String, _ line: Int, _ cause: TaggedDataError) -> FileError {
        FileError(path: "\(path):\(line)", cause: cause)
    }

    /// Whether a path names JSON lines (else it is read as CoNLL columns).
    package static func isJSONLines(_ path: String) -> Bool {
        let lower = path.lowercased()
        return lower.hasSuffix(".jsonl") || lower.hasSuffix(".json") || lower.hasSuffix(".ndjson")
    }

    package static func read(path: String, columns: TaggedColumns = TaggedColumns()) throws -> [TaggedSentence] {
        let bytes = try withFileContext(path) { try readFileBytes(path) }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw FileError(path: path, cause: TaggedDataError.notUTF8) }
        let sentences = isJSONLines(path) ? try readJSONL(text, path: path, columns: columns)
                                          : try readCoNLL(text, path: path, labelColumn: Int(columns.tags))
        guard !sentences.isEmpty else { throw FileError(path: path, cause: TaggedDataError.empty) }
        return sentences
    }

    /// Lines ending in LF or CRLF (in Swift, "\r\n" is one Character, so splitting on "\n" alone misses it).
    static func lines(_ text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
    }

    /// CoNLL columns. `labelColumn` nil: the last column.
    static func readCoNLL(_ text: String, path: String, labelColumn: Int?) throws -> [TaggedSentence] {
        var sentences: [TaggedSentence] = []
        var words: [String] = [], tags: [String] = [], start = 0
        func flush() {
            if !words.isEmpty { sentences.append(TaggedSentence(words: words, tags: tags, line: start, oneWordPerLine: true)) }
            words = []; tags = []
        }
        for (index, raw) in lines(text).enumerated() {
            let line = index + 1
            let fields = raw.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            if fields.isEmpty { flush(); continue }
            if fields[0] == "-DOCSTART-" { flush(); continue }
            let labelIndex: Int
            if let labelColumn {
                guard labelColumn >= 2, labelColumn <= fields.count else {
                    throw at(path, line, fields.count < 2 ? .noLabelColumn(found: fields.count)
                                                          : .labelColumnOutOfRange(column: labelColumn, columns: fields.count))
                }
                labelIndex = labelColumn - 1
            } else {
                guard fields.count >= 2 else { throw at(path, line, .noLabelColumn(found: fields.count)) }
                labelIndex = fields.count - 1
            }
            if words.isEmpty { start = line }
            words.append(fields[0])
            tags.append(fields[labelIndex])
        }
        flush()
        return sentences
    }

    static func readJSONL(_ text: String, path: String, columns: TaggedColumns) throws -> [TaggedSentence] {
        var sentences: [TaggedSentence] = []
        for (index, raw) in lines(text).enumerated() {
            let line = index + 1
            let trimmed = raw.trimmingCharacters(in: " \t\r")
            if trimmed.isEmpty { continue }
            let value: JSONValue
            do { value = try JSONReader.parse(String(trimmed)) } catch { throw at(path, line, .notJSON("\(error)")) }
            guard let object = value.objectValue else { throw at(path, line, .notJSON("found \(value.kindDescription)")) }
            guard let wordItems = object[columns.words], !wordItems.isNull else { throw at(path, line, .missingField(columns.words)) }
            guard let words = wordItems.arrayValue?.compactMap(\.stringValue), words.count == wordItems.arrayValue?.count else {
                throw at(path, line, .wrongType(field: columns.words, expected: "a list of strings"))
            }
            guard let tagItems = object[columns.tags], !tagItems.isNull else { throw at(path, line, .missingField(columns.tags)) }
            guard let list = tagItems.arrayValue else { throw at(path, line, .wrongType(field: columns.tags, expected: "a list of tag names or ids")) }
            var tags: [String] = []
            let ids = list.first.map { $0.stringValue == nil } ?? false
            for item in list {
                if !ids, let name = item.stringValue { tags.append(name) }
                else if ids, case .number(let number) = item, let id = number.intValue, id >= 0 { tags.append(String(id)) }
                else { throw at(path, line, .wrongType(field: columns.tags, expected: "a list of tag names, or of integer ids")) }
            }
            guard words.count == tags.count else { throw at(path, line, .lengthMismatch(words: words.count, tags: tags.count)) }
            if words.isEmpty { continue }
            sentences.append(TaggedSentence(words: words, tags: tags, line: line, tagsAreIDs: ids))
        }
        return sentences
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return s
    }
}
