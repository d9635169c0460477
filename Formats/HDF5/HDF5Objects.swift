// Files, groups and datasets as Swift classes that own their libhdf5 identifier and close it exactly
// once — on `close()` (which reports errors) or when the value is released. Every call goes through
// `HDF5Library.run`, so libhdf5 never prints; failures become `HDF5Error`s naming the object.
// Object creation uses the property lists h5py 3 uses (no timestamps, intermediate groups created,
// earliest file format), so the same call sequence writes the same bytes as h5py.
// This file holds what they share (HDF5Object: identifiers, attributes); HDF5File.swift, HDF5Group.swift and
// HDF5Dataset.swift hold one class each.

import CHDF5
import TensorCore

/// How a group member is linked.
package enum HDF5LinkKind: String, Sendable { case hard, soft, external }

/// What a link in a group points to.
package enum HDF5ObjectKind: String, Sendable { case group, dataset, namedDatatype = "named datatype", other = "other object" }

/// A group or a dataset: anything with a path and attributes.
package class HDF5Object {
    /// The object's path in the file (for messages), e.g. `/bert/tf_bert_model`.
    package let path: String
    private(set) var id: hid_t
    private let closeFunction: @convention(c) (hid_t) -> herr_t
    /// Keeps the file open while any of its objects is alive.
    let file: HDF5File

    init(id: hid_t, path: String, file: HDF5File, close: @convention(c) (hid_t) -> herr_t) {
        self.id = id
        self.path = path
        self.file = file
        self.closeFunction = close
    }

    deinit {
        let id = self.id, closeFunction = self.closeFunction
        if id >= 0 { HDF5Library.run { _ = closeFunction(id) } }
    }

    /// Closes now; later use is a programmer error.
    package func close() throws {
        guard id >= 0 else { return }
        let result = HDF5Library.run { closeFunction(id) }
        id = -1
        if result < 0 { throw HDF5Library.failure("close", path) }
    }

    func childPath(_ name: String) -> String { path == "/" ? "/" + name : path + "/" + name }

    // MARK: Attributes

    /// Attribute names in name order.
    package func attributeNames() throws -> [String] {
        try HDF5Library.run {
            final class Names { var list: [String] = [] }
            let names = Names()
            let box = Unmanaged.passRetained(names)
            defer { box.release() }
            var index: hsize_t = 0
            let status = H5Aiterate2(id, H5_INDEX_NAME, H5_ITER_INC, &index, { _, name, _, data in
                guard let name, let data else { return -1 }
                Unmanaged<Names>.fromOpaque(data).takeUnretainedValue().list.append(String(cString: name))
                return 0
            }, box.toOpaque())
            guard status >= 0 else { throw HDF5Library.failure("list the attributes of", path) }
            return names.list
        }
    }

    package func hasAttribute(_ name: String) throws -> Bool {
        try HDF5Library.run {
            let exists = H5Aexists(id, name)
            guard exists >= 0 else { throw HDF5Library.failure("look up attribute '\(name)' of", path) }
            return exists > 0
        }
    }

    /// An attribute's datatype and shape (nil shape: a null dataspace).
    package func attributeInfo(_ name: String) throws -> (type: HDF5TypeDescription, shape: [Int]?) {
        try HDF5Library.run {
            let attribute = try openAttribute(name)
            defer { H5Aclose(attribute) }
            let type = H5Aget_type(attribute), space = H5Aget_space(attribute)
            defer { if type >= 0 { H5Tclose(type) }; if space >= 0 { H5Sclose(space) } }
            guard type >= 0, space >= 0 else { throw HDF5Library.failure("read the type of attribute '\(name)' of", path) }
            return (HDF5TypeDescription.of(type), try HDF5Dataspace.shape(space, object: "\(path)@\(name)"))
        }
    }

    /// Reads an attribute: strings (fixed or variable length, any padding), numbers, or empty.
    package func readAttribute(_ name: String) throws -> HDF5AttributeValue {
        try HDF5Library.run {
            let attribute = try openAttribute(name)
            defer { H5Aclose(attribute) }
            return try HDF5AttributeIO.read(attribute, object: path, name: name)
        }
    }

    /// Creates (replacing) a string attribute, 1-D or scalar, stored as h5py stores `bytes`
    /// (variable-length ASCII), `str` (variable-length UTF-8) or a NumPy `S` array (fixed, NULLPAD).
    package func writeStringAttribute(_ name: String, _ values: [String], scalar: Bool = false,
                                     storage: HDF5StringStorage = .variableASCII) throws {
        precondition(!scalar || values.count == 1, "a scalar attribute holds one value")
        try HDF5Library.run {
            try HDF5AttributeIO.writeStrings(on: id, object: path, name: name, values, scalar: scalar, storage: storage)
        }
    }

    /// Creates (replacing) a 1-D float64 attribute; `[]` is what Keras writes for a layer without weights.
    package func writeFloat64Attribute(_ name: String, _ values: [Double]) throws {
        try HDF5Library.run { try HDF5AttributeIO.writeFloat64(on: id, object: path, name: name, values) }
    }

    private func openAttribute(_ name: String) throws -> hid_t {
        let attribute = H5Aopen(id, name, HDF5Library.defaultPlist)
        guard attribute >= 0 else {
            let causes = HDF5Library.errorStack()
            if H5Aexists(id, name) == 0 { throw HDF5Error.missingAttribute(object: path, name: name) }
            throw HDF5Error.library(operation: "open attribute '\(name)' of", object: path, causes: causes)
        }
        return attribute
    }
}

/// How string attributes are written.
package enum HDF5StringStorage: Sendable {
    /// Variable-length, ASCII, NULLTERM: h5py 3 for Python `bytes` (what Keras writes).
    case variableASCII
    /// Variable-length, UTF-8, NULLTERM: h5py 3 for Python `str`.
    case variableUTF8
    /// Fixed-length ASCII NULLPAD of `size` bytes (nil: as long as the longest value): h5py for a NumPy
    /// `S` array (and h5py 2 for Keras' lists of bytes).
    case fixedASCII(size: Int?)
}

/// A decoded attribute.
package enum HDF5AttributeValue: Equatable, Sendable {
    case strings([String], scalar: Bool)
    case floats([Double], scalar: Bool)
    case integers([Int64], scalar: Bool)
    /// No elements at all (shape with a zero, or a null dataspace), whatever the datatype.
    case empty(datatype: HDF5TypeDescription)
    case unsupported(datatype: HDF5TypeDescription)

    /// The strings, `[]` for an empty attribute, nil for anything else.
    package var stringList: [String]? {
        switch self {
        case .strings(let values, _): return values
        case .empty: return []
        default: return nil
        }
    }
}
