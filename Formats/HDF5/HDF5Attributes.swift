// Reading and writing attributes. Reading accepts every string storage Keras checkpoints use in the
// wild — variable-length (h5py 3) and fixed-length NULLPAD (h5py 2), NULLTERM and SPACEPAD too, ASCII
// or UTF-8 — plus numbers, and reports any zero-element attribute (Keras' empty float64 list) as
// empty. Writing follows h5py 3's `attrs[name] = value`: delete an existing attribute, create, write.

import CHDF5
import TensorCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

enum HDF5AttributeIO {
    static func read(_ attribute: hid_t, object: String, name: String) throws -> HDF5AttributeValue {
        let type = H5Aget_type(attribute), space = H5Aget_space(attribute)
        defer { if type >= 0 { H5Tclose(type) }; if space >= 0 { H5Sclose(space) } }
        guard type >= 0, space >= 0 else { throw HDF5Library.failure("read the type of attribute '\(name)' of", object) }
        let description = HDF5TypeDescription.of(type)
        let label = "\(object)@\(name)"
        guard let shape = try HDF5Dataspace.shape(space, object: label) else { return .empty(datatype: description) }
        guard let count = Shape.elementCount(shape) else { throw HDF5Error.sizeOverflow(object: label) }
        if count == 0 { return .empty(datatype: description) }
        let scalar = shape.isEmpty
        switch description {
        case .string(let size, let characterSet, let padding):
            let strings = try size == nil
                ? readVariableStrings(attribute, count: count, utf8: characterSet == .utf8, object: object, name: name)
                : readFixedStrings(attribute, type: type, count: count, size: size!, padding: padding, object: object, name: name)
            return .strings(strings, scalar: scalar)
        case .float:
            var values = [Double](repeating: 0, count: count)
            guard H5Aread(attribute, HDF5Library.nativeDouble, &values) >= 0 else {
                throw HDF5Library.failure("read attribute '\(name)' of", object)
            }
            return .floats(values, scalar: scalar)
        case .integer, .boolean:
            var values = [Int64](repeating: 0, count: count)
            guard H5Aread(attribute, HDF5Library.nativeInt64, &values) >= 0 else {
                throw HDF5Library.failure("read attribute '\(name)' of", object)
            }
            return .integers(values, scalar: scalar)
        default:
            return .unsupported(datatype: description)
        }
    }

    private static func readVariableStrings(_ attribute: hid_t, count: Int, utf8: Bool, object: String, name: String) throws -> [String] {
        let memoryType = try HDF5Datatype.variableString(utf8: utf8)
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        guard H5Aread(attribute, memoryType.id, &pointers) >= 0 else {
            throw HDF5Library.failure("read attribute '\(name)' of", object)
        }
        defer { for pointer in pointers where pointer != nil { H5free_memory(pointer) } }
        return try pointers.map { pointer in
            guard let pointer else { return "" }
            let length = strlen(pointer)
            let bytes = UnsafeRawBufferPointer(start: pointer, count: length)
            return try decode(bytes, object: object, name: name)
        }
    }

    private static func readFixedStrings(_ attribute: hid_t, type: hid_t, count: Int, size: Int,
                                         padding: HDF5TypeDescription.StringPadding, object: String, name: String) throws -> [String] {
        let (total, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow else { throw HDF5Error.sizeOverflow(object: "\(object)@\(name)") }
        let memoryType = H5Tcopy(type)
        guard memoryType >= 0 else { throw HDF5Library.failure("read attribute '\(name)' of", object) }
        defer { H5Tclose(memoryType) }
        var buffer = [UInt8](repeating: 0, count: max(total, 1))
        guard H5Aread(attribute, memoryType, &buffer) >= 0 else {
            throw HDF5Library.failure("read attribute '\(name)' of", object)
        }
        return try (0..<count).map { index in
            var item = buffer[(index * size)..<((index + 1) * size)]
            switch padding {
            case .nullTerminated, .nullPadded:
                if let end = item.firstIndex(of: 0) { item = item[..<end] }
            case .spacePadded:
                while let last = item.last, last == 0x20 || last == 0 { item = item.dropLast() }
            }
            return try item.withUnsafeBytes { try decode($0, object: object, name: name) }
        }
    }

    private static func decode(_ bytes: UnsafeRawBufferPointer, object: String, name: String) throws -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw HDF5Error.invalidUTF8(object: object, what: "attribute '\(name)'")
        }
        return text
    }

    // MARK: Writing

    static func writeStrings(on location: hid_t, object: String, name: String, _ values: [String], scalar: Bool,
                             storage: HDF5StringStorage) throws {
        let type: HDF5Datatype
        switch storage {
        case .variableASCII: type = try HDF5Datatype.variableString(utf8: false)
        case .variableUTF8: type = try HDF5Datatype.variableString(utf8: true)
        case .fixedASCII(let size):
            let longest = values.map(\.utf8.count).max() ?? 1
            precondition(size.map { $0 >= longest } ?? true, "fixed string size shorter than a value")
            type = try HDF5Datatype.fixedString(size: size ?? longest)
        }
        let attribute = try create(on: location, object: object, name: name, type: type.id, shape: scalar ? [] : [values.count])
        defer { H5Aclose(attribute) }
        let status: herr_t
        switch storage {
        case .variableASCII, .variableUTF8:
            // The memory type is the file type (char* elements): libhdf5 then stores the strings in the
            // global heap exactly as h5py's conversion path does.
            var cStrings = values.map { strdup($0) }
            defer { cStrings.forEach { free($0) } }
            status = H5Awrite(attribute, type.id, &cStrings)
        case .fixedASCII:
            let size = H5Tget_size(type.id)
            var buffer = [UInt8](repeating: 0, count: max(size * values.count, 1))
            for (index, value) in values.enumerated() {
                for (offset, byte) in value.utf8.enumerated() { buffer[index * size + offset] = byte }
            }
            status = H5Awrite(attribute, type.id, &buffer)
        }
        guard status >= 0 else { throw HDF5Library.failure("write attribute '\(name)' of", object) }
    }

    static func writeFloat64(on location: hid_t, object: String, name: String, _ values: [Double]) throws {
        let type = try HDF5Datatype.copy(of: HDF5Library.ieeeF64LE)
        let attribute = try create(on: location, object: object, name: name, type: type.id, shape: [values.count])
        defer { H5Aclose(attribute) }
        var data = values.isEmpty ? [0] : values
        guard H5Awrite(attribute, HDF5Library.nativeDouble, &data) >= 0 else {
            throw HDF5Library.failure("write attribute '\(name)' of", object)
        }
    }

    /// h5py 3's `AttributeManager.create`: delete an existing attribute of that name, then create.
    private static func create(on location: hid_t, object: String, name: String, type: hid_t, shape: [Int]) throws -> hid_t {
        let exists = H5Aexists(location, name)
        guard exists >= 0 else { throw HDF5Library.failure("look up attribute '\(name)' of", object) }
        if exists > 0 && H5Adelete(location, name) < 0 { throw HDF5Library.failure("replace attribute '\(name)' of", object) }
        let space = try HDF5Dataspace.create(shape: shape)
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(location, name, type, space, HDF5Library.defaultPlist, HDF5Library.defaultPlist)
        guard attribute >= 0 else { throw HDF5Library.failure("create attribute '\(name)' of", object) }
        return attribute
    }
}
