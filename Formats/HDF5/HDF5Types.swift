// HDF5 datatypes as plain values: what a file's datatype is (`HDF5TypeDescription`), which tensor
// element type it holds, and the owned datatype handles the writers create — each built with the
// same libhdf5 calls h5py 3 makes for the matching NumPy dtype, so the datatype messages are
// byte-identical to h5py's.

import CHDF5
import TensorCore

/// A datatype as read from a file.
package enum HDF5TypeDescription: Equatable, Sendable, CustomStringConvertible {
    package enum StringPadding: String, Sendable { case nullTerminated = "NULLTERM", nullPadded = "NULLPAD", spacePadded = "SPACEPAD" }
    package enum CharacterSet: String, Sendable { case ascii = "ASCII", utf8 = "UTF-8" }

    case integer(bytes: Int, signed: Bool, bigEndian: Bool)
    /// `exponentBits`/`mantissaBits` tell half (5/10), bfloat16 (8/7), single (8/23) and double (11/52) apart.
    case float(bytes: Int, bigEndian: Bool, exponentBits: Int, mantissaBits: Int)
    /// `size` is the fixed length in bytes; nil for variable-length strings.
    case string(size: Int?, characterSet: CharacterSet, padding: StringPadding)
    /// An enum with exactly the members FALSE = 0 and TRUE = 1 over a 1-byte integer: h5py's bool.
    case boolean
    /// A compound of two same-size floats named `r` and `i`: h5py's complex numbers.
    case complex(bytes: Int, bigEndian: Bool)
    case other(String)

    package var description: String {
        switch self {
        case .integer(let bytes, let signed, let bigEndian):
            return "\(signed ? "int" : "uint")\(bytes * 8) \(bigEndian ? "big" : "little")-endian"
        case .float(let bytes, let bigEndian, let exponentBits, let mantissaBits):
            let name = bytes == 2 && exponentBits == 8 ? "bfloat16" : "float\(bytes * 8)"
            let standard = [(2, 5, 10), (2, 8, 7), (4, 8, 23), (8, 11, 52)].contains { $0 == (bytes, exponentBits, mantissaBits) }
            return "\(name) \(bigEndian ? "big" : "little")-endian" + (standard ? "" : " (exponent \(exponentBits) bits, mantissa \(mantissaBits) bits)")
        case .string(let size, let characterSet, let padding):
            return (size.map { "fixed-length string of \($0) bytes" } ?? "variable-length string")
                + " (\(characterSet.rawValue), \(padding.rawValue))"
        case .boolean: return "bool enum (FALSE = 0, TRUE = 1)"
        case .complex(let bytes, let bigEndian): return "complex\(bytes * 8) compound \(bigEndian ? "big" : "little")-endian"
        case .other(let text): return text
        }
    }

    /// The tensor element type this datatype holds, if it holds one.
    package var dtype: DType? {
        switch self {
        case .integer(let bytes, let signed, _):
            switch (bytes, signed) {
            case (1, true): return .i8
            case (2, true): return .i16
            case (4, true): return .i32
            case (8, true): return .i64
            case (1, false): return .u8
            case (2, false): return .u16
            case (4, false): return .u32
            case (8, false): return .u64
            default: return nil
            }
        case .float(let bytes, _, let exponentBits, let mantissaBits):
            switch (bytes, exponentBits, mantissaBits) {
            case (2, 5, 10): return .f16
            case (2, 8, 7): return .bf16
            case (4, 8, 23): return .f32
            case (8, 11, 52): return .f64
            default: return nil
            }
        case .boolean: return .bool
        case .complex(let bytes, _): return bytes == 8 ? .c64 : nil
        case .string, .other: return nil
        }
    }

    var isBigEndian: Bool {
        switch self {
        case .integer(_, _, let big), .float(_, let big, _, _), .complex(_, let big): return big
        default: return false
        }
    }

    /// Reads the description of an open datatype.
    static func of(_ type: hid_t) -> HDF5TypeDescription {
        let size = H5Tget_size(type)
        let bigEndian = H5Tget_order(type) == H5T_ORDER_BE
        switch H5Tget_class(type) {
        case H5T_INTEGER:
            return .integer(bytes: size, signed: H5Tget_sign(type) == H5T_SGN_2, bigEndian: bigEndian)
        case H5T_FLOAT:
            var spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0
            H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize)
            let bias = H5Tget_ebias(type)
            let expectedBias = esize > 0 ? (1 << (esize - 1)) - 1 : -1
            let precision = H5Tget_precision(type), offset = H5Tget_offset(type)
            guard bias == expectedBias, mpos == 0, epos == msize, spos == epos + esize, offset == 0,
                  precision == 8 * size, H5Tget_norm(type) == H5T_NORM_IMPLIED else {
                return .other("float\(size * 8) with a non-IEEE layout")
            }
            return .float(bytes: size, bigEndian: bigEndian, exponentBits: esize, mantissaBits: msize)
        case H5T_STRING:
            let cset: CharacterSet = H5Tget_cset(type) == H5T_CSET_UTF8 ? .utf8 : .ascii
            let padding: StringPadding
            switch H5Tget_strpad(type) {
            case H5T_STR_NULLPAD: padding = .nullPadded
            case H5T_STR_SPACEPAD: padding = .spacePadded
            default: padding = .nullTerminated
            }
            return .string(size: H5Tis_variable_str(type) > 0 ? nil : size, characterSet: cset, padding: padding)
        case H5T_ENUM:
            return isBooleanEnum(type) ? .boolean : .other("enum")
        case H5T_COMPOUND:
            if let complex = complexCompound(type, size: size) { return complex }
            return .other("compound")
        case H5T_VLEN: return .other("variable-length sequence")
        case H5T_ARRAY: return .other("array")
        case H5T_OPAQUE: return .other("opaque")
        case H5T_REFERENCE: return .other("reference")
        case H5T_BITFIELD: return .other("bitfield")
        case H5T_TIME: return .other("time")
        default: return .other("unknown datatype class")
        }
    }

    private static func isBooleanEnum(_ type: hid_t) -> Bool {
        guard H5Tget_size(type) == 1, H5Tget_nmembers(type) == 2 else { return false }
        var members: [String: Int8] = [:]
        for index in 0..<2 {
            guard let name = H5Tget_member_name(type, UInt32(index)) else { return false }
            defer { H5free_memory(name) }
            var value: Int8 = 0
            guard H5Tget_member_value(type, UInt32(index), &value) >= 0 else { return false }
            members[String(cString: name)] = value
        }
        return members == ["FALSE": 0, "TRUE": 1]
    }

    private static func complexCompound(_ type: hid_t, size: Int) -> HDF5TypeDescription? {
        guard H5Tget_nmembers(type) == 2, size % 2 == 0 else { return nil }
        var bigEndian = false
        for (index, expected) in ["r", "i"].enumerated() {
            guard let name = H5Tget_member_name(type, UInt32(index)) else { return nil }
            let memberName = String(cString: name)
            H5free_memory(name)
            let member = H5Tget_member_type(type, UInt32(index))
            guard member >= 0 else { return nil }
            defer { H5Tclose(member) }
            guard memberName == expected, H5Tget_member_offset(type, UInt32(index)) == index * size / 2,
                  case .float(let bytes, let big, _, _) = of(member), bytes == size / 2 else { return nil }
            bigEndian = big
        }
        return .complex(bytes: size, bigEndian: bigEndian)
    }
}

