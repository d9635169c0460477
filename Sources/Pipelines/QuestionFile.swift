// `bertkit answer --file`: questions for the question-answering pipeline, as JSON lines of
// {"question": …, "context": …}. Lines that are empty or only whitespace are skipped; a bad line is an error
// naming the file and its line.

import TensorCore
import Tasks

package enum QuestionFile {
    package static func read(_ path: String) throws -> [(question: String, context: String)] {
        var pairs: [(String, String)] = []
        for (index, line) in try TextLines.read(path).enumerated()
        where !line.unicodeScalars.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) {
            let at = "\(path):\(index + 1)"
            let value = try withFileContext(at) { try JSONReader.parse(line) }
            guard let question = value["question"]?.stringValue, let context = value["context"]?.stringValue else {
                throw FileError(path: at, cause: SQuADError.missingField(question: nil, field: "question' or 'context"))
            }
            pairs.append((question, context))
        }
        if pairs.isEmpty { throw FileError(path: path, cause: SQuADError.empty) }
        return pairs
    }
}
