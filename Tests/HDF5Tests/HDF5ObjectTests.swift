// The thin libhdf5 layer against files h5py wrote: every attribute storage, group shapes (v1 B-trees
// of many symbol-table nodes, dense link storage), dataset storage variants, and errors that name
// the object and never reach stderr.

import Foundation
import Testing
import HDF5
import TensorCore
import TestSupport

@Suite struct HDF5AttributeTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let entry: [String: AnySendable]
        var testDescription: String { name }
    }

    struct AnySendable: @unchecked Sendable { let value: Any }

    static let cases: [Case] = ((try? H5Fixtures.json("attributes.json")) as? [String: Any] ?? [:])
        .sorted { $0.key < $1.key }
        .map { Case(name: $0.key, entry: ($0.value as! [String: Any]).mapValues(AnySendable.init)) }

    @Test func fixtureListsEveryAttribute() throws {
        let file = try HDF5File.open(H5Fixtures.path("attributes.h5"))
        let names = try file.root().attributeNames()
        #expect(names == Self.cases.map(\.name))
        #expect(names.count >= 15)
    }

    @Test(arguments: cases)
    func attributeReadsAsH5pySaysItIs(_ item: Case) throws {
        let root = try HDF5File.open(H5Fixtures.path("attributes.h5")).root()
        let value = try root.readAttribute(item.name)
        let info = try root.attributeInfo(item.name)
        let kind = item.entry["kind"]!.value as! String
        let scalar = item.entry["scalar"]!.value as! Bool
        let values = item.entry["values"]!.value as! [Any]
        switch kind {
        case "strings":
            #expect(value == .strings(values as! [String], scalar: scalar))
        case "floats":
            #expect(value == .floats(values.map { ($0 as! NSNumber).doubleValue }, scalar: scalar))
        case "integers":
            #expect(value == .integers(values.map { ($0 as! NSNumber).int64Value }, scalar: scalar))
        default:
            #expect(value.stringList == [], "\(value)")
            if case .empty = value {} else { Issue.record("expected empty, got \(value)") }
        }
        let type = item.entry["type"]!.value as! [String: Any]
        if type["string"] as! Bool, case .string(let size, let characterSet, let padding) = info.type {
            #expect(size == (type["variable"] as! Bool ? nil : type["size"] as? Int))
            #expect(characterSet.rawValue == type["cset"] as! String)
            #expect(padding.rawValue == type["padding"] as! String)
        } else {
            #expect(!(type["string"] as! Bool), "h5py says string, we say \(info.type)")
        }
        let shape = item.entry["shape"]!.value as? [Int]
        #expect(info.shape == shape)
    }

    @Test func keraEmptyListIsFloat64OfShapeZero() throws {
        let info = try HDF5File.open(H5Fixtures.path("attributes.h5")).root().attributeInfo("empty_list")
        #expect(info.type == .float(bytes: 8, bigEndian: false, exponentBits: 11, mantissaBits: 52))
        #expect(info.shape == [0])
    }

    @Test func writtenAttributesReadBackWithTheirStorage() throws {
        let folder = TemporaryDirectory()
        let file = try HDF5File.create(folder.file("a.h5"))
        let root = try file.root()
        try root.writeStringAttribute("ascii", ["bert", "dropout_7"])
        try root.writeStringAttribute("utf8", ["ünï", "☃"], storage: .variableUTF8)
        try root.writeStringAttribute("fixed", ["a", "abcd"], storage: .fixedASCII(size: nil))
        try root.writeStringAttribute("fixedWide", ["a"], storage: .fixedASCII(size: 9))
        try root.writeStringAttribute("scalar", ["tensorflow"], scalar: true)
        try root.writeFloat64Attribute("empty", [])
        try root.writeFloat64Attribute("numbers", [1.5, -2])
        try root.writeStringAttribute("ascii", ["replaced"])   // h5py semantics: replace
        try root.close()
        try file.close()

        let back = try HDF5File.open(folder.file("a.h5")).root()
        #expect(try back.readAttribute("ascii") == .strings(["replaced"], scalar: false))
        #expect(try back.readAttribute("utf8") == .strings(["ünï", "☃"], scalar: false))
        #expect(try back.readAttribute("fixed") == .strings(["a", "abcd"], scalar: false))
        #expect(try back.readAttribute("scalar") == .strings(["tensorflow"], scalar: true))
        #expect(try back.readAttribute("numbers") == .floats([1.5, -2], scalar: false))
        #expect(try back.attributeInfo("ascii").type == .string(size: nil, characterSet: .ascii, padding: .nullTerminated))
        #expect(try back.attributeInfo("utf8").type == .string(size: nil, characterSet: .utf8, padding: .nullTerminated))
        #expect(try back.attributeInfo("fixed").type == .string(size: 4, characterSet: .ascii, padding: .nullPadded))
        #expect(try back.attributeInfo("fixedWide").type == .string(size: 9, characterSet: .ascii, padding: .nullPadded))
        #expect(try back.attributeInfo("scalar").shape == [])
        if case .empty(let type) = try back.readAttribute("empty") {
            #expect(type == .float(bytes: 8, bigEndian: false, exponentBits: 11, mantissaBits: 52))
        } else { Issue.record("empty float64 attribute not empty") }
    }

    @Test func missingAttributeIsNamed() throws {
        let root = try HDF5File.open(H5Fixtures.path("attributes.h5")).root()
        #expect(throws: HDF5Error.missingAttribute(object: "/", name: "nope")) { try root.readAttribute("nope") }
        #expect(try root.hasAttribute("nope") == false)
    }
}

