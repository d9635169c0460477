// Extractive question-answering data in the two shapes people have: the official nested SQuAD 1.1 / 2.0 JSON
// (`data → paragraphs → qas`, `is_impossible`, empty `answers` for questions without one) and the flattened records
// run_qa.py reads (`{"id", "question", "context", "answers": {"text": [...], "answer_start": [...]}}`), either as a
// JSON object with a `data` list or as JSON lines. Every answer is checked against its context at `answer_start`
// (Python `str` indices: Unicode scalars); one that is not there is an error naming the question id.

import TensorCore

package struct QAExample: Sendable, Equatable {
    package struct Answer: Sendable, Equatable {
        package var text: String
        /// Character (Unicode scalar) offset of the answer in the context.
        package var start: Int
        package init(text: String, start: Int) { self.text = text; self.start = start }
    }
    package var id: String
    package var question: String
    package var context: String
    /// Empty for a question without an answer in its context (SQuAD 2.0).
    package var answers: [Answer]

    package init(id: String, question: String, context: String, answers: [Answer]) {
        self.id = id
        self.question = question
        self.context = context
        self.answers = answers
    }
}

package enum SQuADError: Error, CustomStringConvertible, Equatable {
    case notJSON(String)
    case noData
    case missingField(question: String?, field: String)
    case wrongType(question: String?, field: String, expected: String)
    case answerNotInContext(question: String, answer: String, start: Int, found: String)
    case answerCountMismatch(question: String, texts: Int, starts: Int)
    case duplicateID(String)
    case empty
    case notUTF8

    package var description: String {
        func named(_ id: String?) -> String { id.map { "question '\($0)': " } ?? "" }
        switch self {
        case .notJSON(let reason): return "not SQuAD JSON or JSON lines: \(reason)"
        case .noData: return "no 'data' list (expected SQuAD's {\"data\": [...]} or one JSON record per line)"
        case .missingField(let id, let field): return "\(named(id))no '\(field)'"
        case .wrongType(let id, let field, let expected): return "\(named(id))'\(field)' must be \(expected)"
        case .answerNotInContext(let id, let answer, let start, let found):
            return "question '\(id)': the answer '\(answer)' is not at answer_start \(start) of its context (found '\(found)')"
        case .answerCountMismatch(let id, let texts, let starts):
            return "question '\(id)': \(texts) answer texts but \(starts) answer_start values"
        case .duplicateID(let id): return "question id '\(id)' appears twice"
        case .empty: return "no questions"
        case .notUTF8: return "the file is not UTF-8"
        }
    }
}

