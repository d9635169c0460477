// Everything that can be wrong with an ONNX file bertkit reads or writes. The file path is attached by the caller.

package enum ONNXError: Error, CustomStringConvertible, Equatable {
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
    case tooLarge(bytes: Int, external: Bool)
    case dtypeWithoutONNXType(tensor: String, dtype: String)

    package var description: String {
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
        case .tooLarge(let bytes, let external):
            return "the graph cannot be serialized (\(bytes) bytes of weights\(external ? ", kept as external data" : ""); protobuf's limit is 2 GB)"
        case .dtypeWithoutONNXType(let tensor, let dtype):
            return "tensor '\(tensor)' is \(dtype), which has no ONNX element type"
        }
    }
}
