// Datasets ↔ tensors. Reading hands out a view into the memory-mapped file when a dataset's bytes are
// one contiguous, unfiltered, little-endian run (what Keras and h5py write by default), so a
// checkpoint is not copied; anything else (chunked, compressed, big-endian) goes through H5Dread with
// conversion to little-endian. Writing creates the dataset as h5py's `create_dataset(name, data=a)`
// does and writes it in one call.

import CHDF5
import TensorCore

package enum HDF5TensorIO {
    /// Bytes a dataset may declare beyond what compression of its stored bytes explains: the fill values of a small
    /// dataset whose chunks were never written.
    static let unwrittenAllowance = 16 << 20

    /// Reads `dataset` as a tensor of `dtype` (default: the element type its datatype holds).
    /// `mapping` is the whole file mapped read-only, or nil to always copy.
    package static func read(_ dataset: HDF5Dataset, mapping: ByteBuffer?, as dtype: DType? = nil) throws -> Tensor {
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
        // A damaged or hostile file can declare a chunked dataset of terabytes in a few bytes (its chunks unwritten,
        // read as fill values): refuse what this machine could not hold rather than be killed allocating it.
        guard byteCount <= SystemMemory.physicalBytes else {
            throw HDF5Error.tooLarge(object: path, bytes: byteCount, limit: SystemMemory.physicalBytes)
        }
        // Nor may it declare much more than it stores: deflate expands at most 1032:1 (zlib's technical details,
        // https://zlib.net/zlib_tech.html), and past a little room for an unwritten dataset's fill values, a larger
        // claim is damage. (Found by fuzzing: a 40 KB file declaring a 5 GB chunked dataset.)
        let storedBytes = dataset.storedByteCount()
        let (scaled, overflow) = storedBytes.multipliedReportingOverflow(by: 1032)
        guard overflow || byteCount <= scaled + Self.unwrittenAllowance else {
            throw HDF5Error.unbackedData(object: path, bytes: byteCount, stored: storedBytes)
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
    package static func write(_ tensor: Tensor, in group: HDF5Group, name: String, type: HDF5Datatype? = nil,
                             options: HDF5DatasetOptions = HDF5DatasetOptions()) throws -> HDF5Dataset {
        guard let type = try type ?? HDF5Datatype.forTensor(tensor.dtype) else {
            throw HDF5Error.dtypeNotStorable(tensor: name, dtype: tensor.dtype.rawValue, hint: "")
        }
        let dataset = try group.createDataset(name, type: type, shape: tensor.shape, options: options)
        if tensor.byteCount > 0 { try dataset.write(from: tensor.data.baseAddress, memoryType: type.id) }
        return dataset
    }
}
