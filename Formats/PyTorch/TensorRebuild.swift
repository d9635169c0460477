// Tensors as torch rebuilds them (torch/_utils.py `_rebuild_tensor`, `_v2`, `_v3`, torch 2.15):
// element (i0, i1, …) lives at storage element `offset + Σ i_k·stride_k`, all counted in elements of
// the tensor's dtype (Docs/specs/pytorch.md §A4). Contiguous tensors become views of the storage's
// bytes, so tensors sharing a storage share one buffer; other layouts are copied out row-major.

import TensorCore

enum TensorRebuild {
    /// Largest row-major copy of an expanded (stride-0) view that is larger than its storage.
    static let materializationLimit = 1 << 30

    /// Reads a rebuild helper's arguments: `(storage, offset, size, stride[, requires_grad, hooks[, dtype]][, metadata])`.
    static func record(_ function: TorchGlobal, _ args: [PickleValue], arena: PickleArena,
                       fail: (String) -> PyTorchError) throws(PyTorchError) -> TensorRecord {
        let accepted: ClosedRange<Int> = function == .rebuildTensor ? 4...4 : function == .rebuildTensorV2 ? 6...7 : 7...8
        guard accepted.contains(args.count) else {
            throw fail("expected \(accepted.lowerBound == accepted.upperBound ? "\(accepted.lowerBound)" : "\(accepted.lowerBound) or \(accepted.upperBound)") arguments, got \(args.count)")
        }
        guard case .storage(let storage)? = arena.object(args[0]) else { throw fail("first argument is \(args[0].kind(in: arena)), not a storage") }
        guard let offset = args[1].intValue, offset >= 0 else { throw fail("storage offset is \(args[1].kind(in: arena)), not a non-negative int") }
        let shape = try ints(args[2], "size", arena: arena, fail: fail)
        let strides = try ints(args[3], "stride", arena: arena, fail: fail)
        guard shape.count == strides.count else { throw fail("size has \(shape.count) dimensions but stride has \(strides.count)") }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw fail("size \(Shape.describe(shape)) has a negative dimension") }
        guard strides.allSatisfy({ $0 >= 0 }) else { throw fail("stride \(Shape.describe(strides)) has a negative step") }

