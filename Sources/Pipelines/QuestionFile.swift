// `bertkit answer --file`: questions for the question-answering pipeline, as JSON lines of
// {"question": …, "context": …}. Lines that are empty or only whitespace are skipped; a bad line is an error
// naming the file and its line.

import TensorCore
import Tokenizer
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

extension TextInference {
    /// Answers every question of a question file (QuestionFile), in order; an error in one names the file and its line.
    package func answer(questionFile path: String, options: AnswerOptions)
        throws -> [(question: String, context: String, answers: [SpanAnswer])] {
        // (Mapped, not appended in a do/catch loop: Swift 6.3's optimiser garbled the answers' Double scores in that
        // shape in release builds.)
        try QuestionFile.read(path).enumerated().map { i, pair in
            do {
                return (pair.question, pair.context, try answer(question: pair.question, context: pair.context, options: options))
            } catch let error as TokenizerError {
                throw FileError(path: "\(path):\(i + 1)", cause: error)
            }
        }
    }
}
