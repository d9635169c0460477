// What can go wrong loading or using a tokenizer. File errors are wrapped in TensorCore's `FileError`
// (which names the file) at the loading boundary; these cases say what is wrong inside it.

import TensorCore

package enum TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The model directory holds neither tokenizer.json nor vocab.txt.
    case noVocabulary(directory: String)
    case emptyVocabulary
    case invalidUTF8(line: Int)
    case unknownTokenMissing(String)
    case invalidJSON(String)
    /// A JSON member has the wrong type or value: `path` like `model.vocab["a"]`.
    case invalidField(path: String, expected: String)
    case unsupported(component: String, type: String)
    /// A special token the post-processor template uses has no entry.
    case templateTokenMissing(String)
    // Encoding (the reference's truncation errors, same wording).
    case secondSequenceNotProvided
    case sequenceTooShort
    case invalidOptions(String)
    // Byte-level BPE files.
    /// A merge that is not two tokens separated by one space: `location` is "line 7" (merges.txt) or "model.merges[6]".
    case invalidMerge(location: String, found: String)
    /// A merge whose token (or the concatenation it makes) is not in the vocabulary.
    case mergeTokenNotInVocabulary(location: String, token: String)
    /// A setting bertkit's byte-level BPE tokenizer does not implement: `path` = `value`.
    case unsupportedSetting(path: String, value: String)

    package var description: String {
        switch self {
        case .noVocabulary(let directory):
            return "\(directory): no tokenizer.json or vocab.txt (not a tokenizer directory)"
        case .emptyVocabulary: return "the vocabulary is empty"
        case .invalidUTF8(let line): return "line \(line) is not valid UTF-8"
        case .unknownTokenMissing(let token): return "the unknown token '\(token)' is not in the vocabulary"
        case .invalidJSON(let reason): return reason
        case .invalidField(let path, let expected): return "\(path) must be \(expected)"
        case .unsupported(let component, let type):
            return "unsupported \(component) '\(type)' (bertkit reads BERT WordPiece tokenizers)"
        case .templateTokenMissing(let token): return "post_processor: no special token '\(token)' for the template"
        case .secondSequenceNotProvided: return "Truncation error: Second sequence not provided"
        case .sequenceTooShort: return "Truncation error: Sequence to truncate too short to respect the provided max_length"
        case .invalidOptions(let reason): return reason
        case .invalidMerge(let location, let found):
            return "\(location): a merge must be two tokens separated by one space, found \(JSONWriter.quote(found))"
        case .mergeTokenNotInVocabulary(let location, let token):
            return "\(location): merge token \(JSONWriter.quote(token)) is not in the vocabulary"
        case .unsupportedSetting(let path, let value):
            return "\(path) \(value) is not supported by bertkit's byte-level BPE tokenizer"
        }
    }
}
