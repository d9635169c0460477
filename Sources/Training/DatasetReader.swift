// Labelled text examples from CSV, TSV or JSONL files: a text column (and optionally a second text for
// pairs) and a label column holding names or integer ids. Every problem is reported with the file and
// line before any training starts.

import TensorCore

package struct TextExample: Sendable, Equatable {
    package var text: String
    package var pair: String?
    /// The label as written in the file (a name, an integer id, a number, or a JSON list for multi-label).
    package var label: RawLabel?
    /// 1-based line (or record) number in the source file.
    package var line: Int

    package init(text: String, pair: String? = nil, label: RawLabel?, line: Int) {
        self.text = text; self.pair = pair; self.label = label; self.line = line
    }
}

package enum RawLabel: Sendable, Equatable {
    case text(String)
    case number(Double)
    case list([Double])
}

package enum DatasetError: Error, CustomStringConvertible {
    case empty
    case missingColumn(line: Int, column: String, available: [String])
    case missingField(line: Int, column: String)
    case badJSON(line: Int, reason: String)
    case badCSV(line: Int, reason: String)
    case wrongType(line: Int, column: String, found: String)
    case unknownLabel(line: Int, label: String, known: [String])
    case unknownFormat(String)

    package var description: String {
        switch self {
        case .empty: return "no examples"
        case .missingColumn(let line, let column, let available):
            return "line \(line): no column '\(column)' (columns: \(available.joined(separator: ", ")))"
        case .missingField(let line, let column): return "line \(line): no '\(column)'"
        case .badJSON(let line, let reason): return "line \(line): not a JSON object: \(reason)"
        case .badCSV(let line, let reason): return "line \(line): \(reason)"
        case .wrongType(let line, let column, let found): return "line \(line): '\(column)' is \(found), expected text"
        case .unknownLabel(let line, let label, let known):
            return "line \(line): unknown label '\(label)' (known: \(known.prefix(20).joined(separator: ", ")))"
        case .unknownFormat(let name): return "cannot tell the format of \(name): use a .csv, .tsv or .jsonl file"
        }
    }
}

package struct ColumnNames: Sendable {
    package var text = "text"
    package var pair: String? = nil
    package var label = "label"
    package init(text: String = "text", pair: String? = nil, label: String = "label") {
        self.text = text; self.pair = pair; self.label = label
    }
}

