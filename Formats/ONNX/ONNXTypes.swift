// ONNX element types (onnx.proto `TensorProto.DataType`, onnx 1.23.2) and their safetensors-style dtypes.

import TensorCore

package enum ONNXElementType: Int32, Sendable, CaseIterable {
    case float = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7, bool = 9, float16 = 10
    case double = 11, uint32 = 12, uint64 = 13, bfloat16 = 16

    package var dtype: DType {
        switch self {
        case .float: return .f32
        case .uint8: return .u8
        case .int8: return .i8
        case .uint16: return .u16
        case .int16: return .i16
        case .int32: return .i32
        case .int64: return .i64
        case .bool: return .bool
        case .float16: return .f16
        case .double: return .f64
        case .uint32: return .u32
        case .uint64: return .u64
        case .bfloat16: return .bf16
        }
    }

    package init?(dtype: DType) {
        guard let type = Self.allCases.first(where: { $0.dtype == dtype }) else { return nil }
        self = type
    }

    /// The name onnx.helper prints (`tensor(float)`'s inner word).
    package var name: String {
        switch self {
        case .float: return "float"
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .uint16: return "uint16"
        case .int16: return "int16"
        case .int32: return "int32"
        case .int64: return "int64"
        case .bool: return "bool"
        case .float16: return "float16"
        case .double: return "double"
        case .uint32: return "uint32"
        case .uint64: return "uint64"
        case .bfloat16: return "bfloat16"
        }
    }
}

/// One dimension of a graph input or output: a number, or a name for a dynamic axis (`batch_size`).
package enum ONNXDimension: Sendable, Equatable, CustomStringConvertible {
    case fixed(Int)
    case named(String)

    package var description: String {
        switch self {
        case .fixed(let n): return String(n)
        case .named(let name): return name
        }
    }
}

/// A graph input or output as a reader reports it.
package struct ONNXValueInfo: Sendable, Equatable {
    package var name: String
    package var elementType: ONNXElementType?
    package var dimensions: [ONNXDimension]

    package init(name: String, elementType: ONNXElementType?, dimensions: [ONNXDimension]) {
        self.name = name
        self.elementType = elementType
        self.dimensions = dimensions
    }
}

/// A node attribute, as the builder takes it.
package enum ONNXAttribute: Sendable {
    case int(String, Int)
    case ints(String, [Int])
    case float(String, Float)
}
