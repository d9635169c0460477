// The ONNX codec on its own: a graph the builder writes reads back with the same initializers, inputs and outputs,
// inline and as external data; external data that points outside the model's folder or past its file is refused.
// ONNX Runtime and onnx.checker on bertkit's BERT graphs are Tests/Interop/test_onnx_interop.py.

import Testing
import Foundation
import TensorCore
import ONNX
import TestSupport

@Suite struct ONNXCodecTests {
    static func builder() -> ONNXGraphBuilder {
        var g = ONNXGraphBuilder(name: "test")
        g.input("x", .float, [.named("batch_size"), .fixed(4)])
        let w = try! g.initializer("layer.weight", Tensor(float32: (0..<4096).map { Float($0) / 7 }, shape: [1024, 4]))
        let b = try! g.initializer("layer.bias", Tensor(float32: [1, -2, 3, -4], shape: [4]))
        _ = try! g.initializer("layer.weight", Tensor(float32: [9], shape: [1]))   // a second call keeps the first
        _ = g.constant("const::shape", int64s: [0, -1])
        _ = g.node("Add", [g.node("MatMul", ["x", g.node("Transpose", [w], [.ints("perm", [1, 0])])]), b], outputs: ["y"])
        g.output("y", .float, [.named("batch_size"), .fixed(1024)])
        return g
    }

    @Test(arguments: [false, true])
    func readsBackWhatItWrote(external: Bool) throws {
        let folder = TemporaryDirectory()
        let path = folder.file("m.onnx")
        try Self.builder().write(to: path, externalDataThreshold: external ? 0 : Int.max)
        #expect(folder.contents == (external ? ["m.onnx", "m.onnx.data"] : ["m.onnx"]))
        let file = try ONNXFile.read(path: path)
        #expect(file.opsets.map(\.version) == [17] && file.irVersion == 8 && file.producer == "bertkit")
        #expect(file.inputs == [ONNXValueInfo(name: "x", elementType: .float, dimensions: [.named("batch_size"), .fixed(4)])])
        #expect(file.outputs.map(\.name) == ["y"] && file.nodeCount == 3)
        #expect(file.initializers.names == ["layer.weight", "layer.bias", "const::shape"])
        let weight = try #require(file.initializers["layer.weight"])
        #expect(weight.shape == [1024, 4] && weight.float32Values() == (0..<4096).map { Float($0) / 7 })
        #expect(file.initializers["const::shape"]?.int64Values() == [0, -1])
        let bytes = try readFileBytes(path)
        #expect(ONNXFile.looksLikeONNX(Array(bytes.prefix(16))))
    }

    @Test func externalDataOutsideTheFolderOrPastItsFileIsRefused() throws {
        let folder = TemporaryDirectory()
        let path = folder.file("m.onnx")
        try Self.builder().write(to: path, externalDataThreshold: 0)
        let original = try readFileBytes(path)
        func rewritten(_ from: String, _ to: String) throws -> String {
            // The location and offset are protobuf strings: swap them for ones of the same length.
            var bytes = original
            let needle = Array(from.utf8), replacement = Array(to.utf8)
            let index = try #require((0...(bytes.count - needle.count)).first { bytes[$0..<$0 + needle.count].elementsEqual(needle) })
            bytes.replaceSubrange(index..<index + needle.count, with: replacement)
            let out = folder.file("bad.onnx")
            try Data(bytes).write(to: URL(fileURLWithPath: out))
            return out
        }
        let outside = try rewritten("m.onnx.data", "../x.onnx.d")
        let refused = #expect(throws: FileError.self) { try ONNXFile.read(path: outside) }
        #expect((refused?.cause as? ONNXError) == .externalDataOutsideFolder(tensor: "layer.weight", location: "../x.onnx.d"))
        let missing = try rewritten("m.onnx.data", "n.onnx.data")
        let error = #expect(throws: FileError.self) { try ONNXFile.read(path: missing) }
        #expect((error?.cause as? ONNXError) == .externalDataMissing(tensor: "layer.weight", location: "n.onnx.data"))
        let truncated = folder.file("m.onnx.data")
        let data = try readFileBytes(truncated)
        try Data(data.prefix(data.count / 2)).write(to: URL(fileURLWithPath: truncated))
        #expect(throws: FileError.self) { try ONNXFile.read(path: path) }
    }

    @Test func everyTruncationIsRefused() throws {
        let folder = TemporaryDirectory()
        let path = folder.file("m.onnx")
        try Self.builder().write(to: path)
        let bytes = try readFileBytes(path)
        for length in stride(from: 1, to: bytes.count, by: 97) {
            let cut = folder.file("cut.onnx")
            try Data(bytes.prefix(length)).write(to: URL(fileURLWithPath: cut))
            #expect(throws: FileError.self, "cut at \(length)") { try ONNXFile.read(path: cut) }
        }
    }
}