package enum DatasetReader {
    package enum Format: Sendable { case csv, tsv, jsonl }

    package static func format(of path: String) -> Format? {
        let lower = path.lowercased()
        if lower.hasSuffix(".csv") { return .csv }
        if lower.hasSuffix(".tsv") || lower.hasSuffix(".tab") { return .tsv }
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".json") || lower.hasSuffix(".ndjson") { return .jsonl }
        return nil
    }

    /// Reads `path` (format from the extension). `requireLabels` false allows unlabelled text (prediction).
    package static func read(path: String, columns: ColumnNames = ColumnNames(), requireLabels: Bool = true) throws -> [TextExample] {
        try withFileContext(path) {
            guard let format = format(of: path) else { throw DatasetError.unknownFormat(path) }
            let bytes = try readFileBytes(path)
            guard let text = String(validating: bytes, as: UTF8.self) else { throw DatasetError.badCSV(line: 1, reason: "the file is not UTF-8") }
            let examples: [TextExample]
            switch format {
            case .jsonl: examples = try readJSONL(text, columns: columns, requireLabels: requireLabels)
            case .csv: examples = try readDelimited(text, separator: ",", columns: columns, requireLabels: requireLabels)
            case .tsv: examples = try readDelimited(text, separator: "\t", columns: columns, requireLabels: requireLabels)
            }
            guard !examples.isEmpty else { throw DatasetError.empty }
            return examples
        }
    }

    static func readJSONL(_ text: String, columns: ColumnNames, requireLabels: Bool) throws -> [TextExample] {
        var examples: [TextExample] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            let trimmed = rawLine.trimmingCharacters(in: " \t\r")
            if trimmed.isEmpty { continue }
            let value: JSONValue
            do { value = try JSONReader.parse(trimmed) } catch { throw DatasetError.badJSON(line: line, reason: error.description) }
            guard let object = value.objectValue else { throw DatasetError.badJSON(line: line, reason: "found \(value.kindDescription)") }
            func string(_ column: String) throws -> String? {
                guard let field = object[column], !field.isNull else { return nil }
                guard let text = field.stringValue else { throw DatasetError.wrongType(line: line, column: column, found: field.kindDescription) }
                return text
            }
            guard let first = try string(columns.text) else { throw DatasetError.missingField(line: line, column: columns.text) }
            var pair: String? = nil
            if let pairColumn = columns.pair {
                guard let second = try string(pairColumn) else { throw DatasetError.missingField(line: line, column: pairColumn) }
                pair = second
            }
            var label: RawLabel? = nil
            if let field = object[columns.label], !field.isNull {
                if let name = field.stringValue { label = .text(name) }
                else if let number = field.doubleValue { label = .number(number) }
                else if let items = field.arrayValue, items.allSatisfy({ $0.doubleValue != nil }) { label = .list(items.map { $0.doubleValue! }) }
                else { throw DatasetError.wrongType(line: line, column: columns.label, found: field.kindDescription) }
            } else if requireLabels {
                throw DatasetError.missingField(line: line, column: columns.label)
            }
            examples.append(TextExample(text: first, pair: pair, label: label, line: line))
        }
        return examples
    }

    static func readDelimited(_ text: String, separator: Character, columns: ColumnNames, requireLabels: Bool) throws -> [TextExample] {
        let records = try parseDelimited(text, separator: separator)
        guard let header = records.first else { return [] }
        func column(_ name: String) throws -> Int {
            guard let index = header.fields.firstIndex(of: name) else {
                throw DatasetError.missingColumn(line: header.line, column: name, available: header.fields)
            }
            return index
        }
        let textIndex = try column(columns.text)
        let pairIndex = try columns.pair.map(column)
        let labelIndex: Int? = requireLabels ? try column(columns.label) : header.fields.firstIndex(of: columns.label)
        var examples: [TextExample] = []
        for record in records.dropFirst() {
            if record.fields.count == 1 && record.fields[0].isEmpty { continue }   // blank line
            guard record.fields.count == header.fields.count else {
                throw DatasetError.badCSV(line: record.line, reason: "\(record.fields.count) fields, the header has \(header.fields.count)")
            }
            var label: RawLabel? = nil
            if let labelIndex {
                let raw = record.fields[labelIndex].trimmingCharacters(in: " ")
                if raw.isEmpty {
                    if requireLabels { throw DatasetError.missingField(line: record.line, column: columns.label) }
                } else {
                    label = Double(raw).map(RawLabel.number) ?? .text(raw)
                }
            }
            examples.append(TextExample(text: record.fields[textIndex], pair: pairIndex.map { record.fields[$0] },
                                        label: label, line: record.line))
        }
        return examples
    }

    /// RFC 4180 records: quoted fields may hold separators, doubled quotes and newlines.
    static func parseDelimited(_ text: String, separator: Character) throws -> [(fields: [String], line: Int)] {
        var records: [(fields: [String], line: Int)] = []
        var fields: [String] = []
        var field = ""
        var inQuotes = false, fieldWasQuoted = false
        var line = 1, recordLine = 1
        var iterator = text.makeIterator()
        var pending: Character? = nil
        func next() -> Character? {
            if let p = pending { pending = nil; return p }
            return iterator.next()
        }
        while let c = next() {
            if inQuotes {
                if c == "\"" {
                    if let following = next() {
                        if following == "\"" { field.append("\"") } else { inQuotes = false; pending = following }
                    } else { inQuotes = false }
                } else {
                    if c == "\n" || c == "\r\n" { line += 1 }
                    field.append(c)
                }
                continue
            }
            switch c {
            case "\"":
                guard field.isEmpty && !fieldWasQuoted else { throw DatasetError.badCSV(line: line, reason: "a quote inside an unquoted field") }
                inQuotes = true
                fieldWasQuoted = true
            case separator:
                fields.append(field); field = ""; fieldWasQuoted = false
            case "\n", "\r\n", "\r":
                fields.append(field); field = ""; fieldWasQuoted = false
                records.append((fields, recordLine))
                fields = []
                line += 1
                recordLine = line
            default:
                if fieldWasQuoted { throw DatasetError.badCSV(line: line, reason: "text after a closing quote") }
                field.append(c)
            }
        }
        if inQuotes { throw DatasetError.badCSV(line: recordLine, reason: "a quoted field is never closed") }
        if !field.isEmpty || !fields.isEmpty || fieldWasQuoted {
            fields.append(field)
            records.append((fields, recordLine))
        }
        return records
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self[...]
        while let first = s.first, set.contains(first) { s.removeFirst() }
        while let last = s.last, set.contains(last) { s.removeLast() }
        return String(s)
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String { self[...].trimmingCharacters(in: set) }
}
