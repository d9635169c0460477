// Builds an ONNX graph node by node and writes the model: protobuf through swift-protobuf's generated code for the
// onnx.proto subset in Generated/ (SPEC.md §1 has the command that made it). Weights are initializers stored as
// little-endian `raw_data`; past `externalDataThreshold` bytes in all, every initializer of 1 KB or more goes to one
// `<file>.data` beside the model (ONNX external data, as onnx.external_data_helper writes it), because a protobuf
// message cannot pass 2 GB.

import Foundation
import SwiftProtobuf
import TensorCore

package struct ONNXGraphBuilder {
    var graph = Onnx_GraphProto()
    private var names = Set<String>()
    private var counter = 0
    private var initializerNames = Set<String>()

    package init(name: String) { graph.name = name }

    /// The graph's nodes and initializers so far (for reports and tests).
    package var nodeCount: Int { graph.node.count }
    package var initializerCount: Int { graph.initializer.count }

    package mutating func input(_ name: String, _ type: ONNXElementType, _ dimensions: [ONNXDimension]) {
        graph.input.append(Self.valueInfo(name, type, dimensions))
    }

    package mutating func output(_ name: String, _ type: ONNXElementType, _ dimensions: [ONNXDimension]) {
        graph.output.append(Self.valueInfo(name, type, dimensions))
    }

    /// Adds `tensor` as an initializer named `name` (once: a second call with the same name is a no-op, so shared
    /// weights are stored once). Returns the name, for use as a node input.
    @discardableResult
    package mutating func initializer(_ name: String, _ tensor: Tensor) throws(ONNXError) -> String {
        guard !initializerNames.contains(name) else { return name }
        guard let type = ONNXElementType(dtype: tensor.dtype) else {
            throw .dtypeWithoutONNXType(tensor: name, dtype: tensor.dtype.rawValue)
        }
        var proto = Onnx_TensorProto()
        proto.name = name
        proto.dataType = type.rawValue
        proto.dims = tensor.shape.map(Int64.init)
        proto.rawData = Data(tensor.data.bytes)
        graph.initializer.append(proto)
        initializerNames.insert(name)
        return name
    }

    /// A float32 constant (an initializer: ONNX Runtime's fusions look constants up as initializers).
    @discardableResult
    package mutating func constant(_ name: String, floats values: [Float], shape: [Int] = []) -> String {
        try! initializer(name, Tensor(float32: values, shape: shape))
    }

    /// An int64 constant.
    @discardableResult
    package mutating func constant(_ name: String, int64s values: [Int64], shape: [Int]? = nil) -> String {
        try! initializer(name, Tensor(int64: values, shape: shape ?? [values.count]))
    }

    /// Appends a node; returns the name of its (first) output. `outputs` nil: one output, named after the op.
    @discardableResult
    package mutating func node(_ op: String, _ inputs: [String], outputs: [String]? = nil,
                              _ attributes: [ONNXAttribute] = []) -> String {
        counter += 1
        var node = Onnx_NodeProto()
        node.opType = op
        node.name = "/\(op)_\(counter)"
        node.input = inputs
        node.output = outputs ?? ["/\(op)_\(counter)_output"]
        node.attribute = attributes.map(Self.attribute)
        graph.node.append(node)
        return node.output[0]
    }

    /// The model: IR version 8 (the version for opset 17, onnx.helper.VERSION_TABLE) unless opset needs more.
    func model(opset: Int, producer: String, producerVersion: String, metadata: [(String, String)]) -> Onnx_ModelProto {
        var model = Onnx_ModelProto()
        model.irVersion = opset <= 17 ? 8 : opset <= 19 ? 9 : 10
        var set = Onnx_OperatorSetIdProto()
        set.domain = ""
        set.version = Int64(opset)
        model.opsetImport = [set]
        model.producerName = producer
        model.producerVersion = producerVersion
        model.graph = graph
        model.metadataProps = metadata.map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }
        return model
    }

    /// Past this many bytes of weights the graph keeps them as external data (2 GB, protobuf's limit, less room for
    /// the graph itself).
    package static let externalDataThreshold = (1 << 31) - (64 << 20)

    /// Writes the model to `path` (and `path.data` when the weights go external). Both files are filled as temp
    /// files and renamed only when both are complete, the data file first: a failure leaves neither behind, and an
    /// earlier export's pair is never split.
    package func write(to path: String, opset: Int = 17, producer: String = "bertkit", producerVersion: String = "",
                      metadata: [(String, String)] = [], externalDataThreshold: Int = ONNXGraphBuilder.externalDataThreshold) throws {
        var model = model(opset: opset, producer: producer, producerVersion: producerVersion, metadata: metadata)
        let weightBytes = model.graph.initializer.reduce(0) { $0 + $1.rawData.count }
        let slash = path.utf8.lastIndex(of: UInt8(ascii: "/"))
        let folder = slash.map { String(path[...$0]) } ?? ""
        let dataName = String(slash.map { path[path.index(after: $0)...] } ?? path[...]) + ".data"
        try withFileContext(path) {
            var data: AtomicFileWriter? = nil
            defer { data?.abandon() }
            if weightBytes > externalDataThreshold {
                let writer = try withFileContext(folder + dataName) { try AtomicFileWriter(destination: folder + dataName) }
                data = writer
                var offset = 0
                for index in model.graph.initializer.indices where model.graph.initializer[index].rawData.count >= 1024 {
                    let bytes = model.graph.initializer[index].rawData
                    // onnx.external_data_helper aligns each tensor to 4 KB when the file is large; any offset is valid.
                    let padding = (4096 - offset % 4096) % 4096
                    try writer.writeZeros(padding)
                    offset += padding
                    try bytes.withUnsafeBytes { try writer.write($0) }
                    model.graph.initializer[index].rawData = Data()
                    model.graph.initializer[index].dataLocation = .external
                    model.graph.initializer[index].externalData = [("location", dataName), ("offset", String(offset)),
                                                                   ("length", String(bytes.count))].map { key, value in
                        var entry = Onnx_StringStringEntryProto()
                        entry.key = key
                        entry.value = value
                        return entry
                    }
                    offset += bytes.count
                }
            }
            let bytes: [UInt8]
            do { bytes = try model.serializedBytes() } catch { throw ONNXError.tooLarge(bytes: weightBytes, external: data != nil) }
            let graph = try AtomicFileWriter(destination: path)
            defer { graph.abandon() }
            try graph.write(bytes)
            try data?.commit()
            try graph.commit()
        }
    }

    static func valueInfo(_ name: String, _ type: ONNXElementType, _ dimensions: [ONNXDimension]) -> Onnx_ValueInfoProto {
        var info = Onnx_ValueInfoProto()
        info.name = name
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = type.rawValue
        var shape = Onnx_TensorShapeProto()
        shape.dim = dimensions.map { dimension in
            var dim = Onnx_TensorShapeProto.Dimension()
            switch dimension {
            case .fixed(let n): dim.dimValue = Int64(n)
            case .named(let name): dim.dimParam = name
            }
            return dim
        }
        tensor.shape = shape
        var typeProto = Onnx_TypeProto()
        typeProto.tensorType = tensor
        info.type = typeProto
        return info
    }

    static func attribute(_ attribute: ONNXAttribute) -> Onnx_AttributeProto {
        var proto = Onnx_AttributeProto()
        switch attribute {
        case .int(let name, let value):
            proto.name = name
            proto.type = .int
            proto.i = Int64(value)
        case .ints(let name, let values):
            proto.name = name
            proto.type = .ints
            proto.ints = values.map(Int64.init)
        case .float(let name, let value):
            proto.name = name
            proto.type = .float
            proto.f = value
        }
        return proto
    }
}