package enum SQuADData {
    package static func read(path: String) throws -> [QAExample] {
        try withFileContext(path) {
            let bytes = try readFileBytes(path)
            guard let text = String(validating: bytes, as: UTF8.self) else { throw SQuADError.notUTF8 }
            let examples = try parse(text)
            guard !examples.isEmpty else { throw SQuADError.empty }
            var seen = Set<String>()
            for example in examples where !seen.insert(example.id).inserted { throw SQuADError.duplicateID(example.id) }
            return examples
        }
    }

    /// A whole JSON document (nested SQuAD or `{"data": [records]}`), else JSON lines of records.
    package static func parse(_ text: String) throws -> [QAExample] {
        if let document = try? JSONReader.parse(text), let object = document.objectValue {
            guard let data = object["data"]?.arrayValue else { throw SQuADError.noData }
            var examples: [QAExample] = []
            for item in data {
                if item["paragraphs"] != nil { examples += try nested(item) } else { examples.append(try record(item)) }
            }
            return examples
        }
        var examples: [QAExample] = []
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
            let value: JSONValue
            do { value = try JSONReader.parse(String(line)) } catch { throw SQuADError.notJSON("line \(index + 1): \(error)") }
            examples.append(try record(value))
        }
        return examples
    }

    /// One article of the official format: its paragraphs' contexts and their questions.
    static func nested(_ article: JSONValue) throws -> [QAExample] {
        guard let paragraphs = article["paragraphs"]?.arrayValue else {
            throw SQuADError.wrongType(question: nil, field: "paragraphs", expected: "a list")
        }
        var examples: [QAExample] = []
        for paragraph in paragraphs {
            guard let context = paragraph["context"]?.stringValue else { throw SQuADError.missingField(question: nil, field: "context") }
            guard let qas = paragraph["qas"]?.arrayValue else { throw SQuADError.missingField(question: nil, field: "qas") }
            for qa in qas {
                let id = try identifier(qa)
                guard let question = qa["question"]?.stringValue else { throw SQuADError.missingField(question: id, field: "question") }
                let impossible = qa["is_impossible"]?.boolValue ?? false
                var answers: [QAExample.Answer] = []
                if !impossible {
                    guard let list = qa["answers"]?.arrayValue else { throw SQuADError.missingField(question: id, field: "answers") }
                    for answer in list {
                        guard let text = answer["text"]?.stringValue else { throw SQuADError.missingField(question: id, field: "answers[].text") }
                        guard let start = answer["answer_start"]?.intValue else {
                            throw SQuADError.wrongType(question: id, field: "answers[].answer_start", expected: "an integer")
                        }
                        answers.append(.init(text: text, start: start))
                    }
                }
                examples.append(try checked(QAExample(id: id, question: question, context: context, answers: answers)))
            }
        }
        return examples
    }

    /// run_qa.py's flattened record.
    static func record(_ value: JSONValue) throws -> QAExample {
        guard value.objectValue != nil else { throw SQuADError.notJSON("a record is \(value.kindDescription), not an object") }
        let id = try identifier(value)
        guard let question = value["question"]?.stringValue else { throw SQuADError.missingField(question: id, field: "question") }
        guard let context = value["context"]?.stringValue else { throw SQuADError.missingField(question: id, field: "context") }
        guard let answers = value["answers"], answers.objectValue != nil else { throw SQuADError.missingField(question: id, field: "answers") }
        guard let texts = answers["text"]?.arrayValue?.compactMap(\.stringValue), texts.count == answers["text"]?.arrayValue?.count else {
            throw SQuADError.wrongType(question: id, field: "answers.text", expected: "a list of strings")
        }
        guard let starts = answers["answer_start"]?.arrayValue?.compactMap(\.intValue), starts.count == answers["answer_start"]?.arrayValue?.count else {
            throw SQuADError.wrongType(question: id, field: "answers.answer_start", expected: "a list of integers")
        }
        guard texts.count == starts.count else { throw SQuADError.answerCountMismatch(question: id, texts: texts.count, starts: starts.count) }
        return try checked(QAExample(id: id, question: question, context: context,
                                     answers: zip(texts, starts).map { QAExample.Answer(text: $0, start: $1) }))
    }

    static func identifier(_ value: JSONValue) throws -> String {
        guard let item = value["id"] else { throw SQuADError.missingField(question: nil, field: "id") }
        if let id = item.stringValue { return id }
        if let id = item.intValue { return String(id) }
        throw SQuADError.wrongType(question: nil, field: "id", expected: "a string")
    }

    /// Every answer must be its context's text at `answer_start`.
    static func checked(_ example: QAExample) throws -> QAExample {
        let context = Array(example.context.unicodeScalars)
        for answer in example.answers {
            let length = answer.text.unicodeScalars.count
            let inside = answer.start >= 0 && answer.start + length <= context.count
            if !inside || !context[answer.start..<(answer.start + length)].elementsEqual(answer.text.unicodeScalars) {
                let lower = min(max(answer.start, 0), context.count), upper = min(max(answer.start + length, lower), context.count)
                var found = String.UnicodeScalarView()
                found.append(contentsOf: context[lower..<upper])
                throw SQuADError.answerNotInContext(question: example.id, answer: answer.text, start: answer.start, found: String(found))
            }
        }
        return example
    }
}
