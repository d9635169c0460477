// Which model families bertkit runs, decided from config.json before a weight is read. transformers' Auto
// classes pick the architecture from `model_type` (models/auto/configuration_auto.py, CONFIG_MAPPING, v5.24.0);
// bertkit does the same and refuses what it cannot build, instead of building a BERT and finding no weight
// that fits it. The list of families grows here, and only here.

import TensorCore

public enum ModelFamily: String, CaseIterable, Sendable {
    case bert

    /// The start of the family's transformers class names (`BertForTokenClassification`; TensorFlow's
    /// `TFBertModel` carries a `TF` before it).
    var classPrefix: String {
        switch self {
        case .bert: return "Bert"
        }
    }

    /// "bert" (later "bert, distilbert, roberta"): what error messages offer.
    public static var supportedNames: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// The family a parsed config.json describes. `model_type` decides, as in AutoConfig. A config without
    /// one (BertConfig.from_pretrained reads those) is judged by its first `architectures` entry, and one
    /// that names neither is taken as BERT, the only family whose bare configs bertkit has always read.
    public static func identify(config json: JSONValue) throws(ModelFamilyError) -> ModelFamily {
        guard let object = json.objectValue else { return .bert }   // BertConfig reports the shape of the file
        if let item = object["model_type"], !item.isNull {
            guard let name = item.stringValue else { throw .modelTypeNotAString(JSONWriter.compact(item)) }
            guard let family = ModelFamily(rawValue: name) else { throw .unsupportedModelType(name) }
            return family
        }
        if let first = object["architectures"]?.arrayValue?.first?.stringValue {
            let bare = first.hasPrefix("TF") ? String(first.dropFirst(2)) : first
            guard let family = allCases.first(where: { bare.hasPrefix($0.classPrefix) }) else {
                throw .unsupportedArchitecture(first)
            }
            return family
        }
        return .bert
    }
}

public enum ModelFamilyError: Error, CustomStringConvertible, Equatable {
    case unsupportedModelType(String)
    case unsupportedArchitecture(String)
    case modelTypeNotAString(String)

    public var description: String {
        switch self {
        case .unsupportedModelType(let name):
            return "model_type '\(name)' is not supported (supported: \(ModelFamily.supportedNames))"
        case .unsupportedArchitecture(let name):
            return "architectures names '\(name)' and no model_type: not a model of a supported type (supported: \(ModelFamily.supportedNames))"
        case .modelTypeNotAString(let value):
            return "model_type must be a string, not \(value)"
        }
    }
}
