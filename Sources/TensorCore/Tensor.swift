// A named-format-free tensor: dtype, shape and little-endian row-major bytes. Codecs produce and
// consume these; the BERT only ever asks a `TensorStore` for them by name.

package struct Tensor: @unchecked Sendable {
    package let dtype: DType
    package let shape: [Int]
    package let data: ByteView

    /// `data.count` must equal the byte size of `shape` in `dtype` (a programmer error otherwise:
    /// codecs validate file contents before building tensors).
    package init(dtype: DType, shape: [Int], data: ByteView) {
        precondition(dtype.byteCount(of: shape) == data.count,
                     "tensor bytes (\(data.count)) do not match \(dtype.rawValue) \(Shape.describe(shape))")
        self.dtype = dtype
        self.shape = shape
        self.data = data
    }

    package var elementCount: Int { Shape.elementCount(shape)! }
    package var byteCount: Int { data.count }

    /// A float32 tensor holding a copy of `values`.
    package init(float32 values: [Float], shape: [Int]) {
        precondition(Shape.elementCount(shape) == values.count, "\(values.count) values for shape \(shape)")
        let buffer = values.withUnsafeBytes { ByteBuffer(copying: $0) }
        self.init(dtype: .f32, shape: shape, data: ByteView(buffer: buffer))
    }

    /// A tensor of any whole-byte dtype from raw little-endian bytes (copied).
    package init(dtype: DType, shape: [Int], copying bytes: UnsafeRawBufferPointer) {
        self.init(dtype: dtype, shape: shape, data: ByteView(buffer: ByteBuffer(copying: bytes)))
    }

    /// An int64 tensor holding a copy of `values`.
    package init(int64 values: [Int64], shape: [Int]) {
        precondition(Shape.elementCount(shape) == values.count, "\(values.count) values for shape \(shape)")
        let buffer = values.withUnsafeBytes { ByteBuffer(copying: $0) }
        self.init(dtype: .i64, shape: shape, data: ByteView(buffer: buffer))
    }

    /// The values as float32, converting F16/BF16/F64 and the integer types; nil for types that have
    /// no meaningful float value here (complex, float8, packed types).
    package func float32Values() -> [Float]? {
        let n = elementCount
        let source = data.baseAddress
        func load<T>(_ type: T.Type, _ convert: (T) -> Float) -> [Float] {
            [Float](unsafeUninitializedCapacity: n) { out, initialized in
                for i in 0..<n { out[i] = convert(source.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)) }
                initialized = n
            }
        }
        switch dtype {
        case .f32:
            return [Float](unsafeUninitializedCapacity: n) { out, initialized in
                if n > 0 { UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: source, byteCount: n * 4) }
                initialized = n
            }
        case .f16:
            return [Float](unsafeUninitializedCapacity: n) { out, initialized in
                HalfPrecision.float16ToFloat32(source, out.baseAddress!, count: n)
                initialized = n
            }
        case .bf16:
            return [Float](unsafeUninitializedCapacity: n) { out, initialized in
                HalfPrecision.bfloat16ToFloat32(source, out.baseAddress!, count: n)
                initialized = n
            }
        case .f64: return load(Double.self) { Float($0) }
        case .i64: return load(Int64.self) { Float($0) }
        case .i32: return load(Int32.self) { Float($0) }
        case .i16: return load(Int16.self) { Float($0) }
        case .i8: return load(Int8.self) { Float($0) }
        case .u8, .bool: return load(UInt8.self) { Float($0) }
        case .u16: return load(UInt16.self) { Float($0) }
        case .u32: return load(UInt32.self) { Float($0) }
        case .u64: return load(UInt64.self) { Float($0) }
        case .f8E4M3, .f8E5M2, .f8E4M3FNUZ, .f8E5M2FNUZ, .f8E8M0:
            let format = dtype
            return load(UInt8.self) { Float8.float32($0, format) }
        default: return nil
        }
    }

    /// Integer values as Int64 (any integer or bool dtype); nil for floating types.
    package func int64Values() -> [Int64]? {
        let n = elementCount
        let source = data.baseAddress
        func load<T: BinaryInteger>(_ type: T.Type) -> [Int64] {
            (0..<n).map { Int64(truncatingIfNeeded: source.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
        }
        switch dtype {
        case .i64: return load(Int64.self)
        case .i32: return load(Int32.self)
        case .i16: return load(Int16.self)
        case .i8: return load(Int8.self)
        case .u8, .bool: return load(UInt8.self)
        case .u16: return load(UInt16.self)
        case .u32: return load(UInt32.self)
        case .u64: return load(UInt64.self)
        default: return nil
        }
    }

    /// This tensor in another floating dtype (F32, F16, BF16, F64), converted as torch's `.to()`
    /// does: through float32 (c10::Half and c10::BFloat16 are constructed from a float, so F64 → F16
    /// rounds twice there too). Same-dtype conversion returns `self` without copying.
    package func converted(to target: DType) -> Tensor? {
        if target == dtype { return self }
        let floating: [DType] = [.f32, .f16, .bf16, .f64]
        guard floating.contains(target), floating.contains(dtype) || Float8.formats.contains(dtype) else { return nil }
        let n = elementCount
        let buffer = ByteBuffer(zeroedCount: target.byteCount(of: shape)!)
        let out = buffer.mutableBaseAddress
        if dtype == .f64 {
            let source = data.baseAddress
            for i in 0..<n {
                let value = Float(source.loadUnaligned(fromByteOffset: i * 8, as: Double.self))
                switch target {
                case .f32: out.storeBytes(of: value, toByteOffset: i * 4, as: Float.self)
                case .f16: out.storeBytes(of: HalfPrecision.float16Bits(value), toByteOffset: i * 2, as: UInt16.self)
                default: out.storeBytes(of: HalfPrecision.bfloat16Bits(value), toByteOffset: i * 2, as: UInt16.self)
                }
            }
            return Tensor(dtype: target, shape: shape, data: ByteView(buffer: buffer))
        }
        let values = float32Values()!
        values.withUnsafeBufferPointer { src in
            guard let base = src.baseAddress, n > 0 else { return }
            switch target {
            case .f32: out.copyMemory(from: base, byteCount: n * 4)
            case .f16: HalfPrecision.float32ToFloat16(base, out, count: n)
            case .bf16: HalfPrecision.float32ToBFloat16(base, out, count: n)
            default: for i in 0..<n { out.storeBytes(of: Double(src[i]), toByteOffset: i * 8, as: Double.self) }
            }
        }
        return Tensor(dtype: target, shape: shape, data: ByteView(buffer: buffer))
    }

    /// True when dtype, shape and bytes are all equal.
    package func isBitwiseEqual(to other: Tensor) -> Bool {
        dtype == other.dtype && shape == other.shape && data.count == other.data.count
            && (data.count == 0 || memcmp(data.baseAddress, other.data.baseAddress, data.count) == 0)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
