// An open HDF5 file: opening and creating with h5py 3's property lists, and its root group (the object model is
// described in HDF5Objects.swift).

import CHDF5
import TensorCore

/// An open HDF5 file.
package final class HDF5File {
    package let path: String
    private(set) var id: hid_t
    package let writable: Bool

    private init(id: hid_t, path: String, writable: Bool) {
        self.id = id
        self.path = path
        self.writable = writable
    }

    deinit { if id >= 0 { let id = self.id; HDF5Library.run { _ = H5Fclose(id) } } }

    /// How many objects of this file libhdf5 holds open, the file itself included: a reader that closes
    /// every group, dataset and attribute it opened leaves 1 (tests prove it).
    package var openObjectCount: Int {
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
    package static func open(_ path: String) throws -> HDF5File {
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
    package static func create(_ path: String) throws -> HDF5File {
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
    package func root() throws -> HDF5Group {
        try HDF5Library.run {
            let group = H5Oopen(id, "/", HDF5Library.defaultPlist)
            guard group >= 0 else { throw HDF5Library.failure("open the root group", "") }
            return HDF5Group(id: group, path: "/", file: self)
        }
    }

    /// Flushes and closes the file, and (STRONG close) every object still open in it — those become
    /// unusable. Errors here are write errors, so writers must call it. Without it, the file closes
    /// when the last of its objects is released.
    package func close() throws {
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