/// An owned datatype handle (H5Tclose on release).
package final class HDF5Datatype {
    let id: hid_t
    init(adopting id: hid_t) { self.id = id }
    deinit { HDF5Library.run { _ = H5Tclose(id) } }

    package var typeDescription: HDF5TypeDescription { HDF5Library.run { HDF5TypeDescription.of(id) } }

    /// A copy of a predefined type, as h5py's `py_create` makes for NumPy scalars.
    static func copy(of predefined: hid_t) throws -> HDF5Datatype {
        try HDF5Library.run {
            let id = H5Tcopy(predefined)
            guard id >= 0 else { throw HDF5Library.failure("copy datatype", "") }
            return HDF5Datatype(adopting: id)
        }
    }

    /// Variable-length string, ASCII (h5py 3 for `bytes`) or UTF-8 (for `str`), NUL-terminated.
    package static func variableString(utf8: Bool) throws -> HDF5Datatype {
        try HDF5Library.run {
            let type = try copy(of: HDF5Library.cString)
            guard H5Tset_size(type.id, HDF5Library.variableSize) >= 0,
                  H5Tset_cset(type.id, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII) >= 0 else {
                throw HDF5Library.failure("make a variable-length string type", "")
            }
            return type
        }
    }

    /// Fixed-length string of `size` bytes (NumPy `S<size>` in h5py: ASCII, NULLPAD).
    package static func fixedString(size: Int, padding: HDF5TypeDescription.StringPadding = .nullPadded,
                                   utf8: Bool = false) throws -> HDF5Datatype {
        try HDF5Library.run {
            let type = try copy(of: HDF5Library.cString)
            let pad: H5T_str_t = padding == .nullPadded ? H5T_STR_NULLPAD : padding == .spacePadded ? H5T_STR_SPACEPAD : H5T_STR_NULLTERM
            guard H5Tset_size(type.id, max(size, 1)) >= 0, H5Tset_strpad(type.id, pad) >= 0,
                  H5Tset_cset(type.id, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII) >= 0 else {
                throw HDF5Library.failure("make a fixed-length string type", "")
            }
            return type
        }
    }

    /// The datatype h5py 3 writes for a NumPy array of `dtype` (the on-disk type for tensors),
    /// or nil when HDF5 has no faithful type for it (BF16, FP8, packed types: see `TensorStorage`).
    package static func forTensor(_ dtype: DType) throws -> HDF5Datatype? {
        try HDF5Library.run {
            switch dtype {
            case .f16: return try copy(of: HDF5Library.ieeeF16LE)
            case .f32: return try copy(of: HDF5Library.ieeeF32LE)
            case .f64: return try copy(of: HDF5Library.ieeeF64LE)
            case .i8: return try copy(of: HDF5Library.stdI8LE)
            case .i16: return try copy(of: HDF5Library.stdI16LE)
            case .i32: return try copy(of: HDF5Library.stdI32LE)
            case .i64: return try copy(of: HDF5Library.stdI64LE)
            case .u8: return try copy(of: HDF5Library.stdU8LE)
            case .u16: return try copy(of: HDF5Library.stdU16LE)
            case .u32: return try copy(of: HDF5Library.stdU32LE)
            case .u64: return try copy(of: HDF5Library.stdU64LE)
            case .bool: return try booleanEnum()
            case .c64: return try complex64()
            default: return nil
            }
        }
    }

    /// h5py's bool: an enum over native int8 with FALSE = 0, TRUE = 1.
    static func booleanEnum() throws -> HDF5Datatype {
        let id = H5Tenum_create(HDF5Library.nativeInt8)
        guard id >= 0 else { throw HDF5Library.failure("make the bool enum type", "") }
        let type = HDF5Datatype(adopting: id)
        var no: Int8 = 0, yes: Int8 = 1
        guard H5Tenum_insert(id, "FALSE", &no) >= 0, H5Tenum_insert(id, "TRUE", &yes) >= 0 else {
            throw HDF5Library.failure("make the bool enum type", "")
        }
        return type
    }

    /// h5py's complex64: a compound {r: float32 at 0, i: float32 at 4}.
    static func complex64() throws -> HDF5Datatype {
        let id = H5Tcreate(H5T_COMPOUND, 8)
        guard id >= 0 else { throw HDF5Library.failure("make the complex64 type", "") }
        let type = HDF5Datatype(adopting: id)
        guard H5Tinsert(id, "r", 0, HDF5Library.ieeeF32LE) >= 0, H5Tinsert(id, "i", 4, HDF5Library.ieeeF32LE) >= 0 else {
            throw HDF5Library.failure("make the complex64 type", "")
        }
        return type
    }

    /// The little-endian in-memory twin of a file type, for reading with byte-order conversion.
    static func littleEndianCopy(of fileType: hid_t, description: HDF5TypeDescription) throws -> HDF5Datatype {
        switch description {
        case .complex: return try complex64()
        default:
            let type = try copy(of: fileType)
            if description.isBigEndian, H5Tset_order(type.id, H5T_ORDER_LE) < 0 {
                throw HDF5Library.failure("make a little-endian copy of a datatype", "")
            }
            return type
        }
    }
}
