// Everything that can be wrong with an ONNX file bertkit reads or writes. The file path is attached by the caller.

public enum ONNXError: Error, CustomStringConvertible, Equatable {
    case notProtobuf(String)
    case noGraph
    case unsupportedDataType(tensor: String, dataType: Int32)
    case dataSizeMismatch(tensor: String, expected: Int, actual: Int)
    case badDimension(tensor: String, dimension: Int64)
    case sizeOverflow(tensor: String)
    case externalDataOutsideFolder(tensor: String, location: String)
    case externalDataMissing(tensor: String, location: String)
    case externalDataRange(tensor: String, location: String, offset: Int, length: Int, fileSize: Int)
    case duplicateInitializer(String)
    case tooLarge(bytes: Int)

    public var description: String {
        switch self {
        case .notProtobuf(let reason):
            return "not an ONNX model (protobuf ModelProto): \(reason)"
        case .noGraph:
            return "the ONNX model has no graph"
        case .unsupportedDataType(let tensor, let dataType):
            return "initializer '\(tensor)' has ONNX data type \(dataType), which bertkit does not read"
        case .dataSizeMismatch(let tensor, let expected, let actual):
            return "initializer '\(tensor)': its type and dims need \(expected) bytes but it holds \(actual)"
        case .badDimension(let tensor, let dimension):
            return "initializer '\(tensor)' has dimension \(dimension)"
        case .sizeOverflow(let tensor):
            return "initializer '\(tensor)': the byte size of its dims overflows"
        case .externalDataOutsideFolder(let tensor, let location):
            return "initializer '\(tensor)' keeps its data in '\(location)', outside the model's folder"
        case .externalDataMissing(let tensor, let location):
            return "initializer '\(tensor)' keeps its data in '\(location)', which does not exist"
        case .externalDataRange(let tensor, let location, let offset, let length, let fileSize):
            return "initializer '\(tensor)': bytes \(offset)..<\(offset + length) of '\(location)' are past its end (\(fileSize) bytes)"
        case .duplicateInitializer(let name):
            return "initializer '\(name)' appears twice"
        case .tooLarge(let bytes):
            return "the graph would be \(bytes) bytes, over protobuf's 2 GB limit (external data was not used)"
        }
    }
}
