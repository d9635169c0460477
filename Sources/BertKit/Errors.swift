// The one error type of BertKit's public API.

internal import TensorCore
internal import ModelCatalog
internal import Pipelines
internal import Tokenizer

/// An error from BertKit, with a description that names the file (and line, tensor or question) and what is wrong —
/// the text `bertkit` prints after `error:`.
///
/// Match on the case to react to a kind of failure; print ``description`` to tell a person.
public enum BertKitError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An argument of the call is out of its range (a batch size of 0, a `topK` below 1, an empty text list where
    /// texts are needed).
    case invalidArgument(String)
    /// The model is not one BertKit runs: another architecture, or a head that does not fit the call (``PretrainedModel/answer(_:context:options:)``
    /// on a text classifier).
    case unsupportedModel(String)
    /// A file is missing, unreadable, or not what it should be. `path` names it; the message says what is wrong.
    case file(path: String, message: String)
    /// Anything else, in BertKit's words.
    case failed(String)

    /// What went wrong, in one line.
    public var description: String {
        switch self {
        case .invalidArgument(let message), .unsupportedModel(let message), .failed(let message): return message
        case .file(let path, let message): return "\(path): \(message)"
        }
    }

    /// The public face of an error thrown inside BertKit: errors that name a file become ``file(path:message:)``,
    /// another architecture ``unsupportedModel(_:)``; the message is the internal error's own description.
    static func wrapping(_ error: any Error) -> BertKitError {
        switch error {
        case let error as BertKitError: return error
        case let error as FileError:
            if error.cause is ModelFamilyError { return .unsupportedModel(error.description) }
            return .file(path: error.path, message: String(describing: error.cause))
        case let error as ModelFamilyError: return .unsupportedModel(error.description)
        case let error as TokenizerError:
            // Encoding's errors are about the call's texts and options; the others about the tokenizer's files.
            switch error {
            case .secondSequenceNotProvided, .sequenceTooShort, .invalidOptions: return .invalidArgument(error.description)
            default: return .failed(error.description)
            }
        case let error as InferenceError:
            if case .wrongHead = error { return .unsupportedModel(error.description) }
            return .invalidArgument(error.description)
        default: return .failed(String(describing: error))
        }
    }

    /// Runs `body`, turning whatever it throws into a ``BertKitError``.
    static func mapping<T>(_ body: () throws -> T) throws(BertKitError) -> T {
        do { return try body() } catch { throw wrapping(error) }
    }
}
