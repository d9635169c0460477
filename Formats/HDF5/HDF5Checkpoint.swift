// The codec's entry points: read any HDF5 checkpoint (Keras tf_model.h5 or the plain layout, told
// apart by the root's `layer_names` attribute) and write either layout. Paths are attached to errors
// here, once.

import TensorCore

public enum HDF5Checkpoint {
    /// The two layouts, named as `inspect` reports them.
    public enum Layout: String, Sendable {
        /// Keras-2 weights (`layer_names` / `weight_names`), TF-named, mapped to PyTorch names on reading.
        case keras = "keras-h5"
        /// One dataset per tensor (SPEC.md).
        case plain = "hdf5"
    }

    /// Which layout to write.
    public enum LayoutChoice: String, Sendable, CaseIterable {
        /// Keras when the tensors are a BERT the TF classes hold, plain otherwise.
        case automatic = "auto"
        case keras
        case plain
    }

    public struct Contents {
        public var layout: Layout
        public var store: TensorStore
        public var notes: [String]
    }

    /// Reads `path`. Tensors stored as one contiguous little-endian run are views into a read-only
    /// mapping of the file; the rest are read through libhdf5.
    public static func read(path: String) throws -> Contents {
        try withFileContext(path) {
            let file = try HDF5File.open(path)
            defer { try? file.close() }
            let mapping = try ByteBuffer(mappingFileAt: path)
            let root = try file.root()
            defer { try? root.close() }
            if try KerasH5Reader.isKerasLayout(root) {
                let (store, notes) = try KerasH5Reader.read(root: root, mapping: mapping)
                return Contents(layout: .keras, store: store, notes: notes)
            }
            let (store, notes) = try PlainHDF5.read(root: root, mapping: mapping)
            return Contents(layout: .plain, store: store, notes: notes)
        }
    }

    /// Writes `store` to `path` atomically in the chosen layout and returns the layout written plus a
    /// remark (the TF class, or why the automatic choice fell back to plain). `architecture` is
    /// config.json's first `architectures` entry, if known; `metadata` goes to the plain layout's root.
    @discardableResult
    public static func write(_ store: TensorStore, to path: String, layout: LayoutChoice = .automatic,
                             architecture: String? = nil, metadata: [String: String]? = nil) throws -> (Layout, String) {
        switch layout {
        case .keras:
            let bertClass = try KerasH5Writer.write(store, to: path, architecture: architecture)
            return (.keras, bertClass.rawValue)
        case .plain:
            try PlainHDF5.write(store, to: path, metadata: metadata)
            return (.plain, "plain layout")
        case .automatic:
            do {
                _ = try KerasH5Writer.kerasClass(for: store, architecture: architecture)
            } catch let error as HDF5Error {
                try PlainHDF5.write(store, to: path, metadata: metadata)
                return (.plain, "plain layout: \(error)")
            }
            return try write(store, to: path, layout: .keras, architecture: architecture, metadata: metadata)
        }
    }
}
