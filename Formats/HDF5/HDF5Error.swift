// Everything that can go wrong reading or writing HDF5 checkpoints, each case naming the HDF5 object
// (or tensor) and what was expected. The file path is attached once by the caller (`FileError`).

import TensorCore

package enum HDF5Error: Error, CustomStringConvertible, Equatable {
    /// A libhdf5 call failed; `causes` is its error stack, outermost first.
    case library(operation: String, object: String, causes: [String])
    case notFound(path: String)
    case wrongObjectKind(path: String, expected: String, found: String)
    case missingAttribute(object: String, name: String)
    case attributeNotStrings(object: String, name: String, found: String)
    case invalidUTF8(object: String, what: String)
    case unsupportedDatatype(object: String, datatype: String)
    case unsupportedDataspace(object: String, reason: String)
    case sizeOverflow(object: String)
    case tooLarge(object: String, bytes: Int, limit: Int)
    case unbackedData(object: String, bytes: Int, stored: Int)
    case storageOutsideFile(dataset: String, offset: UInt64, size: UInt64, fileSize: Int)
    case tooDeep(path: String, limit: Int)

    // Keras layout
    case layerMissing(layer: String)
    case weightMissing(layer: String, weight: String)
    case conflictingDuplicate(name: String, first: String, second: String)
    case duplicateMappedName(name: String, first: String, second: String)

    // Writing
    case invalidTensorName(name: String, reason: String)
    case dtypeNotStorable(tensor: String, dtype: String, hint: String)
    case notKerasBert(reason: String)
    case kerasShapeMismatch(tensor: String, expected: [Int], actual: [Int])
    case untiedDecoder(tensor: String, tiedTo: String)

    package var description: String {
        switch self {
        case .library(let operation, let object, let causes):
            let what = object.isEmpty ? operation : "\(operation) '\(object)'"
            guard let reason = causes.last else { return "\(what) failed" }
            // The innermost entry is the specific reason; the one below the API call, when it reads
            // "unable to …", says what libhdf5 was doing when it met it ("unable to read superblock").
            let context = causes.count >= 3 && causes[1].hasPrefix("unable to") ? " (\(causes[1]))" : ""
            return "\(what) failed\(context): \(reason)"
        case .notFound(let path):
            return "no object '\(path)' in the file"
        case .wrongObjectKind(let path, let expected, let found):
            return "'\(path)' is a \(found), expected a \(expected)"
        case .missingAttribute(let object, let name):
            return "'\(object)' has no attribute '\(name)'"
        case .attributeNotStrings(let object, let name, let found):
            return "attribute '\(name)' of '\(object)' must hold strings, found \(found)"
        case .invalidUTF8(let object, let what):
            return "\(what) of '\(object)' is not valid UTF-8"
        case .unsupportedDatatype(let object, let datatype):
            return "'\(object)' has datatype \(datatype), which is not a tensor element type"
        case .unsupportedDataspace(let object, let reason):
            return "'\(object)': \(reason)"
        case .sizeOverflow(let object):
            return "'\(object)': the byte size of its shape overflows"
        case .tooLarge(let object, let bytes, let limit):
            return "'\(object)' declares \(SystemMemory.describe(Double(bytes))), more than this machine's memory "
                + "(\(SystemMemory.describe(Double(limit)))): the file is damaged, or too large for this machine"
        case .unbackedData(let object, let bytes, let stored):
            return "'\(object)' declares \(bytes) bytes but the file stores only \(stored) bytes of it, more than any "
                + "compression expands: the file is damaged"
        case .storageOutsideFile(let dataset, let offset, let size, let fileSize):
            return "dataset '\(dataset)' claims \(size) bytes at offset \(offset), past the end of the file (\(fileSize) bytes)"
        case .tooDeep(let path, let limit):
            return "'\(path)': groups nested deeper than \(limit) levels (a link cycle?)"
        case .layerMissing(let layer):
            return "layer '\(layer)' is listed in 'layer_names' but the file has no group '/\(layer)'"
        case .weightMissing(let layer, let weight):
            return "weight '\(weight)' is listed in 'weight_names' of layer '\(layer)' but the file has no dataset '/\(layer)/\(weight)'"
        case .conflictingDuplicate(let name, let first, let second):
            return "weights '\(first)' and '\(second)' both map to '\(name)' but hold different values"
        case .duplicateMappedName(let name, let first, let second):
            return "datasets '\(first)' and '\(second)' both map to tensor '\(name)'"
        case .invalidTensorName(let name, let reason):
            return "tensor '\(name)' cannot be stored in HDF5: \(reason)"
        case .dtypeNotStorable(let tensor, let dtype, let hint):
            return "tensor '\(tensor)' is \(dtype), which this HDF5 layout cannot store\(hint.isEmpty ? "" : "; \(hint)")"
        case .notKerasBert(let reason):
            return "not a BERT checkpoint the Keras tf_model.h5 layout can hold (\(reason)); use --layout plain"
        case .kerasShapeMismatch(let tensor, let expected, let actual):
            return "tensor '\(tensor)' has shape \(Shape.describe(actual)), expected \(Shape.describe(expected))"
        case .untiedDecoder(let tensor, let tiedTo):
            return "'\(tensor)' differs from '\(tiedTo)', but TensorFlow BERT ties them (the file can hold only one)"
        }
    }
}
