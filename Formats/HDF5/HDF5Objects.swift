// Files, groups and datasets as Swift classes that own their libhdf5 identifier and close it exactly
// once — on `close()` (which reports errors) or when the value is released. Every call goes through
// `HDF5Library.run`, so libhdf5 never prints; failures become `HDF5Error`s naming the object.
// Object creation uses the property lists h5py 3 uses (no timestamps, intermediate groups created,
// earliest file format), so the same call sequence writes the same bytes as h5py.

import CHDF5
import TensorCore

/// How a group member is linked.
public enum HDF5LinkKind: String, Sendable { case hard, soft, external }

/// What a link in a group points to.
public enum HDF5ObjectKind: String, Sendable { case group, dataset, namedDatatype = "named datatype", other = "other object" }

/// A group or a dataset: anything with a path and attributes.
public class HDF5Object {
    /// The object's path in the file (for messages), e.g. `/bert/tf_bert_model`.
    public let path: String
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
    public func close() throws {
        guard id >= 0 else { return }
        let result = HDF5Library.run { closeFunction(id) }
        id = -1
        if result < 0 { throw HDF5Library.failure("close", path) }
    }

    func childPath(_ name: String) -> String { path == "/" ? "/" + name : path + "/" + name }

    // MARK: Attributes

    /// Attribute names in name order.
    public func attributeNames() throws -> [String] {
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

    public func hasAttribute(_ name: String) throws -> Bool {
        try HDF5Library.run {
            let exists = H5Aexists(id, name)
            guard exists >= 0 else { throw HDF5Library.failure("look up attribute '\(name)' of", path) }
            return exists > 0
        }
    }

    /// An attribute's datatype and shape (nil shape: a null dataspace).
    public func attributeInfo(_ name: String) throws -> (type: HDF5TypeDescription, shape: [Int]?) {
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
    public func readAttribute(_ name: String) throws -> HDF5AttributeValue {
        try HDF5Library.run {
            let attribute = try openAttribute(name)
            defer { H5Aclose(attribute) }
            return try HDF5AttributeIO.read(attribute, object: path, name: name)
        }
    }

    /// Creates (replacing) a string attribute, 1-D or scalar, stored as h5py stores `bytes`
    /// (variable-length ASCII), `str` (variable-length UTF-8) or a NumPy `S` array (fixed, NULLPAD).
    public func writeStringAttribute(_ name: String, _ values: [String], scalar: Bool = false,
                                     storage: HDF5StringStorage = .variableASCII) throws {
        precondition(!scalar || values.count == 1, "a scalar attribute holds one value")
        try HDF5Library.run {
            try HDF5AttributeIO.writeStrings(on: id, object: path, name: name, values, scalar: scalar, storage: storage)
        }
    }

    /// Creates (replacing) a 1-D float64 attribute; `[]` is what Keras writes for a layer without weights.
    public func writeFloat64Attribute(_ name: String, _ values: [Double]) throws {
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
public enum HDF5StringStorage: Sendable {
    /// Variable-length, ASCII, NULLTERM: h5py 3 for Python `bytes` (what Keras writes).
    case variableASCII
    /// Variable-length, UTF-8, NULLTERM: h5py 3 for Python `str`.
    case variableUTF8
    /// Fixed-length ASCII NULLPAD of `size` bytes (nil: as long as the longest value): h5py for a NumPy
    /// `S` array (and h5py 2 for Keras' lists of bytes).
    case fixedASCII(size: Int?)
}

/// A decoded attribute.
public enum HDF5AttributeValue: Equatable, Sendable {
    case strings([String], scalar: Bool)
    case floats([Double], scalar: Bool)
    case integers([Int64], scalar: Bool)
    /// No elements at all (shape with a zero, or a null dataspace), whatever the datatype.
    case empty(datatype: HDF5TypeDescription)
    case unsupported(datatype: HDF5TypeDescription)

    /// The strings, `[]` for an empty attribute, nil for anything else.
    public var stringList: [String]? {
        switch self {
        case .strings(let values, _): return values
        case .empty: return []
        default: return nil
        }
    }
}

/// An open HDF5 file.
public final class HDF5File {
    public let path: String
    private(set) var id: hid_t
    public let writable: Bool

    private init(id: hid_t, path: String, writable: Bool) {
        self.id = id
        self.path = path
        self.writable = writable
    }

    deinit { if id >= 0 { let id = self.id; HDF5Library.run { _ = H5Fclose(id) } } }

    /// How many objects of this file libhdf5 holds open, the file itself included: a reader that closes
    /// every group, dataset and attribute it opened leaves 1 (tests prove it).
    public var openObjectCount: Int {
        HDF5Library.run { Int(H5Fget_obj_count(id, UInt32(H5F_OBJ_FILE | H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR))) }
    }

    /// `H5F_LIBVER_LATEST` (a macro naming the newest bound this libhdf5 knows).
    private static let latestFormat = H5F_libver_t(rawValue: H5F_LIBVER_NBOUNDS.rawValue - 1)

    /// File access as h5py makes it (earliest format, alignment 1), with STRONG close so that `close()`
    /// closes and flushes every object of the file before it returns, and file locking that is skipped
    /// (instead of failing) on file systems without it.
    private static func accessList() throws -> hid_t {
        let fapl = H5Pcreate(HDF5Library.fileAccessClass)
        guard fapl >= 0 else { throw HDF5Library.failure("make a file access property list", "") }
        guard H5Pset_libver_bounds(fapl, H5F_LIBVER_EARLIEST, latestFormat) >= 0,
              H5Pset_alignment(fapl, 1, 1) >= 0,
              H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0,
              H5Pset_file_locking(fapl, true, true) >= 0 else {
            H5Pclose(fapl)
            throw HDF5Library.failure("set file access properties", "")
        }
        return fapl
    }

    /// Opens an existing file read-only.
    public static func open(_ path: String) throws -> HDF5File {
        try HDF5Library.run {
            let fapl = try accessList()
            defer { H5Pclose(fapl) }
            let id = H5Fopen(path, HDF5Library.FileAccess.readOnly, fapl)
            guard id >= 0 else { throw HDF5Library.failure("open HDF5 file", "") }
            return HDF5File(id: id, path: path, writable: false)
        }
    }

    /// Creates (truncating) a file the way `h5py.File(path, "w")` does: earliest file format, no
    /// timestamps on the root group.
    public static func create(_ path: String) throws -> HDF5File {
        try HDF5Library.run {
            let fapl = try accessList()
            defer { H5Pclose(fapl) }
            let fcpl = H5Pcreate(HDF5Library.fileCreateClass)
            guard fcpl >= 0 else { throw HDF5Library.failure("make a file creation property list", "") }
            defer { H5Pclose(fcpl) }
            guard H5Pset_obj_track_times(fcpl, false) >= 0 else { throw HDF5Library.failure("set file creation properties", "") }
            let id = H5Fcreate(path, HDF5Library.FileAccess.truncate, fcpl, fapl)
            guard id >= 0 else { throw HDF5Library.failure("create HDF5 file", "") }
            return HDF5File(id: id, path: path, writable: true)
        }
    }

    /// The root group.
    public func root() throws -> HDF5Group {
        try HDF5Library.run {
            let group = H5Oopen(id, "/", HDF5Library.defaultPlist)
            guard group >= 0 else { throw HDF5Library.failure("open the root group", "") }
            return HDF5Group(id: group, path: "/", file: self)
        }
    }

    /// Flushes and closes the file, and (STRONG close) every object still open in it — those become
    /// unusable. Errors here are write errors, so writers must call it. Without it, the file closes
    /// when the last of its objects is released.
    public func close() throws {
        guard id >= 0 else { return }
        let id = self.id
        self.id = -1
        try HDF5Library.run {
            if writable && H5Fflush(id, H5F_SCOPE_LOCAL) < 0 {
                let error = HDF5Library.failure("write", "")
                H5Fclose(id)
                throw error
            }
            guard H5Fclose(id) >= 0 else { throw HDF5Library.failure("close", "") }
        }
    }
}

/// A group: its children, and creating groups and datasets in it.
public final class HDF5Group: HDF5Object {
    init(id: hid_t, path: String, file: HDF5File) { super.init(id: id, path: path, file: file, close: H5Oclose) }

    /// The group's links in name order (libhdf5's own iteration: every child, whatever the shape of
    /// the group's B-tree or link storage), each with whether it is a hard link, a soft link or a link
    /// into another file.
    public func links() throws -> [(name: String, kind: HDF5LinkKind)] {
        try HDF5Library.run {
            final class Links { var list: [(String, HDF5LinkKind)] = [] }
            let links = Links()
            let box = Unmanaged.passRetained(links)
            defer { box.release() }
            var index: hsize_t = 0
            let status = H5Literate(id, H5_INDEX_NAME, H5_ITER_INC, &index, { _, name, info, data in
                guard let name, let info, let data else { return -1 }
                let kind: HDF5LinkKind
                switch info.pointee.type {
                case H5L_TYPE_HARD: kind = .hard
                case H5L_TYPE_SOFT: kind = .soft
                default: kind = .external
                }
                Unmanaged<Links>.fromOpaque(data).takeUnretainedValue().list.append((String(cString: name), kind))
                return 0
            }, box.toOpaque())
            guard status >= 0 else { throw HDF5Library.failure("list the members of group", path) }
            return links.list
        }
    }

    /// The names of the group's links in name order.
    public func childNames() throws -> [String] { try links().map(\.name) }

    /// The kind of object at the relative `path`, or nil when no such link exists. Walks the path one
    /// component at a time (libhdf5's `H5Lexists` fails on a missing intermediate group).
    public func kind(of relativePath: String) throws -> HDF5ObjectKind? {
        try HDF5Library.run {
            guard try exists(relativePath) else { return nil }
            let object = H5Oopen(id, relativePath, HDF5Library.defaultPlist)
            guard object >= 0 else { throw HDF5Library.failure("open", childPath(relativePath)) }
            defer { H5Oclose(object) }
            switch H5Iget_type(object) {
            case H5I_GROUP: return .group
            case H5I_DATASET: return .dataset
            case H5I_DATATYPE: return .namedDatatype
            default: return .other
            }
        }
    }

    /// Whether a link exists at the relative `path` (each component checked in turn, as h5py's
    /// `name in group` does).
    public func exists(_ relativePath: String) throws -> Bool {
        try HDF5Library.run {
            var prefix = ""
            for component in relativePath.split(separator: "/", omittingEmptySubsequences: true) {
                prefix += prefix.isEmpty ? String(component) : "/" + component
                let found = H5Lexists(id, prefix, HDF5Library.defaultPlist)
                guard found >= 0 else { throw HDF5Library.failure("look up", childPath(prefix)) }
                if found == 0 { return false }
            }
            return true
        }
    }

    public func openGroup(_ relativePath: String) throws -> HDF5Group {
        try HDF5Library.run {
            let full = childPath(relativePath)
            guard try exists(relativePath) else { throw HDF5Error.notFound(path: full) }
            let object = H5Oopen(id, relativePath, HDF5Library.defaultPlist)
            guard object >= 0 else { throw HDF5Library.failure("open", full) }
            guard H5Iget_type(object) == H5I_GROUP else {
                let found = H5Iget_type(object) == H5I_DATASET ? "dataset" : "non-group object"
                H5Oclose(object)
                throw HDF5Error.wrongObjectKind(path: full, expected: "group", found: found)
            }
            return HDF5Group(id: object, path: full, file: file)
        }
    }

    public func openDataset(_ relativePath: String) throws -> HDF5Dataset {
        try HDF5Library.run {
            let full = childPath(relativePath)
            guard try exists(relativePath) else { throw HDF5Error.notFound(path: full) }
            let object = H5Oopen(id, relativePath, HDF5Library.defaultPlist)
            guard object >= 0 else { throw HDF5Library.failure("open", full) }
            guard H5Iget_type(object) == H5I_DATASET else {
                let found = H5Iget_type(object) == H5I_GROUP ? "group" : "non-dataset object"
                H5Oclose(object)
                throw HDF5Error.wrongObjectKind(path: full, expected: "dataset", found: found)
            }
            return HDF5Dataset(id: object, path: full, file: file)
        }
    }

    /// Link creation as h5py does it for a `bytes` name (which is what Keras passes, and what h5py's
    /// `create_dataset("a/b/c")` passes on for the parents): intermediate groups created, name
    /// encoding flag ASCII whatever the bytes (UTF-8 names read back the same; the flag only changes
    /// how libhdf5 stores the link).
    static func linkCreationList() throws -> hid_t {
        let lcpl = H5Pcreate(HDF5Library.linkCreateClass)
        guard lcpl >= 0 else { throw HDF5Library.failure("make a link creation property list", "") }
        guard H5Pset_create_intermediate_group(lcpl, 1) >= 0,
              H5Pset_char_encoding(lcpl, H5T_CSET_ASCII) >= 0 else {
            H5Pclose(lcpl)
            throw HDF5Library.failure("set link creation properties", "")
        }
        return lcpl
    }

    /// `group.create_group(name)` in h5py 3: intermediate groups made, no timestamps.
    public func createGroup(_ relativePath: String) throws -> HDF5Group {
        try HDF5Library.run {
            let full = childPath(relativePath)
            let lcpl = try HDF5Group.linkCreationList()
            defer { H5Pclose(lcpl) }
            let gcpl = H5Pcreate(HDF5Library.groupCreateClass)
            guard gcpl >= 0 else { throw HDF5Library.failure("make a group creation property list", "") }
            defer { H5Pclose(gcpl) }
            guard H5Pset_obj_track_times(gcpl, false) >= 0 else { throw HDF5Library.failure("set group creation properties", "") }
            let group = H5Gcreate2(id, relativePath, lcpl, gcpl, HDF5Library.defaultPlist)
            guard group >= 0 else { throw HDF5Library.failure("create group", full) }
            return HDF5Group(id: group, path: full, file: file)
        }
    }

    /// `group.require_group(path)` in h5py: the existing group, or a new one.
    public func requireGroup(_ relativePath: String) throws -> HDF5Group {
        try HDF5Library.run {
            try exists(relativePath) ? try openGroup(relativePath) : try createGroup(relativePath)
        }
    }

    /// Creates a dataset named `name` (a single link name: use `requireGroup` for the parents) the way
    /// h5py's `make_new_dset` does: the given type, dims = maxdims (or a scalar dataspace for `[]`),
    /// no timestamps, and contiguous storage unless `options` asks for chunks or filters.
    public func createDataset(_ name: String, type: HDF5Datatype, shape: [Int],
                              options: HDF5DatasetOptions = HDF5DatasetOptions()) throws -> HDF5Dataset {
        try HDF5Library.run {
            let full = childPath(name)
            let space = try HDF5Dataspace.create(shape: shape)
            defer { H5Sclose(space) }
            let dcpl = try options.creationList(rank: shape.count, path: full)
            defer { H5Pclose(dcpl) }
            let dataset = H5Dcreate2(id, name, type.id, space, HDF5Library.defaultPlist, dcpl, HDF5Library.defaultPlist)
            guard dataset >= 0 else { throw HDF5Library.failure("create dataset", full) }
            return HDF5Dataset(id: dataset, path: full, file: file)
        }
    }
}

/// Storage choices for a new dataset (h5py's `chunks`, `compression="gzip"`, `shuffle`).
public struct HDF5DatasetOptions: Sendable {
    public var chunks: [Int]?
    public var deflateLevel: Int?
    public var shuffle = false

    public init(chunks: [Int]? = nil, deflateLevel: Int? = nil, shuffle: Bool = false) {
        self.chunks = chunks
        self.deflateLevel = deflateLevel
        self.shuffle = shuffle
    }

    func creationList(rank: Int, path: String) throws -> hid_t {
        let dcpl = H5Pcreate(HDF5Library.datasetCreateClass)
        guard dcpl >= 0 else { throw HDF5Library.failure("make a dataset creation property list", "") }
        var ok = true
        if var chunks {
            precondition(chunks.count == rank && chunks.allSatisfy { $0 > 0 }, "chunk shape must match the dataset rank")
            let dims = chunks.map { hsize_t($0) }
            ok = ok && dims.withUnsafeBufferPointer { H5Pset_chunk(dcpl, Int32(rank), $0.baseAddress) >= 0 }
            chunks.removeAll()
        }
        if shuffle { ok = ok && H5Pset_shuffle(dcpl) >= 0 }
        if let deflateLevel { ok = ok && H5Pset_deflate(dcpl, UInt32(deflateLevel)) >= 0 }
        ok = ok && H5Pset_obj_track_times(dcpl, false) >= 0
        guard ok else {
            let error = HDF5Library.failure("set storage options of", path)
            H5Pclose(dcpl)
            throw error
        }
        return dcpl
    }
}

/// How a dataset's bytes are stored.
public enum HDF5Layout: String, Sendable { case compact, contiguous, chunked, virtual, other }

/// A dataset: its type, shape and storage, and reading/writing its elements.
public final class HDF5Dataset: HDF5Object {
    init(id: hid_t, path: String, file: HDF5File) { super.init(id: id, path: path, file: file, close: H5Dclose) }

    public func datatype() throws -> HDF5TypeDescription {
        try HDF5Library.run {
            let type = H5Dget_type(id)
            guard type >= 0 else { throw HDF5Library.failure("read the datatype of", path) }
            defer { H5Tclose(type) }
            return HDF5TypeDescription.of(type)
        }
    }

    /// The shape (`[]` for a scalar dataspace), or nil for a null dataspace.
    public func shape() throws -> [Int]? {
        try HDF5Library.run {
            let space = H5Dget_space(id)
            guard space >= 0 else { throw HDF5Library.failure("read the dataspace of", path) }
            defer { H5Sclose(space) }
            return try HDF5Dataspace.shape(space, object: path)
        }
    }

    /// Layout, filter names and whether the data lives in external files.
    public func storage() throws -> (layout: HDF5Layout, filters: [String], external: Bool) {
        try HDF5Library.run {
            let dcpl = H5Dget_create_plist(id)
            guard dcpl >= 0 else { throw HDF5Library.failure("read the storage properties of", path) }
            defer { H5Pclose(dcpl) }
            let layout: HDF5Layout
            switch H5Pget_layout(dcpl) {
            case H5D_COMPACT: layout = .compact
            case H5D_CONTIGUOUS: layout = .contiguous
            case H5D_CHUNKED: layout = .chunked
            case H5D_VIRTUAL: layout = .virtual
            default: layout = .other
            }
            var filters: [String] = []
            let count = H5Pget_nfilters(dcpl)
            if count > 0 {
                for index in 0..<UInt32(count) {
                    var flags: UInt32 = 0, elements = 0, config: UInt32 = 0
                    var name = [CChar](repeating: 0, count: 64)
                    let filter = H5Pget_filter2(dcpl, index, &flags, &elements, nil, name.count, &name, &config)
                    switch filter {
                    case H5Z_FILTER_DEFLATE: filters.append("gzip")
                    case H5Z_FILTER_SHUFFLE: filters.append("shuffle")
                    case H5Z_FILTER_FLETCHER32: filters.append("fletcher32")
                    case H5Z_FILTER_SZIP: filters.append("szip")
                    case H5Z_FILTER_NBIT: filters.append("nbit")
                    case H5Z_FILTER_SCALEOFFSET: filters.append("scaleoffset")
                    default: filters.append("filter \(filter) (\(String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)))")
                    }
                }
            }
            return (layout, filters, H5Pget_external_count(dcpl) > 0)
        }
    }

    /// Where the raw bytes of a contiguous, allocated dataset start in the file, and how many there
    /// are; nil when they are not one plain run of file bytes (chunked, compact, unallocated).
    public func contiguousExtent() -> (offset: UInt64, size: UInt64)? {
        HDF5Library.run { () -> (offset: UInt64, size: UInt64)? in
            let offset = H5Dget_offset(id)
            guard UInt64(offset) != HDF5Library.undefinedAddress else {
                H5Eclear2(HDF5Library.defaultErrorStack)
                return nil
            }
            return (UInt64(offset), UInt64(H5Dget_storage_size(id)))
        }
    }

    /// Reads every element, converted to `memoryType`, into `destination` (which must be large enough).
    func read(into destination: UnsafeMutableRawPointer, memoryType: hid_t) throws {
        try HDF5Library.run {
            guard H5Dread(id, memoryType, HDF5Library.all, HDF5Library.all, HDF5Library.defaultPlist, destination) >= 0 else {
                throw HDF5Library.failure("read dataset", path)
            }
        }
    }

    /// Writes every element from `source`, given in `memoryType`.
    func write(from source: UnsafeRawPointer, memoryType: hid_t) throws {
        try HDF5Library.run {
            guard H5Dwrite(id, memoryType, HDF5Library.all, HDF5Library.all, HDF5Library.defaultPlist, source) >= 0 else {
                throw HDF5Library.failure("write dataset", path)
            }
        }
    }
}

/// Dataspaces: shapes in and out.
enum HDF5Dataspace {
    /// `[]` → scalar; otherwise simple with maxdims = dims (h5py's `create_simple(shape)`).
    static func create(shape: [Int]) throws -> hid_t {
        if shape.isEmpty {
            let space = H5Screate(H5S_SCALAR)
            guard space >= 0 else { throw HDF5Library.failure("make a scalar dataspace", "") }
            return space
        }
        let dims = shape.map { hsize_t($0) }
        let space = dims.withUnsafeBufferPointer { H5Screate_simple(Int32(dims.count), $0.baseAddress, nil) }
        guard space >= 0 else { throw HDF5Library.failure("make a dataspace of shape \(Shape.describe(shape))", "") }
        return space
    }

    /// The shape of a dataspace: `[]` for scalar, nil for null.
    static func shape(_ space: hid_t, object: String) throws -> [Int]? {
        switch H5Sget_simple_extent_type(space) {
        case H5S_NULL: return nil
        case H5S_SCALAR: return []
        case H5S_SIMPLE:
            let rank = H5Sget_simple_extent_ndims(space)
            guard rank >= 0, rank <= 32 else { throw HDF5Error.unsupportedDataspace(object: object, reason: "rank \(rank) is not supported") }
            var dims = [hsize_t](repeating: 0, count: Int(rank))
            guard H5Sget_simple_extent_dims(space, &dims, nil) >= 0 else { throw HDF5Library.failure("read the dataspace of", object) }
            return try dims.map {
                guard $0 <= hsize_t(Int.max) else { throw HDF5Error.sizeOverflow(object: object) }
                return Int($0)
            }
        default:
            throw HDF5Error.unsupportedDataspace(object: object, reason: "unknown dataspace class")
        }
    }
}
