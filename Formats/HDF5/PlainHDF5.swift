// The plain HDF5 layout for any state dict (see SPEC.md): one dataset per tensor at the path made by
// replacing the dots of its name with slashes (`bert.pooler.dense.weight` → `/bert/pooler/dense/weight`),
// metadata as string attributes of the root group. A tensor whose dotted path cannot be a dataset
// (another tensor's name continues it, or it has an empty component) is stored under its whole name
// at the root (`/a.b.c`), which reads back the same way. Element types are h5py's; BF16 and the FP8
// kinds, which HDF5 and NumPy lack, are stored as their raw bits (uint16 / uint8) with a `dtype`
// attribute naming the real type.

import TensorCore

package enum PlainHDF5 {
    /// Dataset attribute naming the real element type of a BF16 / FP8 tensor stored as raw bits.
    package static let dtypeAttribute = "dtype"
    /// Nesting limit when walking a file (a hard-link cycle would otherwise never end).
    static let maximumDepth = 64

    /// How `dtype` is stored: its own type, or raw bits of `stored` tagged with the `dtype` attribute.
    static func storage(for dtype: DType) -> (stored: DType, tagged: Bool)? {
        switch dtype {
        case .bf16: return (.u16, true)
        case .f8E5M2, .f8E4M3, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ: return (.u8, true)
        case .f4, .f6E2M3, .f6E3M2: return nil
        default: return (dtype, false)
        }
    }

    /// The dataset path (without the leading `/`) of each name, in order.
    package static func datasetPaths(for names: [String]) throws -> [String] {
        var split: [String: [Substring]] = [:]
        for name in names {
            guard !name.isEmpty, name != ".", name != ".." else { throw HDF5Error.invalidTensorName(name: name, reason: "empty or a relative-path name") }
            guard !name.contains("/") else { throw HDF5Error.invalidTensorName(name: name, reason: "'/' separates HDF5 groups") }
            guard !name.utf8.contains(0) else { throw HDF5Error.invalidTensorName(name: name, reason: "it contains a NUL byte") }
            let components = name.split(separator: ".", omittingEmptySubsequences: false)
            if !components.contains(where: \.isEmpty) { split[name] = components }
        }
        let datasetPaths = Set(split.values.map { $0.joined(separator: "/") })
        return names.map { name in
            guard let components = split[name] else { return name }
            // Flat when a proper prefix of this path is another tensor's dataset.
            for length in stride(from: 1, to: components.count, by: 1)
            where datasetPaths.contains(components[..<length].joined(separator: "/")) { return name }
            return components.joined(separator: "/")
        }
    }

    // MARK: Reading

    static func read(root: HDF5Group, mapping: ByteBuffer?) throws -> (store: TensorStore, notes: [String]) {
        var store = TensorStore()
        var origins: [String: String] = [:]
        var notes: [String] = []
        try walk(root, components: [], depth: 0, mapping: mapping, store: &store, origins: &origins, notes: &notes)
        for key in try root.attributeNames() {
            if case .strings(let values, _) = try root.readAttribute(key), values.count == 1 {
                store.metadata[key] = values[0]
            }
        }
        return (store, notes)
    }

    private static func walk(_ group: HDF5Group, components: [String], depth: Int, mapping: ByteBuffer?,
                             store: inout TensorStore, origins: inout [String: String], notes: inout [String]) throws {
        guard depth < maximumDepth else { throw HDF5Error.tooDeep(path: group.path, limit: maximumDepth) }
        for (name, link) in try group.links() {
            let path = group.path == "/" ? "/" + name : group.path + "/" + name
            if link == .external {
                notes.append("skipped '\(path)': a link into another file")
                continue
            }
            switch try group.kind(of: name) {
            case .group:
                let child = try group.openGroup(name)
                try walk(child, components: components + [name], depth: depth + 1, mapping: mapping,
                         store: &store, origins: &origins, notes: &notes)
                try child.close()
            case .dataset:
                let dataset = try group.openDataset(name)
                let tensorName = (components + [name]).joined(separator: ".")
                if let first = origins[tensorName] {
                    throw HDF5Error.duplicateMappedName(name: tensorName, first: first, second: path)
                }
                store[tensorName] = try readTensor(dataset, mapping: mapping)
                origins[tensorName] = path
                try dataset.close()
            default:
                notes.append("skipped '\(path)': not a group or a dataset")
            }
        }
    }

    /// A dataset as a tensor, honouring the `dtype` tag of raw-bits BF16 / FP8 datasets.
    private static func readTensor(_ dataset: HDF5Dataset, mapping: ByteBuffer?) throws -> Tensor {
        var real: DType?
        if try dataset.hasAttribute(dtypeAttribute),
           case .strings(let values, _) = try dataset.readAttribute(dtypeAttribute),
           values.count == 1, let named = DType(rawValue: values[0]) {
            let stored = try dataset.datatype()
            guard let storage = storage(for: named), storage.stored == stored.dtype || named == stored.dtype else {
                throw HDF5Error.unsupportedDatatype(object: dataset.path,
                                                    datatype: "\(stored) tagged \(dtypeAttribute)='\(named.rawValue)'")
            }
            real = named
        }
        return try HDF5TensorIO.read(dataset, mapping: mapping, as: real)
    }

    // MARK: Writing

    /// Writes `store` to `path` atomically; `metadata` becomes root attributes (UTF-8 strings).
    package static func write(_ store: TensorStore, to path: String, metadata: [String: String]?) throws {
        try withFileContext(path) {
            let paths = try datasetPaths(for: store.names)
            for (name, tensor) in store.entries where storage(for: tensor.dtype) == nil {
                throw HDF5Error.dtypeNotStorable(tensor: name, dtype: tensor.dtype.rawValue, hint: "packed sub-byte types have no HDF5 form")
            }
            try HDF5Output.write(to: path) { root in
                for key in (metadata ?? [:]).keys.sorted(by: { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }) {
                    try root.writeStringAttribute(key, [metadata![key]!], scalar: true, storage: .variableUTF8)
                }
                for ((name, tensor), datasetPath) in zip(store.entries, paths) {
                    try write(tensor, named: name, at: datasetPath, root: root)
                }
            }
        }
    }

    /// h5py's `f.create_dataset(path, data=array)`: parents made with `require_group`, then the dataset.
    private static func write(_ tensor: Tensor, named name: String, at datasetPath: String, root: HDF5Group) throws {
        let (stored, tagged) = storage(for: tensor.dtype)!
        var parentPath = "", leaf = datasetPath
        if let slash = datasetPath.lastIndex(of: "/") {
            parentPath = String(datasetPath[..<slash])
            leaf = String(datasetPath[datasetPath.index(after: slash)...])
        }
        let parent = parentPath.isEmpty ? root : try root.requireGroup(parentPath)
        let raw = Tensor(dtype: stored, shape: tensor.shape, data: tensor.data)
        let dataset = try HDF5TensorIO.write(raw, in: parent, name: leaf)
        if tagged {
            try dataset.writeStringAttribute(dtypeAttribute, [tensor.dtype.rawValue], scalar: true, storage: .variableUTF8)
        }
        try dataset.close()
        if parent !== root { try parent.close() }
    }
}