@Suite struct HDF5GroupTests {
    @Test(arguments: ["groups_earliest.h5", "groups_latest.h5"])
    func everyChildIsListedWhateverTheStorage(_ name: String) throws {
        let expected = try H5Fixtures.json("groups.json") as! [String: [String: [String]]]
        let root = try HDF5File.open(H5Fixtures.path(name)).root()
        #expect(try root.childNames() == expected[name]!["/"]!)
        let many = try root.openGroup("many")
        let links = try many.links()
        #expect(links.map(\.name) == expected[name]!["many"]!)
        #expect(links.count == 301)
        #expect(links.filter { $0.kind == .soft }.count == 300)
        // Soft links resolve to their target.
        #expect(try many.kind(of: "link_123") == .dataset)
        #expect(try many.kind(of: "weight:0") == .dataset)
        #expect(try root.kind(of: "deep/er/est") == .group)
        #expect(try root.kind(of: "deep/nothing/here") == nil)
        #expect(try root.exists("deep/er") && !root.exists("deep/ur"))
    }

    @Test func openingTheWrongKindSaysWhatItIs() throws {
        let root = try HDF5File.open(H5Fixtures.path("groups_earliest.h5")).root()
        #expect(throws: HDF5Error.wrongObjectKind(path: "/target", expected: "group", found: "dataset")) { try root.openGroup("target") }
        #expect(throws: HDF5Error.wrongObjectKind(path: "/deep", expected: "dataset", found: "group")) { try root.openDataset("deep") }
        #expect(throws: HDF5Error.notFound(path: "/absent")) { try root.openDataset("absent") }
    }

    @Test func requireGroupCreatesIntermediatesOnce() throws {
        let folder = TemporaryDirectory()
        let file = try HDF5File.create(folder.file("g.h5"))
        let root = try file.root()
        let leaf = try root.requireGroup("a/b/c")
        #expect(leaf.path == "/a/b/c")
        let again = try root.requireGroup("a/b/c")
        #expect(again.path == "/a/b/c")
        #expect(try root.openGroup("a").childNames() == ["b"])
        try file.close()
    }
}

