// Writes a PyTorch BERT state dict as the tf_model.h5 that `TFBert*.save_pretrained()` (transformers
// 4.x, tf_keras 2.x, h5py 3) writes, by making the same libhdf5 calls in the same order as Keras'
// `save_weights_to_hdf5_group` through h5py — so the file is byte-identical to the genuine one
// (Fixtures/hdf5/tf-h5). Keras' sequence:
//   root attrs `layer_names` (chunked above 64512 bytes), `backend`, `keras_version`;
//   per layer in sorted name order: create group, attr `weight_names` (an empty list becomes an
//   empty float64 array), then per weight `require_group(parent)`, `create_dataset`, write;
//   last, group `top_level_model_weights` with an empty `weight_names`.

import TensorCore

package enum KerasH5Writer {
    /// What Keras 2 records about itself (the genuine files carry tf_keras 2.19.0).
    package static let backend = "tensorflow"
    package static let kerasVersion = "2.19.0"
    /// Keras' `HDF5_OBJECT_HEADER_LIMIT`: a string list whose NumPy `S` form is larger is split.
    static let objectHeaderLimit = 64512

    /// The TF class `store` would be written as, or the reason it cannot be.
    package static func kerasClass(for store: TensorStore, architecture: String? = nil) throws -> KerasBertClass {
        try KerasBertPlan.make(for: store, architecture: architecture).0
    }

    /// The tensors of `store` that the Keras file leaves out: index buffers (`position_ids`, …) and
    /// tied decoder copies, which TF BERT has no variables for.
    package static func leftOut(of store: TensorStore, architecture: String? = nil) throws -> [String] {
        let (_, layers, normalized) = try KerasBertPlan.make(for: store, architecture: architecture)
        let written = Set(layers.flatMap { $0.weights.map(\.pytorchName) })
        let kept = Set(normalized.names.filter { written.contains($0) })
        return store.names.filter { !kept.contains(KerasBertPlan.normalizedName($0)) }
    }

    /// Writes `store` (a PyTorch BERT state dict) to `path` atomically. Returns the TF class used.
    @discardableResult
    package static func write(_ store: TensorStore, to path: String, architecture: String? = nil) throws -> KerasBertClass {
        try withFileContext(path) {
            let (bertClass, layers, normalized) = try KerasBertPlan.make(for: store, architecture: architecture)
            try HDF5Output.write(to: path) { root in try write(layers, from: normalized, root: root) }
            return bertClass
        }
    }

    static func write(_ layers: [KerasLayer], from store: TensorStore, root: HDF5Group) throws {
        // Kernels are transposed into one scratch buffer, reused for every weight.
        let largest = layers.flatMap(\.weights).filter(\.transposed).map { store[$0.pytorchName]!.byteCount }.max() ?? 0
        let scratch = ByteBuffer(adopting: UnsafeMutableRawPointer.allocate(byteCount: max(largest, 1), alignment: 64), count: largest)
        try saveStringList(root, "layer_names", layers.map(\.name))
        try root.writeStringAttribute("backend", [backend], scalar: true)
        try root.writeStringAttribute("keras_version", [kerasVersion], scalar: true)
        // Python's sorted() on str: code point order, which for these ASCII names is byte order.
        for layer in layers.sorted(by: { $0.name.unicodeScalars.lexicographicallyPrecedes($1.name.unicodeScalars) }) {
            let group = try root.createGroup(layer.name)
            try saveStringList(group, "weight_names", layer.weights.map(\.variableName))
            for weight in layer.weights {
                var tensor = store[weight.pytorchName]!
                if weight.transposed {
                    TensorTranspose.permute(tensor, axes: [1, 0], into: scratch.mutableBaseAddress)
                    tensor = Tensor(dtype: tensor.dtype, shape: tensor.shape.reversed(),
                                    data: ByteView(buffer: scratch, offset: 0, count: tensor.byteCount))
                }
                let components = weight.variableName.split(separator: "/", omittingEmptySubsequences: false)
                let parentPath = components.dropLast().joined(separator: "/")
                let parent = parentPath.isEmpty ? group : try group.requireGroup(parentPath)
                let dataset = try HDF5TensorIO.write(tensor, in: parent, name: String(components.last!))
                try dataset.close()
                if parent !== group { try parent.close() }
            }
            try group.close()
        }
        let top = try root.createGroup("top_level_model_weights")
        try saveStringList(top, "weight_names", [])
        try top.close()
    }

    /// Keras' `save_attributes_to_hdf5_group`: a list of `bytes` (h5py 3: variable-length ASCII); `[]`
    /// becomes NumPy's empty float64 array; a list whose `np.asarray` (fixed `S<longest>`) exceeds the
    /// header limit is split with `np.array_split` into `name0 … name{k-1}`, each a fixed-length
    /// NULLPAD array that keeps the whole list's item size.
    static func saveStringList(_ object: HDF5Object, _ name: String, _ values: [String]) throws {
        if values.isEmpty {
            try object.writeFloat64Attribute(name, [])
            return
        }
        let itemSize = max(values.map(\.utf8.count).max() ?? 1, 1)
        var chunks = 1
        while chunkSizes(count: values.count, chunks: chunks).contains(where: { $0 * itemSize > objectHeaderLimit }) { chunks += 1 }
        if chunks == 1 {
            try object.writeStringAttribute(name, values)
            return
        }
        var start = 0
        for (index, size) in chunkSizes(count: values.count, chunks: chunks).enumerated() {
            try object.writeStringAttribute("\(name)\(index)", Array(values[start..<(start + size)]),
                                            storage: .fixedASCII(size: itemSize))
            start += size
        }
    }

    /// `np.array_split(n items, k)`: the first n % k pieces get one extra item.
    package static func chunkSizes(count: Int, chunks: Int) -> [Int] {
        (0..<chunks).map { count / chunks + ($0 < count % chunks ? 1 : 0) }
    }
}

/// Writing an HDF5 file atomically: libhdf5 writes a temporary file beside the destination, which is
/// closed (flushing everything), fsynced and renamed over the destination only when complete; on any
/// failure it is removed.
enum HDF5Output {
    static func write(to path: String, _ body: (HDF5Group) throws -> Void) throws {
        let atomic = try AtomicFileWriter(destination: path)
        do {
            let file = try HDF5File.create(atomic.temporaryPath)
            do {
                let root = try file.root()
                try body(root)
                try root.close()
            } catch {
                try? file.close()
                throw error
            }
            try file.close()
            try atomic.commit()
        } catch {
            atomic.abandon()
            throw error
        }
    }
}
