// What the pickle machine builds. Values are flat (no enum nests another), and every container lives
// in one arena and is referred to by index, so a hostile pickle can make neither a reference cycle
// that leaks nor a nesting that overflows the stack when it is freed or walked.

/// A Python value: a scalar inline, or a reference to a container in the arena.
enum PickleValue: Sendable {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer beyond 64 bits, as little-endian two's-complement bytes (LONG1/LONG4).
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case ref(Int)

    /// A short kind name for messages ("a str", "a dict" …).
    func kind(in arena: PickleArena) -> String {
        switch self {
        case .none: return "None"
        case .bool: return "a bool"
        case .int, .bigInt: return "an int"
        case .float: return "a float"
        case .string: return "a str"
        case .bytes: return "bytes"
        case .ref(let index): return arena.objects[index].kind
        }
    }

    var intValue: Int? { if case .int(let value) = self { return value } else { return nil } }
    var stringValue: String? { if case .string(let value) = self { return value } else { return nil } }
}

/// A storage reference from a persistent id: which record holds the bytes, as what dtype, and how
/// many elements the pickle says the whole storage has.
struct StorageReference: Sendable {
    var key: String
    /// nil for `torch.storage.UntypedStorage` (numel is then a byte count and the tensor names the dtype).
    var dtype: TorchDType?
    var elementCount: Int
    var location: String
    /// Legacy format only: this reference is a view `(viewKey, offset, count)` (in elements) of `key`.
    var view: (key: String, offset: Int, count: Int)?

    var byteCount: Int? {
        let (bytes, overflow) = elementCount.multipliedReportingOverflow(by: dtype?.elementSize ?? 1)
        return overflow ? nil : bytes
    }
}

/// A tensor as the rebuild helpers describe it: nothing is read until the reader resolves it.
struct TensorRecord: Sendable {
    var storage: StorageReference
    var dtype: TorchDType
    var storageOffset: Int      // in elements of `dtype`
    var shape: [Int]
    var strides: [Int]          // in elements of `dtype`
    var conjugate = false       // metadata {'conj': True}: the values are the complex conjugate
    var negative = false        // metadata {'neg': True}: the values are negated
}

enum PickleObject: Sendable {
    case tuple([PickleValue])
    case list([PickleValue])
    case dict(PickleDict)
    case set([PickleValue])
    case global(TorchGlobal)
    case storage(StorageReference)
    case tensor(TensorRecord)

    var kind: String {
        switch self {
        case .tuple: return "a tuple"
        case .list: return "a list"
        case .dict(let dict): return dict.isOrdered ? "an OrderedDict" : "a dict"
        case .set: return "a set"
        case .global(let global): return "global '\(global.qualifiedName)'"
        case .storage: return "a storage"
        case .tensor: return "a Tensor"
        }
    }
}

/// A dict that keeps insertion order; keys that compare equal in Python (str, int, bool, None)
/// replace in place, as `dict.__setitem__` does.
struct PickleDict: Sendable {
    var isOrdered = false
    private(set) var keys: [PickleValue] = []
    private(set) var values: [PickleValue] = []
    private var index: [HashKey: Int] = [:]
    /// Attributes set by BUILD (an OrderedDict's `_metadata`); kept only to count them.
    var attributeCount = 0

    enum HashKey: Hashable { case string(String), int(Int), none }

    var count: Int { keys.count }

    mutating func set(_ key: PickleValue, _ value: PickleValue) {
        let hashKey: HashKey?
        switch key {
        case .string(let text): hashKey = .string(text)
        case .int(let number): hashKey = .int(number)
        case .bool(let flag): hashKey = .int(flag ? 1 : 0)
        case .none: hashKey = HashKey.none
        default: hashKey = nil   // other keys are appended as they come (never in state dicts)
        }
        if let hashKey, let position = index[hashKey] {
            values[position] = value
            return
        }
        if let hashKey { index[hashKey] = keys.count }
        keys.append(key)
        values.append(value)
    }

    subscript(key: String) -> PickleValue? { index[.string(key)].map { values[$0] } }
}

/// Every container the machine made, by index; `depths` bounds how deeply they nest.
struct PickleArena: Sendable {
    var objects: [PickleObject] = []
    var depths: [Int32] = []

    mutating func add(_ object: PickleObject, depth: Int32 = 1) -> PickleValue {
        objects.append(object)
        depths.append(depth)
        return .ref(objects.count - 1)
    }

    func depth(of value: PickleValue) -> Int32 {
        if case .ref(let index) = value { return depths[index] }
        return 0
    }

    func object(_ value: PickleValue) -> PickleObject? {
        if case .ref(let index) = value { return objects[index] }
        return nil
    }
}
