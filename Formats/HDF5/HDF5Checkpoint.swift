// The codec's entry points: read any HDF5 checkpoint (Keras tf_model.h5 or the plain layout, told
// apart by the root's `layer_names` attribute) and write either layout. Paths are attached to errors
// here, once.

import TensorCore

package enum HDF5Checkpoint {
    /// The two layouts, named as `inspect` reports them.
    package enum Layout: String, Sendable {
        /// Keras-2 weights (`layer_names` / `weight_names`), TF-named, mapped to PyTorch names on reading.
        case keras = "keras-h5"
        /// One dataset per tensor (SPEC.md).
        case plain = "hdf5"
    }

    /// Which layout to write.
    package enum LayoutChoice: String, Sendable, CaseIterable {
        /// Keras when the tensors are a BERT the TF classes hold, plain otherwise.
        case automatic = "auto"
        case keras
        case plain
    }

    package struct Contents {
        package var layout: Layout
        package var store: TensorStore
        package var notes: [String]

        package init(layout: Layout, store: TensorStore, notes: [String]) {
            self.layout = layout
            self.store = store
            self.notes = notes
        }
    }

    /// Reads `path`. Tensors stored as one contiguous little-endian run are views into a read-only
    /// mapping of the file; the rest are read through libhdf5.
    package static func read(path: String) throws -> Contents {
        try withFileContext(path) {
            let file = try HDF5File.open(path)
            defer { try? file.close() }
            return try read(file: file, mapping: try ByteBuffer(mappingFileAt: path))
        }
    }

    /// Reads an open file whose bytes `mapping` maps (contiguous datasets become views of it). Every object
    /// it opens is closed before it returns.
    package static func read(file: HDF5File, mapping: ByteBuffer) throws -> Contents {
        let root = try file.root()
        defer { try? root.close() }
        if try KerasH5Reader.isKerasLayout(root) {
            let (store, notes) = try KerasH5Reader.read(root: root, mapping: mapping)
            return Contents(layout: .keras, store: store, notes: notes)
        }
        let (store, notes) = try PlainHDF5.read(root: root, mapping: mapping)
        return Contents(layout: .plain, store: store, notes: notes)
    }

    /// The layout `choice` resolves to for `store`, with a remark: the TF class for Keras, or why the
    /// automatic choice is the plain layout. Throws when Keras is forced and the tensors do not fit.
    package static func resolveLayout(_ store: TensorStore, choice: LayoutChoice, architecture: String? = nil) throws -> (Layout, String) {
        switch choice {
        case .keras:
            let bertClass = try KerasH5Writer.kerasClass(for: store, architecture: architecture)
            let leftOut = try KerasH5Writer.leftOut(of: store, architecture: architecture)
            return (.keras, "Keras layout of \(bertClass.rawValue)"
                    + (leftOut.isEmpty ? "" : "; not stored (TF BERT has no variables for index buffers or a tied decoder): "
                       + leftOut.joined(separator: ", ")))
        case .plain:
            return (.plain, "plain HDF5 layout (one dataset per tensor)")
        case .automatic:
            do {
                return try resolveLayout(store, choice: .keras, architecture: architecture)
            } catch let error as HDF5Error {
                if case .notKerasBert(let reason) = error {
                    return (.plain, "plain HDF5 layout (one dataset per tensor): not a TF BERT checkpoint (\(reason))")
                }
                return (.plain, "plain HDF5 layout (one dataset per tensor): \(error)")
            }
        }
    }

    /// Writes `store` to `path` atomically in the chosen layout and returns the layout written with a
    /// remark (see `resolveLayout`). `architecture` is config.json's first `architectures` entry, if
    /// known; `metadata` becomes the plain layout's root attributes.
    @discardableResult
    package static func write(_ store: TensorStore, to path: String, layout choice: LayoutChoice = .automatic,
                             architecture: String? = nil, metadata: [String: String]? = nil) throws -> (Layout, String) {
        let (layout, note) = try withFileContext(path) { try resolveLayout(store, choice: choice, architecture: architecture) }
        switch layout {
        case .keras: try KerasH5Writer.write(store, to: path, architecture: architecture)
        case .plain: try PlainHDF5.write(store, to: path, metadata: metadata)
        }
        return (layout, note)
    }
}