        let dtype: TorchDType
        var metadata: PickleValue?
        if function == .rebuildTensorV3 {
            guard case .global(.dtype(let named))? = arena.object(args[6]) else { throw fail("dtype argument is \(args[6].kind(in: arena)), not a torch dtype") }
            dtype = named
            metadata = args.count == 8 ? args[7] : nil
        } else {
            guard let typed = storage.dtype else { throw fail("an UntypedStorage needs _rebuild_tensor_v3, which names the dtype") }
            dtype = typed
            metadata = args.count == 7 ? args[6] : nil
        }
        var record = TensorRecord(storage: storage, dtype: dtype, storageOffset: offset, shape: shape, strides: strides)
        if let metadata {
            guard case .dict(let flags)? = arena.object(metadata) else { throw fail("tensor metadata is \(metadata.kind(in: arena)), not a dict") }
            for (key, value) in zip(flags.keys, flags.values) {
                guard case .bool(let on) = value else { throw fail("tensor metadata value for \(key.stringValue ?? "?") is not a bool") }
                switch key.stringValue {
                case "conj": record.conjugate = on
                case "neg": record.negative = on
                default: throw fail("unknown tensor metadata '\(key.stringValue ?? key.kind(in: arena))'")
                }
            }
        }
        return record
    }

    private static func ints(_ value: PickleValue, _ what: String, arena: PickleArena,
                             fail: (String) -> PyTorchError) throws(PyTorchError) -> [Int] {
        let items: [PickleValue]
        switch arena.object(value) {
        case .tuple(let values)?, .list(let values)?: items = values
        default: throw fail("\(what) is \(value.kind(in: arena)), not a tuple of ints")
        }
        var result: [Int] = []
        result.reserveCapacity(items.count)
        for item in items {
            guard let number = item.intValue else { throw fail("\(what) holds \(item.kind(in: arena)), not an int") }
            result.append(number)
        }
        return result
    }

    /// The tensor `record` describes, over `storage` (the whole storage's bytes, already in host order).
    static func materialize(_ record: TensorRecord, name: String, key: String, storage: ByteView) throws(PyTorchError) -> Tensor {
        guard let dtype = record.dtype.dtype else { throw .unsupportedDType(tensor: name, dtype: record.dtype.rawValue) }
        let itemSize = record.dtype.elementSize
        guard let count = Shape.elementCount(record.shape), let byteCount = dtype.byteCount(of: record.shape) else {
            throw .invalidTensor(tensor: name, reason: "size \(Shape.describe(record.shape)) overflows")
        }
        if count == 0 { return Tensor(dtype: dtype, shape: record.shape, data: ByteView(buffer: ByteBuffer(zeroedCount: 0))) }

        // The last element the view reaches, with overflow checks: offset + Σ (size_k − 1)·stride_k.
        var last = record.storageOffset
        for (size, stride) in zip(record.shape, record.strides) {
            let (step, overflow1) = (size - 1).multipliedReportingOverflow(by: stride)
            let (sum, overflow2) = last.addingReportingOverflow(step)
            guard !overflow1, !overflow2 else { throw .invalidTensor(tensor: name, reason: "strides \(Shape.describe(record.strides)) overflow") }
            last = sum
        }
        let (lastPlusOne, overflow1) = last.addingReportingOverflow(1)
        let (needed, overflow2) = lastPlusOne.multipliedReportingOverflow(by: itemSize)
        guard !overflow1, !overflow2 else { throw .invalidTensor(tensor: name, reason: "storage offset \(record.storageOffset) overflows") }
        guard needed <= storage.count else {
            throw .tensorOutsideStorage(tensor: name, key: key, neededBytes: needed, storageBytes: storage.count)
        }

        let start = storage.offset + record.storageOffset * itemSize
        if isContiguous(record.shape, record.strides) && !record.conjugate && !record.negative {
            return Tensor(dtype: dtype, shape: record.shape, data: ByteView(buffer: storage.buffer, offset: start, count: byteCount))
        }
        // Only an expanded view (stride 0) copies out larger than its storage; a hostile one could ask for
        // terabytes, so its copy is bounded.
        guard byteCount <= max(storage.count, materializationLimit) else {
            throw .invalidTensor(tensor: name, reason: "an expanded view of \(byteCount) bytes over \(storage.count) bytes of storage '\(key)' is larger than \(materializationLimit) bytes when copied out")
        }
        guard let buffer = PyTorchMemory.allocate(byteCount) else {
            throw .invalidTensor(tensor: name, reason: "cannot allocate \(byteCount) bytes to copy it out row-major")
        }
        gather(from: storage.buffer.baseAddress + start, shape: record.shape, strides: record.strides, itemSize: itemSize,
               into: buffer.mutableBaseAddress)
        if record.conjugate || record.negative {
            try flipSigns(buffer.mutableBaseAddress, count: count, dtype: dtype, conjugate: record.conjugate,
                          negative: record.negative, name: name)
        }
        return Tensor(dtype: dtype, shape: record.shape, data: ByteView(buffer: buffer))
    }

    /// Row-major contiguous (dimensions of size 1 may carry any stride, as in torch's `is_contiguous`).
    static func isContiguous(_ shape: [Int], _ strides: [Int]) -> Bool {
        var expected = 1
        for i in shape.indices.reversed() where shape[i] != 1 {
            if strides[i] != expected { return false }
            expected *= shape[i]
        }
        return true
    }

    /// Copies a strided view into row-major order. Dimensions that are contiguous with each other are
    /// merged first, so a transposed matrix copies row runs and a sliced one copies whole blocks.
    static func gather(from source: UnsafeRawPointer, shape: [Int], strides: [Int], itemSize: Int, into out: UnsafeMutableRawPointer) {
        var dims: [(size: Int, stride: Int)] = []
        for (size, stride) in zip(shape, strides) where size != 1 {
            if let previous = dims.last, previous.stride == stride * size {
                dims[dims.count - 1] = (previous.size * size, stride)
            } else {
                dims.append((size, stride))
            }
        }
        if dims.isEmpty { dims = [(1, 1)] }
        let inner = dims.removeLast()
        var index = [Int](repeating: 0, count: dims.count)
        var written = 0
        var sourceElement = 0
        while true {
            let base = source + sourceElement * itemSize
            let destination = out + written
            if inner.stride == 1 {
                destination.copyMemory(from: base, byteCount: inner.size * itemSize)
            } else {
                copyStrided(base, destination, count: inner.size, stride: inner.stride * itemSize, itemSize: itemSize)
            }
            written += inner.size * itemSize
            // Odometer over the outer dimensions.
            var d = dims.count - 1
            while d >= 0 {
                index[d] += 1
                sourceElement += dims[d].stride
                if index[d] < dims[d].size { break }
                sourceElement -= dims[d].stride * dims[d].size
                index[d] = 0
                d -= 1
            }
            if d < 0 { return }
        }
    }

    private static func copyStrided(_ source: UnsafeRawPointer, _ out: UnsafeMutableRawPointer, count: Int, stride: Int, itemSize: Int) {
        func copy<T>(_ type: T.Type) {
            for i in 0..<count {
                out.storeBytes(of: source.loadUnaligned(fromByteOffset: i * stride, as: T.self), toByteOffset: i * itemSize, as: T.self)
            }
        }
        switch itemSize {
        case 1: copy(UInt8.self)
        case 2: copy(UInt16.self)
        case 4: copy(UInt32.self)
        case 8: copy(UInt64.self)
        default: for i in 0..<count { (out + i * itemSize).copyMemory(from: source + i * stride, byteCount: itemSize) }
        }
    }

    /// Applies torch's lazy conjugate / negative bits: IEEE negation is a sign-bit flip.
    private static func flipSigns(_ data: UnsafeMutableRawPointer, count: Int, dtype: DType, conjugate: Bool, negative: Bool,
                                  name: String) throws(PyTorchError) {
        // Byte positions (within one element) of the sign bits to flip.
        var signBytes: [Int] = []
        switch dtype {
        case .c64:
            if negative { signBytes.append(3) }
            if conjugate != negative { signBytes.append(7) }   // conj and neg together negate the real part only
        case .f16, .bf16, .f32, .f64:
            guard !conjugate else { throw .invalidTensor(tensor: name, reason: "a conjugate bit on a real dtype") }
            signBytes = [dtype.byteWidth! - 1]
        default:
            throw .invalidTensor(tensor: name, reason: "a \(conjugate ? "conjugate" : "negative") bit on \(dtype.rawValue), which torch never sets")
        }
        let width = dtype.byteWidth!
        let bytes = data.assumingMemoryBound(to: UInt8.self)
        for i in 0..<count { for b in signBytes { bytes[i * width + b] ^= 0x80 } }
    }

    /// Reverses the byte order of every `unit`-byte word (a big-endian storage read on a little-endian host).
    static func byteSwapped(_ view: ByteView, unit: Int) -> ByteView {
        let buffer = ByteBuffer(zeroedCount: view.count)
        let out = buffer.mutableBaseAddress.assumingMemoryBound(to: UInt8.self)
        let source = view.baseAddress.assumingMemoryBound(to: UInt8.self)
        let words = view.count / unit
        for w in 0..<words { for b in 0..<unit { out[w * unit + b] = source[w * unit + unit - 1 - b] } }
        for b in (words * unit)..<view.count { out[b] = source[b] }
        return ByteView(buffer: buffer)
    }
}
