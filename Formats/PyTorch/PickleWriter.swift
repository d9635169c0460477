// The `data.pkl` that `torch.save({name: tensor, …})` produces, byte for byte: CPython's C pickler at
// protocol 2 (Modules/_pickle.c, 3.11) applied to torch 2.15's `Tensor.__reduce_ex__`
// (`_rebuild_tensor_v2`, or `_v3` with `UntypedStorage` for the newer dtypes) and
// `torch.serialization._save`'s persistent ids. The pickler memoizes every object it writes except
// ints, bools and the empty tuple, keyed by object identity; the objects torch reuses across tensors
// (the rebuild function, storage classes, `OrderedDict`, dtypes, the literals 'storage' and 'cpu', and
// each storage's key string) are fetched back with BINGET after their first appearance.

import TensorCore

/// One tensor as the pickle describes it.
struct PickledTensor {
    var name: String
    var dtype: TorchDType
    var storageKey: String
    var storageElementCount: Int   // elements of `dtype`, or bytes for an UntypedStorage
    var storageOffset: Int
    var shape: [Int]
    var strides: [Int]
}

struct PickleWriter {
    private(set) var bytes: [UInt8] = []
    private var memoCount = 0
    /// Memo slots of the objects torch reuses, by a name for their identity.
    private var shared: [String: Int] = [:]

    /// The whole `data.pkl` for a plain dict of tensors, in order.
    static func stateDict(_ tensors: [PickledTensor]) -> [UInt8] {
        var writer = PickleWriter()
        writer.bytes.reserveCapacity(64 + tensors.count * 160)
        writer.op(.proto); writer.bytes.append(2)
        writer.op(.emptyDict); writer.put()
        if tensors.count == 1 {
            writer.string(tensors[0].name)
            writer.tensor(tensors[0])
            writer.op(.setItem)
        } else if tensors.count > 1 {
            // `batch_dict_exact`: MARK … SETITEMS in batches of 1000, and an empty batch after a full one.
            var start = 0
            repeat {
                let end = min(start + 1000, tensors.count)
                writer.op(.mark)
                for item in tensors[start..<end] {
                    writer.string(item.name)
                    writer.tensor(item)
                }
                writer.op(.setItems)
                if end - start < 1000 { break }
                start = end
            } while true
        }
        writer.op(.stop)
        return writer.bytes
    }

    private mutating func tensor(_ t: PickledTensor) {
        let v3 = t.dtype.storageClassName == nil
        global("torch._utils", v3 ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2")
        op(.mark)
        // The persistent id ('storage', StorageClass, key, 'cpu', numel).
        op(.mark)
        sharedString("storage", identity: "literal:storage")
        if let className = t.dtype.storageClassName { global("torch", className) } else { global("torch.storage", "UntypedStorage") }
        sharedString(t.storageKey, identity: "key:" + t.storageKey)
        sharedString("cpu", identity: "literal:cpu")
        int(t.storageElementCount)
        op(.tuple); put()
        op(.binPersID)
        int(t.storageOffset)
        intTuple(t.shape)
        intTuple(t.strides)
        op(.newFalse)
        // backward_hooks: a fresh OrderedDict() each time.
        global("collections", "OrderedDict")
        op(.emptyTuple)
        op(.reduce); put()
        if v3 { global("torch", t.dtype.rawValue) }
        op(.tuple); put()
        op(.reduce); put()
    }

    // MARK: - Opcodes

    private mutating func op(_ code: PickleOpcode) { bytes.append(code.rawValue) }

    private mutating func put() {
        if memoCount < 256 {
            op(.binPut); bytes.append(UInt8(memoCount))
        } else {
            op(.longBinPut); append32(UInt32(memoCount))
        }
        memoCount += 1
    }

    private mutating func get(_ index: Int) {
        if index < 256 {
            op(.binGet); bytes.append(UInt8(index))
        } else {
            op(.longBinGet); append32(UInt32(index))
        }
    }

    private mutating func append32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }

    /// A memoized object written once, then fetched.
    private mutating func memoized(_ identity: String, write: (inout PickleWriter) -> Void) {
        if let index = shared[identity] { get(index); return }
        write(&self)
        shared[identity] = memoCount
        put()
    }

    private mutating func global(_ module: String, _ name: String) {
        memoized("global:\(module).\(name)") { w in
            w.op(.global)
            w.bytes.append(contentsOf: Array(module.utf8) + [0x0A] + Array(name.utf8) + [0x0A])
        }
    }

    private mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        op(.binUnicode)
        append32(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
        put()
    }

    private mutating func sharedString(_ text: String, identity: String) {
        if let index = shared[identity] { get(index); return }
        let slot = memoCount
        string(text)
        shared[identity] = slot
    }

    /// `save_long` at protocol 2: BININT1/BININT2/BININT when it fits 32 bits, else LONG1.
    mutating func int(_ value: Int) {
        if value >= 0 && value <= 0xFF {
            op(.binInt1); bytes.append(UInt8(value))
        } else if value >= 0 && value <= 0xFFFF {
            op(.binInt2); withUnsafeBytes(of: UInt16(value).littleEndian) { bytes.append(contentsOf: $0) }
        } else if value >= Int(Int32.min) && value <= Int(Int32.max) {
            op(.binInt); append32(UInt32(bitPattern: Int32(value)))
        } else {
            // Minimal little-endian two's complement: (bit length / 8) + 1 bytes, trimmed for negatives.
            let bitLength = UInt.bitWidth - value.magnitude.leadingZeroBitCount
            var count = bitLength / 8 + 1
            var raw = withUnsafeBytes(of: Int64(value).littleEndian) { Array($0) }
            while raw.count < count { raw.append(value < 0 ? 0xFF : 0) }
            if value < 0, count > 1, raw[count - 1] == 0xFF, raw[count - 2] & 0x80 != 0 { count -= 1 }
            op(.long1); bytes.append(UInt8(count)); bytes.append(contentsOf: raw.prefix(count))
        }
    }

    /// `save_tuple`: EMPTY_TUPLE unmemoized; TUPLE1–3 for short ones; MARK … TUPLE otherwise.
    private mutating func intTuple(_ values: [Int]) {
        if values.isEmpty { op(.emptyTuple); return }
        if values.count <= 3 {
            for value in values { int(value) }
            op(values.count == 1 ? .tuple1 : values.count == 2 ? .tuple2 : .tuple3)
        } else {
            op(.mark)
            for value in values { int(value) }
            op(.tuple)
        }
        put()
    }
}