@Suite struct HDF5DatasetTests {
    @Test func storageVariantsReadAsH5pyReadsThem() throws {
        let expected = try H5Fixtures.store("plain/storage_variants.safetensors")
        let layouts = try H5Fixtures.json("plain/storage_variants_layouts.json") as! [String: String]
        let path = H5Fixtures.path("plain/storage_variants.h5")
        let file = try HDF5File.open(path)
        let root = try file.root()
        let mapping = try ByteBuffer(mappingFileAt: path)
        for (name, tensor) in expected.entries {
            let dataset = try root.openDataset(name.replacing(".", with: "/"))
            #expect(try dataset.storage().layout.rawValue == layouts[name], "\(name)")
            let read = try HDF5TensorIO.read(dataset, mapping: mapping)
            #expect(read.isBitwiseEqual(to: tensor), "\(name)")
        }
        #expect(try root.openDataset("gzip/weight").storage().filters == ["shuffle", "gzip"])
        #expect(try root.openDataset("fletcher/weight").storage().filters == ["fletcher32"])
        #expect(try root.openDataset("bigendian/weight").datatype() == .float(bytes: 4, bigEndian: true, exponentBits: 8, mantissaBits: 23))
    }

    @Test func contiguousLittleEndianDataIsAViewOfTheFile() throws {
        let path = H5Fixtures.path("plain/storage_variants.h5")
        let root = try HDF5File.open(path).root()
        let mapping = try ByteBuffer(mappingFileAt: path)
        let copied = try HDF5TensorIO.read(root.openDataset("gzip/weight"), mapping: mapping)
        #expect(copied.data.buffer !== mapping)
        let bigEndian = try HDF5TensorIO.read(root.openDataset("bigendian/weight"), mapping: mapping)
        #expect(bigEndian.data.buffer !== mapping)
        let genuine = H5Fixtures.path("tf-h5/tf_bert_model/tf_model.h5")
        let genuineRoot = try HDF5File.open(genuine).root()
        let genuineMapping = try ByteBuffer(mappingFileAt: genuine)
        let words = try HDF5TensorIO.read(genuineRoot.openDataset("bert/tf_bert_model/bert/embeddings/word_embeddings/weight:0"),
                                          mapping: genuineMapping)
        #expect(words.data.buffer === genuineMapping && words.shape == [1000, 32])
        let viaLibrary = try HDF5TensorIO.read(genuineRoot.openDataset("bert/tf_bert_model/bert/embeddings/word_embeddings/weight:0"),
                                               mapping: nil)
        #expect(viaLibrary.isBitwiseEqual(to: words))
    }

    @Test func chunkedCompressedDatasetsRoundTrip() throws {
        let folder = TemporaryDirectory()
        let values = (0..<600).map { Float($0) * 0.25 - 7 }
        let tensor = Tensor(float32: values, shape: [20, 30])
        let file = try HDF5File.create(folder.file("c.h5"))
        let root = try file.root()
        let options = HDF5DatasetOptions(chunks: [8, 8], deflateLevel: 6, shuffle: true)
        try HDF5TensorIO.write(tensor, in: root, name: "w", options: options).close()
        try HDF5TensorIO.write(Tensor(int64: [1, -2, 3], shape: [3]), in: root, name: "ids", options: HDF5DatasetOptions(chunks: [2])).close()
        try file.close()
        let back = try HDF5File.open(folder.file("c.h5")).root()
        let dataset = try back.openDataset("w")
        #expect(try dataset.storage().layout == .chunked)
        #expect(try dataset.storage().filters == ["shuffle", "gzip"])
        #expect(try HDF5TensorIO.read(dataset, mapping: nil).isBitwiseEqual(to: tensor))
        #expect(try HDF5TensorIO.read(back.openDataset("ids"), mapping: nil).int64Values() == [1, -2, 3])
    }

