// Everything that can be wrong with a safetensors file or index, each case carrying the tensor name
// and the numbers involved. The file path is attached by the caller (see `FileError`).

import TensorCore

package enum SafetensorsError: Error, CustomStringConvertible, Equatable {
    case fileTooSmall(size: Int)
    case headerTooLarge(length: UInt64)
    case headerPastEnd(length: UInt64, fileSize: Int)
    case headerNotUTF8
    case headerNotJSON(String)
    case headerNotObject(found: String)
    case duplicateMetadata
    case metadataNotObject(found: String)
    case metadataValueNotString(key: String, found: String)
    case duplicateTensor(name: String)
    case entryNotObject(tensor: String, found: String)
    case missingField(tensor: String, field: String)
    case unknownDType(tensor: String, dtype: String)
    case invalidShape(tensor: String, reason: String)
    case invalidOffsets(tensor: String, reason: String)
    case sizeOverflow(tensor: String)
    case packedTensorNotWholeBytes(tensor: String, dtype: String, shape: [Int])
    case byteSpanMismatch(tensor: String, dtype: String, shape: [Int], expected: Int, actual: Int)
    case gap(tensor: String, begin: Int, previousEnd: Int)
    case overlap(tensor: String, begin: Int, previous: String, previousEnd: Int)
    case tensorPastEnd(tensor: String, end: Int, dataSize: Int)
    case trailingBytes(coveredEnd: Int, dataSize: Int)
    case headerTooLargeToWrite(length: Int)

    package var description: String {
        switch self {
        case .fileTooSmall(let size):
            return "file has \(size) bytes, too small for the 8-byte header length"
        case .headerTooLarge(let length):
            return "header length \(length) is larger than the 100000000-byte limit"
        case .headerPastEnd(let length, let fileSize):
            return "header length \(length) runs past the end of the file (\(fileSize) bytes)"
        case .headerNotUTF8:
            return "header is not valid UTF-8"
        case .headerNotJSON(let reason):
            return "header is not JSON: \(reason)"
        case .headerNotObject(let found):
            return "header must be a JSON object, found \(found)"
        case .duplicateMetadata:
            return "header has '__metadata__' twice"
        case .metadataNotObject(let found):
            return "'__metadata__' must be an object of strings, found \(found)"
        case .metadataValueNotString(let key, let found):
            return "metadata value for '\(key)' must be a string, found \(found)"
        case .duplicateTensor(let name):
            return "tensor '\(name)' appears twice in the header"
        case .entryNotObject(let tensor, let found):
            return "tensor '\(tensor)' must be described by an object, found \(found)"
        case .missingField(let tensor, let field):
            return "tensor '\(tensor)' has no '\(field)'"
        case .unknownDType(let tensor, let dtype):
            return "tensor '\(tensor)' has unknown dtype '\(dtype)'"
        case .invalidShape(let tensor, let reason):
            return "tensor '\(tensor)' has an invalid shape: \(reason)"
        case .invalidOffsets(let tensor, let reason):
            return "tensor '\(tensor)' has invalid data_offsets: \(reason)"
        case .sizeOverflow(let tensor):
            return "tensor '\(tensor)': byte size of its shape overflows"
        case .packedTensorNotWholeBytes(let tensor, let dtype, let shape):
            return "tensor '\(tensor)': \(dtype) \(Shape.describe(shape)) does not fill a whole number of bytes"
        case .byteSpanMismatch(let tensor, let dtype, let shape, let expected, let actual):
            return "tensor '\(tensor)' is \(dtype) \(Shape.describe(shape)) = \(expected) bytes, but its data_offsets span \(actual) bytes"
        case .gap(let tensor, let begin, let previousEnd):
            return previousEnd == 0
                ? "tensor '\(tensor)' starts at byte \(begin) of the data section, leaving bytes 0..<\(begin) unused"
                : "tensor '\(tensor)' starts at byte \(begin) but the previous tensor ends at byte \(previousEnd), leaving a gap"
        case .overlap(let tensor, let begin, let previous, let previousEnd):
            return "tensor '\(tensor)' starts at byte \(begin), inside tensor '\(previous)' which ends at byte \(previousEnd)"
        case .tensorPastEnd(let tensor, let end, let dataSize):
            return "tensor '\(tensor)' ends at byte \(end) but the data section has \(dataSize) bytes"
        case .trailingBytes(let coveredEnd, let dataSize):
            return "the tensors cover \(coveredEnd) bytes but the data section has \(dataSize) bytes (trailing data)"
        case .headerTooLargeToWrite(let length):
            return "header would be \(length) bytes, over the 100000000-byte limit"
        }
    }
}
