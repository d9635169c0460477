// The only Python globals a PyTorch checkpoint may name: torch's tensor rebuild helpers, its storage
// classes and dtypes, and a few harmless containers. Mirrors the subset of
// `torch._weights_only_unpickler._get_allowed_globals()` (torch 2.15; Docs/specs/pytorch.md §A6)
// that state dicts use. Anything else is refused by name before the pickle can use it.

import TensorCore

/// A torch dtype, spelled as torch spells it (`torch.float32` → `float32`).
enum TorchDType: String, CaseIterable, Sendable {
    case float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool
    case complex64, complex128, complex32, bcomplex32
    case uint16, uint32, uint64
    case float8_e4m3fn, float8_e5m2, float8_e4m3fnuz, float8_e5m2fnuz, float8_e8m0fnu, float4_e2m1fn_x2
    case bits8, bits16, bits1x8, bits2x4, bits4x2
    case qint8, quint8, qint32, quint4x2, quint2x4
    case uint1, uint2, uint3, uint4, uint5, uint6, uint7
    case int1, int2, int3, int4, int5, int6, int7

    /// `torch.<dtype>.itemsize`: bytes per storage element.
    var elementSize: Int {
        switch self {
        case .float64, .int64, .uint64, .complex64: return 8
        case .complex128: return 16
        case .float32, .int32, .uint32, .complex32, .bcomplex32, .qint32: return 4
        case .float16, .bfloat16, .int16, .uint16, .bits16: return 2
        default: return 1
        }
    }

    /// The tensor-store dtype holding the same bytes, or nil when BertKit has none.
    var dtype: DType? {
        switch self {
        case .float32: return .f32
        case .float64: return .f64
        case .float16: return .f16
        case .bfloat16: return .bf16
        case .int64: return .i64
        case .int32: return .i32
        case .int16: return .i16
        case .int8: return .i8
        case .uint8: return .u8
        case .bool: return .bool
        case .complex64: return .c64
        case .uint16: return .u16
        case .uint32: return .u32
        case .uint64: return .u64
        case .float8_e4m3fn: return .f8E4M3
        case .float8_e5m2: return .f8E5M2
        case .float8_e4m3fnuz: return .f8E4M3FNUZ
        case .float8_e5m2fnuz: return .f8E5M2FNUZ
        case .float8_e8m0fnu: return .f8E8M0
        default: return nil
        }
    }

    /// The torch dtype a tensor-store dtype is saved as (nil for the packed F4/F6 types).
    init?(_ dtype: DType) {
        guard let match = TorchDType.allCases.first(where: { $0.dtype == dtype }) else { return nil }
        self = match
    }

    /// The legacy typed-storage class torch 2.x pickles for this dtype (`FloatStorage` …), or nil for
    /// the dtypes it saves through `UntypedStorage` and `_rebuild_tensor_v3` (`torch.storage._new_dtypes()`).
    var storageClassName: String? {
        TorchGlobal.storageClasses.first(where: { $0.value == self })?.key
    }
}

/// A global the machine resolved. Only these can ever be on the stack.
enum TorchGlobal: Equatable, Sendable {
    case rebuildTensor, rebuildTensorV2, rebuildTensorV3
    case rebuildParameter, rebuildParameterWithState, rebuildFromTypeV2
    case typedStorage(TorchDType)       // torch.FloatStorage, torch.cuda.FloatStorage …
    case untypedStorage                 // torch.storage.UntypedStorage
    case dtype(TorchDType)              // torch.float32 … (the v3 rebuild's dtype argument)
    case orderedDict                    // collections.OrderedDict
    case torchSize                      // torch.Size
    case codecsEncode                   // _codecs.encode: how protocol 2 pickles `bytes`
    case set, frozenSet, byteArray      // builtins (__builtin__ in protocol-2 pickles)
    case device                         // torch.device
    case tensorType, parameterType      // torch.Tensor, torch.nn.parameter.Parameter (for _rebuild_from_type_v2)

    /// Storage class names under `torch` and `torch.cuda` → their dtype.
    static let storageClasses: [String: TorchDType] = [
        "FloatStorage": .float32, "DoubleStorage": .float64, "HalfStorage": .float16,
        "BFloat16Storage": .bfloat16, "LongStorage": .int64, "IntStorage": .int32,
        "ShortStorage": .int16, "CharStorage": .int8, "ByteStorage": .uint8, "BoolStorage": .bool,
        "ComplexFloatStorage": .complex64, "ComplexDoubleStorage": .complex128,
        "QInt8Storage": .qint8, "QUInt8Storage": .quint8, "QInt32Storage": .qint32,
        "QUInt4x2Storage": .quint4x2, "QUInt2x4Storage": .quint2x4,
    ]

    static let named: [String: TorchGlobal] = {
        var table: [String: TorchGlobal] = [
            "torch._utils._rebuild_tensor": .rebuildTensor,
            "torch._utils._rebuild_tensor_v2": .rebuildTensorV2,
            "torch._utils._rebuild_tensor_v3": .rebuildTensorV3,
            "torch._utils._rebuild_parameter": .rebuildParameter,
            "torch._utils._rebuild_parameter_with_state": .rebuildParameterWithState,
            "torch._tensor._rebuild_from_type_v2": .rebuildFromTypeV2,
            "torch.storage.UntypedStorage": .untypedStorage,
            "collections.OrderedDict": .orderedDict,
            "torch.Size": .torchSize,
            "_codecs.encode": .codecsEncode,
            "builtins.set": .set, "__builtin__.set": .set,
            "builtins.frozenset": .frozenSet, "__builtin__.frozenset": .frozenSet,
            "builtins.bytearray": .byteArray, "__builtin__.bytearray": .byteArray,
            "torch.device": .device,
            "torch.Tensor": .tensorType,
            "torch.nn.parameter.Parameter": .parameterType,
        ]
        for (name, dtype) in storageClasses {
            table["torch." + name] = .typedStorage(dtype)
            if !name.hasPrefix("Q") { table["torch.cuda." + name] = .typedStorage(dtype) }
        }
        for dtype in TorchDType.allCases { table["torch." + dtype.rawValue] = .dtype(dtype) }
        return table
    }()

    /// Resolves `module.name`, refusing everything outside the allowlist.
    static func resolve(module: String, name: String) throws(PyTorchError) -> TorchGlobal {
        let full = module + "." + name
        guard let global = named[full] else { throw .forbiddenGlobal(full) }
        return global
    }

    /// The dotted name, for messages.
    var qualifiedName: String {
        switch self {
        case .typedStorage(let dtype): return "torch." + (dtype.storageClassName ?? dtype.rawValue + " storage")
        case .dtype(let dtype): return "torch." + dtype.rawValue
        default: return TorchGlobal.named.first(where: { $0.value == self && !$0.key.hasPrefix("__builtin__") })?.key ?? "\(self)"
        }
    }
}