    @Test func halfPrecisionTypeIsH5pys() throws {
        // h5py's IEEE_F16LE: 2 bytes, exponent 5 bits, mantissa 10 bits (the datatype message must match).
        let half = try #require(try HDF5Datatype.forTensor(.f16))
        #expect(half.typeDescription == .float(bytes: 2, bigEndian: false, exponentBits: 5, mantissaBits: 10))
        #expect(half.typeDescription.dtype == .f16)
        #expect(try HDF5Datatype.forTensor(.bf16) == nil)
    }
}

@Suite struct HDF5ErrorTests {
    @Test func libraryErrorsCarryTheLibrarysReasonAndPrintNothing() throws {
        var caught: (any Error)?
        let printed = capturingStandardError {
            do { _ = try HDF5File.open(H5Fixtures.path("malformed/truncated_half.h5")) } catch { caught = error }
        }
        #expect(!printed.contains(libhdf5ErrorPrintout), "libhdf5 printed: \(printed)")
        let error = try #require(caught as? HDF5Error)
        guard case .library(let operation, _, let causes) = error else { Issue.record("\(error)"); return }
        #expect(operation == "open HDF5 file")
        #expect(causes.last?.contains("truncated file") == true, "\(causes)")
        #expect("\(error)".hasPrefix("open HDF5 file failed (unable to read superblock): truncated file"), "\(error)")
    }

    @Test func missingFileIsAnError() {
        #expect(throws: HDF5Error.self) { _ = try HDF5File.open("/nonexistent/file.h5") }
    }

    @Test func createInMissingFolderFails() {
        #expect(throws: HDF5Error.self) { _ = try HDF5File.create("/nonexistent-folder/x.h5") }
    }
}

@Suite struct TransposeTests {
    /// Output element at multi-index i is input element at the permuted index (NumPy's definition).
    func naivePermute(_ values: [Float], shape: [Int], axes: [Int]) -> [Float] {
        let outShape = axes.map { shape[$0] }
        var strides = [Int](repeating: 1, count: shape.count)
        for i in stride(from: shape.count - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * shape[i + 1] }
        return (0..<values.count).map { flat in
            var rest = flat, offset = 0
            for axis in (0..<outShape.count).reversed() {
                offset += (rest % outShape[axis]) * strides[axes[axis]]
                rest /= outShape[axis]
            }
            return values[offset]
        }
    }

    @Test(arguments: [([37, 53], [1, 0]), ([600, 701], [1, 0]), ([3, 4, 5], [2, 1, 0]), ([2, 3, 4, 5], [3, 2, 0, 1]), ([1, 7], [1, 0]), ([0, 4], [1, 0])])
    func permutationMatchesTheDefinition(_ shape: [Int], _ axes: [Int]) throws {
        let count = shape.reduce(1, *)
        let values = (0..<count).map { Float($0) * 1.5 + 0.25 }
        let tensor = Tensor(float32: values, shape: shape)
        let kind: KerasNames.Transpose = axes == [1, 0] ? .simple : axes.count == 3 ? .conv1D : .conv2D
        let out = kind.apply(to: tensor)
        #expect(out.shape == axes.map { shape[$0] })
        #expect(out.float32Values() == naivePermute(values, shape: shape, axes: axes))
    }

    @Test func halfAndDoubleKernelsTransposeToo() throws {
        let values = (0..<(33 * 65)).map { Float($0) }
        for dtype in [DType.f16, .f64, .i8] {
            let tensor = Tensor(float32: values, shape: [33, 65]).converted(to: dtype) ?? Tensor(
                dtype: .i8, shape: [33, 65], data: ByteView(buffer: ByteBuffer(copying: values.map { UInt8(truncatingIfNeeded: Int($0)) })))
            let out = KerasNames.Transpose.simple.apply(to: tensor)
            #expect(out.dtype == dtype && out.shape == [65, 33])
            #expect(out.float32Values() == naivePermute(tensor.float32Values()!, shape: [33, 65], axes: [1, 0]))
        }
    }
}
