// A group of an HDF5 file: listing its members and creating groups and datasets in it (HDF5Objects.swift).

import CHDF5
import TensorCore

/// A group: its children, and creating groups and datasets in it.
package final class HDF5Group: HDF5Object {
    init(id: hid_t, path: String, file: HDF5File) { super.init(id: id, path: path, file: file, close: H5Oclose) }

    /// The group's links in name order (libhdf5's own iteration: every child, whatever the shape of
    /// the group's B-tree or link storage), each with whether it is a hard link, a soft link or a link
    /// into another file.
    package func links() throws -> [(name: String, kind: HDF5LinkKind)] {
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
    package func childNames() throws -> [String] { try links().map(\.name) }

    /// The kind of object at the relative `path`, or nil when no such link exists. Walks the path one
    /// component at a time (libhdf5's `H5Lexists` fails on a missing intermediate group).
    package func kind(of relativePath: String) throws -> HDF5ObjectKind? {
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
    package func exists(_ relativePath: String) throws -> Bool {
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

    package func openGroup(_ relativePath: String) throws -> HDF5Group {
        try HDF5Library.run {
            let (object, full) = try openObject(relativePath, as: H5I_GROUP, "group")
            return HDF5Group(id: object, path: full, file: file)
        }
    }

    package func openDataset(_ relativePath: String) throws -> HDF5Dataset {
        try HDF5Library.run {
            let (object, full) = try openObject(relativePath, as: H5I_DATASET, "dataset")
            return HDF5Dataset(id: object, path: full, file: file)
        }
    }

    /// Opens the member at `relativePath`, which must be a `kind` (libhdf5 type `type`); the caller owns the identifier.
    private func openObject(_ relativePath: String, as type: H5I_type_t, _ kind: String) throws -> (hid_t, String) {
        let full = childPath(relativePath)
        guard try exists(relativePath) else { throw HDF5Error.notFound(path: full) }
        let object = H5Oopen(id, relativePath, HDF5Library.defaultPlist)
        guard object >= 0 else { throw HDF5Library.failure("open", full) }
        let found = H5Iget_type(object)
        guard found == type else {
            let other = found == H5I_GROUP ? "group" : found == H5I_DATASET ? "dataset" : "non-\(kind) object"
            H5Oclose(object)
            throw HDF5Error.wrongObjectKind(path: full, expected: kind, found: other)
        }
        return (object, full)
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
    package func createGroup(_ relativePath: String) throws -> HDF5Group {
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
    package func requireGroup(_ relativePath: String) throws -> HDF5Group {
        try HDF5Library.run {
            try exists(relativePath) ? try openGroup(relativePath) : try createGroup(relativePath)
        }
    }

    /// Creates a dataset named `name` (a single link name: use `requireGroup` for the parents) the way
    /// h5py's `make_new_dset` does: the given type, dims = maxdims (or a scalar dataspace for `[]`),
    /// no timestamps, and contiguous storage unless `options` asks for chunks or filters.
    package func createDataset(_ name: String, type: HDF5Datatype, shape: [Int],
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
