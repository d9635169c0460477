// Reads an ONNX model: the opset, the graph's inputs and outputs, and its initializers as tensors (raw_data or the
// typed repeated fields, or external data in files beside the model). swift-protobuf parses the bytes; every size
// is checked against what the file holds before a tensor is made.

import Foundation
import SwiftProtobuf
import TensorCore

package struct ONNXFile: @unchecked Sendable {
    package var irVersion: Int
    /// (domain, version); "" is the default ai.onnx domain.
    package var opsets: [(domain: String, version: Int)]
    package var producer: String
    package var inputs: [ONNXValueInfo]
    package var outputs: [ONNXValueInfo]
    package var nodeCount: Int
    package var operatorCounts: [(op: String, count: Int)]
    /// Initializers in file order.
    package var initializers: TensorStore
    package var metadata: [(key: String, value: String)]

    package static func read(path: String) throws -> ONNXFile {
        try withFileContext(path) {
            let buffer = try ByteBuffer(mappingFileAt: path)
            let folder = path.utf8.lastIndex(of: UInt8(ascii: "/")).map { String(path[..<$0]) } ?? "."
            return try parse(Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: buffer.baseAddress), count: buffer.count,
                                  deallocator: .none), folder: folder, keepAlive: buffer)
        }
    }

    static func parse(_ data: Data, folder: String, keepAlive: ByteBuffer) throws -> ONNXFile {
        let model: Onnx_ModelProto
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 64
            model = try withExtendedLifetime(keepAlive) { try Onnx_ModelProto(serializedBytes: data, options: options) }
        } catch {
            throw ONNXError.notProtobuf("\(error)")
        }
        guard model.hasGraph else { throw ONNXError.noGraph }
        var store = TensorStore()
        for proto in model.graph.initializer {
            guard !store.contains(proto.name) else { throw ONNXError.duplicateInitializer(proto.name) }
            store[proto.name] = try tensor(proto, folder: folder)
        }
        var counts: [String: Int] = [:]
        for node in model.graph.node { counts[node.opType, default: 0] += 1 }
        return ONNXFile(irVersion: Int(model.irVersion),
                        opsets: model.opsetImport.map { ($0.domain, Int($0.version)) },
                        producer: model.producerName,
                        inputs: model.graph.input.map(valueInfo), outputs: model.graph.output.map(valueInfo),
                        nodeCount: model.graph.node.count,
                        operatorCounts: counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                        initializers: store,
                        metadata: model.metadataProps.map { ($0.key, $0.value) })
    }

    static func valueInfo(_ proto: Onnx_ValueInfoProto) -> ONNXValueInfo {
        let tensor = proto.type.tensorType
        return ONNXValueInfo(name: proto.name, elementType: ONNXElementType(rawValue: tensor.elemType),
                             dimensions: tensor.shape.dim.map { $0.dimParam.isEmpty ? .fixed(Int($0.dimValue)) : .named($0.dimParam) })
    }

    static func tensor(_ proto: Onnx_TensorProto, folder: String) throws -> Tensor {
        let name = proto.name
        guard let type = ONNXElementType(rawValue: proto.dataType) else {
            throw ONNXError.unsupportedDataType(tensor: name, dataType: proto.dataType)
        }
        var shape: [Int] = []
        for dimension in proto.dims {
            guard dimension >= 0, dimension <= Int64(Int32.max) else { throw ONNXError.badDimension(tensor: name, dimension: dimension) }
            shape.append(Int(dimension))
        }
        guard let byteCount = type.dtype.byteCount(of: shape) else { throw ONNXError.sizeOverflow(tensor: name) }
        func checked(_ bytes: [UInt8]) throws -> Tensor {
            guard bytes.count == byteCount else { throw ONNXError.dataSizeMismatch(tensor: name, expected: byteCount, actual: bytes.count) }
            return bytes.withUnsafeBytes { Tensor(dtype: type.dtype, shape: shape, copying: $0) }
        }
        if proto.dataLocation == .external {
            let entries = Dictionary(proto.externalData.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            let location = entries["location"] ?? ""
            // Compared as bytes, as the kernel resolves the path (as Characters, "../\u{301}x" has no ".." part).
            let components = location.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            guard !location.isEmpty, location.utf8.first != UInt8(ascii: "/"), location.utf8.firstIndex(of: 0) == nil,
                  !components.contains(where: { $0.elementsEqual("..".utf8) }) else {
                throw ONNXError.externalDataOutsideFolder(tensor: name, location: location)
            }
            let path = folder + "/" + location
            guard fileExists(path) else { throw ONNXError.externalDataMissing(tensor: name, location: location) }
            let buffer = try withFileContext(path) { try ByteBuffer(mappingFileAt: path) }
            let offset = Int(entries["offset"] ?? "0") ?? -1, length = Int(entries["length"] ?? String(byteCount)) ?? -1
            guard offset >= 0, length >= 0, offset <= buffer.count, length <= buffer.count - offset else {
                throw ONNXError.externalDataRange(tensor: name, location: location, offset: offset, length: length, fileSize: buffer.count)
            }
            guard length == byteCount else { throw ONNXError.dataSizeMismatch(tensor: name, expected: byteCount, actual: length) }
            return Tensor(dtype: type.dtype, shape: shape, copying: UnsafeRawBufferPointer(start: buffer.baseAddress + offset, count: length))
        }
        if proto.hasRawData || byteCount == 0 { return try checked([UInt8](proto.rawData)) }
        // The typed fields: float_data (float), int32_data (int32 and the narrower types, float16/bfloat16 as bits),
        // int64_data, double_data, uint64_data (uint32, uint64).
        var bytes: [UInt8] = []
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        switch type {
        case .float: for v in proto.floatData { append(v.bitPattern) }
        case .double: for v in proto.doubleData { append(v.bitPattern) }
        case .int64: for v in proto.int64Data { append(v) }
        case .uint32: for v in proto.uint64Data { append(UInt32(truncatingIfNeeded: v)) }
        case .uint64: for v in proto.uint64Data { append(v) }
        case .int32: for v in proto.int32Data { append(v) }
        case .int16, .uint16, .float16, .bfloat16: for v in proto.int32Data { append(UInt16(truncatingIfNeeded: v)) }
        case .int8, .uint8, .bool: for v in proto.int32Data { append(UInt8(truncatingIfNeeded: v)) }
        }
        guard bytes.count == byteCount else {
            throw ONNXError.dataSizeMismatch(tensor: name, expected: byteCount, actual: bytes.count)
        }
        return try checked(bytes)
    }

    /// True when `prefix` (a file's first bytes) looks like a serialized ModelProto: field 1 (ir_version, a small
    /// varint) first, then another ModelProto field — how torch, onnx and bertkit all write it.
    package static func looksLikeONNX(_ prefix: [UInt8]) -> Bool {
        guard prefix.count >= 3, prefix[0] == 0x08, (1...64).contains(prefix[1]) else { return false }
        return [0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72].contains(prefix[2])
    }
}
