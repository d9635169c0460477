// A dataset of an HDF5 file: its type, shape and storage, reading and writing its elements, and the dataspaces
// that carry shapes in and out of libhdf5 (HDF5Objects.swift).

import CHDF5
import TensorCore

/// Storage choices for a new dataset (h5py's `chunks`, `compression="gzip"`, `shuffle`).
package struct HDF5DatasetOptions: Sendable {
    package var chunks: [Int]?
    package var deflateLevel: Int?
    package var shuffle = false

    package init(chunks: [Int]? = nil, deflateLevel: Int? = nil, shuffle: Bool = false) {
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
package enum HDF5Layout: String, Sendable { case compact, contiguous, chunked, virtual, other }

/// A dataset: its type, shape and storage, and reading/writing its elements.
package final class HDF5Dataset: HDF5Object {
    init(id: hid_t, path: String, file: HDF5File) { super.init(id: id, path: path, file: file, close: H5Dclose) }

    package func datatype() throws -> HDF5TypeDescription {
        try HDF5Library.run {
            let type = H5Dget_type(id)
            guard type >= 0 else { throw HDF5Library.failure("read the datatype of", path) }
            defer { H5Tclose(type) }
            return HDF5TypeDescription.of(type)
        }
    }

    /// The shape (`[]` for a scalar dataspace), or nil for a null dataspace.
    package func shape() throws -> [Int]? {
        try HDF5Library.run {
            let space = H5Dget_space(id)
            guard space >= 0 else { throw HDF5Library.failure("read the dataspace of", path) }
            defer { H5Sclose(space) }
            return try HDF5Dataspace.shape(space, object: path)
        }
    }

    /// Layout, filter names and whether the data lives in external files.
    package func storage() throws -> (layout: HDF5Layout, filters: [String], external: Bool) {
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
    package func contiguousExtent() -> (offset: UInt64, size: UInt64)? {
        HDF5Library.run { () -> (offset: UInt64, size: UInt64)? in
            let offset = H5Dget_offset(id)
            guard UInt64(offset) != HDF5Library.undefinedAddress else {
                H5Eclear2(HDF5Library.defaultErrorStack)
                return nil
            }
            return (UInt64(offset), UInt64(H5Dget_storage_size(id)))
        }
    }

    /// Bytes of the dataset's data actually stored in the file (all chunks, compressed), 0 when none is allocated.
    package func storedByteCount() -> Int {
        HDF5Library.run { Int(clamping: H5Dget_storage_size(id)) }
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
