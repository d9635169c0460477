// Datasets ↔ tensors. Reading hands out a view into the memory-mapped file when a dataset's bytes are
// one contiguous, unfiltered, little-endian run (what Keras and h5py write by default), so a
// checkpoint is not copied; anything else (chunked, compressed, big-endian) goes through H5Dread with
// conversion to little-endian. Writing creates the dataset as h5py's `create_dataset(name, data=a)`
// does and writes it in one call.

import CHDF5
import TensorCore

public enum HDF5TensorIO {
    /// Reads `dataset` as a tensor of `dtype` (default: the element type its datatype holds).
    /// `mapping` is the whole file mapped read-only, or nil to always copy.
    public static func read(_ dataset: HDF5Dataset, mapping: ByteBuffer?, as dtype: DType? = nil) throws -> Tensor {
        let path = dataset.path
        let type = try dataset.datatype()
        guard let stored = type.dtype else { throw HDF5Error.unsupportedDatatype(object: path, datatype: type.description) }
        let dtype = dtype ?? stored
        precondition(dtype.byteWidth == stored.byteWidth, "reinterpreting \(stored) as \(dtype) changes the element size")
        guard let shape = try dataset.shape() else {
            throw HDF5Error.unsupportedDataspace(object: path, reason: "null dataspace (an h5py Empty) holds no tensor")
        }
        guard let byteCount = dtype.byteCount(of: shape) else { throw HDF5Error.sizeOverflow(object: path) }
        if byteCount == 0 { return Tensor(dtype: dtype, shape: shape, data: ByteView(buffer: ByteBuffer(zeroedCount: 0))) }

        if let mapping, !type.isBigEndian {
            let storage = try dataset.storage()
            if storage.layout == .contiguous, storage.filters.isEmpty, !storage.external,
               let extent = dataset.contiguousExtent(), extent.size == UInt64(byteCount) {
                guard extent.offset <= UInt64(mapping.count), extent.size <= UInt64(mapping.count) - extent.offset else {
                    throw HDF5Error.storageOutsideFile(dataset: path, offset: extent.offset, size: extent.size, fileSize: mapping.count)
                }
                return Tensor(dtype: dtype, shape: shape, data: ByteView(buffer: mapping, offset: Int(extent.offset), count: byteCount))
            }
        }
        let buffer = ByteBuffer(zeroedCount: byteCount)
        try HDF5Library.run {
            let fileType = H5Dget_type(dataset.id)
            guard fileType >= 0 else { throw HDF5Library.failure("read the datatype of", path) }
            defer { H5Tclose(fileType) }
            let memoryType = try HDF5Datatype.littleEndianCopy(of: fileType, description: type)
            try dataset.read(into: buffer.mutableBaseAddress, memoryType: memoryType.id)
        }
        return Tensor(dtype: dtype, shape: shape, data: ByteView(buffer: buffer))
    }

    /// Creates dataset `name` in `group` holding `tensor`, with `type` as its file (and memory) datatype:
    /// by default the h5py type for the tensor's dtype.
    @discardableResult
    public static func write(_ tensor: Tensor, in group: HDF5Group, name: String, type: HDF5Datatype? = nil,
                             options: HDF5DatasetOptions = HDF5DatasetOptions()) throws -> HDF5Dataset {
        guard let type = try type ?? HDF5Datatype.forTensor(tensor.dtype) else {
            throw HDF5Error.dtypeNotStorable(tensor: name, dtype: tensor.dtype.rawValue, hint: "")
        }
        let dataset = try group.createDataset(name, type: type, shape: tensor.shape, options: options)
        if tensor.byteCount > 0 { try dataset.write(from: tensor.data.baseAddress, memoryType: type.id) }
        return dataset
    }
}

/// Axis permutations of row-major tensors (TF kernels are the transpose of PyTorch weights).
enum TensorTranspose {
    /// `tensor` with its axes permuted: output axis i is input axis `axes[i]` (NumPy `transpose(axes)`).
    static func permute(_ tensor: Tensor, axes: [Int]) -> Tensor {
        precondition(axes.sorted() == Array(0..<tensor.shape.count), "axes must permute the tensor's dimensions")
        let shape = tensor.shape
        let outShape = axes.map { shape[$0] }
        let width = tensor.dtype.byteWidth!
        let buffer = ByteBuffer(zeroedCount: tensor.byteCount)
        let source = tensor.data.baseAddress, target = buffer.mutableBaseAddress
        if tensor.elementCount > 0 {
            if shape.count == 2 && axes == [1, 0] {
                transpose2D(source, target, rows: shape[0], columns: shape[1], width: width)
            } else {
                permuteGeneral(source, target, shape: shape, axes: axes, width: width)
            }
        }
        return Tensor(dtype: tensor.dtype, shape: outShape, data: ByteView(buffer: buffer))
    }

    /// All axes reversed (NumPy `transpose()` with no arguments).
    static func reversed(_ tensor: Tensor) -> Tensor {
        permute(tensor, axes: Array((0..<tensor.shape.count).reversed()))
    }

    /// Cache-blocked [rows, columns] → [columns, rows].
    private static func transpose2D(_ source: UnsafeRawPointer, _ target: UnsafeMutableRawPointer, rows: Int, columns: Int, width: Int) {
        let block = 32
        func run<T>(_: T.Type) {
            let input = source.assumingMemoryBound(to: T.self), output = target.assumingMemoryBound(to: T.self)
            var r0 = 0
            while r0 < rows {
                let r1 = min(r0 + block, rows)
                var c0 = 0
                while c0 < columns {
                    let c1 = min(c0 + block, columns)
                    for r in r0..<r1 { for c in c0..<c1 { output[c * rows + r] = input[r * columns + c] } }
                    c0 = c1
                }
                r0 = r1
            }
        }
        switch width {
        case 1: run(UInt8.self)
        case 2: run(UInt16.self)
        case 4: run(UInt32.self)
        case 8: run(UInt64.self)
        default: permuteGeneral(source, target, shape: [rows, columns], axes: [1, 0], width: width)
        }
    }

    private static func permuteGeneral(_ source: UnsafeRawPointer, _ target: UnsafeMutableRawPointer, shape: [Int], axes: [Int], width: Int) {
        let rank = shape.count
        var inStrides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * shape[i + 1] }
        let outShape = axes.map { shape[$0] }
        let strides = axes.map { inStrides[$0] }   // input stride of each output axis
        var index = [Int](repeating: 0, count: rank)
        let count = outShape.reduce(1, *)
        for out in 0..<count {
            var offset = 0
            for axis in 0..<rank { offset += index[axis] * strides[axis] }
            (target + out * width).copyMemory(from: source + offset * width, byteCount: width)
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < outShape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
    }
}
