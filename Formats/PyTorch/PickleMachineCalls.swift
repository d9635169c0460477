// What REDUCE, NEWOBJ, INST, OBJ and BUILD mean for the allowlisted globals. Nothing is called: each
// global is interpreted here by its meaning in torch 2.15 (`torch/_utils.py` rebuild helpers,
// `collections.OrderedDict`, `torch.Size` …); everything else cannot be called.

extension PickleMachine {
    mutating func call(_ function: TorchGlobal, _ args: [PickleValue]) throws(PyTorchError) -> PickleValue {
        let name = function.qualifiedName
        func fail(_ reason: String) -> PyTorchError { .badCall(function: name, reason: reason, offset: opcodeOffset) }
        switch function {
        case .rebuildTensor, .rebuildTensorV2, .rebuildTensorV3:
            let record = try TensorRebuild.record(function, args, arena: arena, fail: fail)
            return try make(.tensor(record))
        case .rebuildParameter, .rebuildParameterWithState:
            guard args.count == (function == .rebuildParameter ? 3 : 4) else { throw fail("expected \(function == .rebuildParameter ? 3 : 4) arguments, got \(args.count)") }
            guard case .tensor? = arena.object(args[0]) else { throw fail("first argument is \(args[0].kind(in: arena)), not a tensor") }
            return args[0]
        case .rebuildFromTypeV2:
            guard args.count == 4 else { throw fail("expected 4 arguments, got \(args.count)") }
            let inner = try global(args[0])
            guard [.rebuildTensor, .rebuildTensorV2, .rebuildTensorV3, .rebuildParameter].contains(inner) else {
                throw fail("rebuilds with \(inner.qualifiedName), not a tensor helper")
            }
            guard case .global(let type)? = arena.object(args[1]), type == .tensorType || type == .parameterType else {
                throw fail("type is \(args[1].kind(in: arena)), not torch.Tensor or Parameter")
            }
            let result = try call(inner, try tupleItems(args[2]))
            guard case .tensor? = arena.object(result) else { throw fail("did not rebuild a tensor") }
            return result
        case .orderedDict:
            var dict = PickleDict()
            dict.isOrdered = true
            guard args.count <= 1 else { throw fail("expected at most 1 argument, got \(args.count)") }
            if let pairs = args.first {
                for pair in try sequenceItems(pairs, fail) {
                    guard case .tuple(let kv)? = arena.object(pair), kv.count == 2 else { throw fail("items must be (key, value) pairs") }
                    dict.set(kv[0], kv[1])
                }
            }
            return try make(.dict(dict), children: dict.values)
        case .torchSize:
            guard args.count == 1 else { throw fail("expected 1 argument, got \(args.count)") }
            let items = try sequenceItems(args[0], fail)
            guard items.allSatisfy({ $0.intValue != nil }) else { throw fail("sizes must be ints") }
            return try make(.tuple(items))
        case .codecsEncode:
            guard args.count == 2, let text = args[0].stringValue, let encoding = args[1].stringValue else {
                throw fail("expected (str, encoding)")
            }
            return .bytes(try encode(text, encoding, fail))
        case .byteArray:
            if args.isEmpty { return .bytes([]) }
            if args.count == 1, case .bytes(let raw) = args[0] { return .bytes(raw) }
            guard args.count == 2, let text = args[0].stringValue, let encoding = args[1].stringValue else {
                throw fail("expected bytes or (str, encoding)")
            }
            return .bytes(try encode(text, encoding, fail))
        case .set, .frozenSet:
            guard args.count <= 1 else { throw fail("expected at most 1 argument, got \(args.count)") }
            let items = try args.first.map { (value) throws(PyTorchError) in try sequenceItems(value, fail) } ?? []
            return try make(.set(items), children: items)
        case .device:
            guard let type = args.first?.stringValue, args.count <= 2 else { throw fail("expected (type[, index])") }
            if args.count == 2 {
                guard let index = args[1].intValue else { throw fail("device index must be an int") }
                return .string("\(type):\(index)")
            }
            return .string(type)
        case .typedStorage, .untypedStorage, .dtype, .tensorType, .parameterType:
            throw .notCallable(opcode: opcode.name, target: "global '\(name)'", offset: opcodeOffset)
        }
    }

    func sequenceItems(_ value: PickleValue, _ fail: (String) -> PyTorchError) throws(PyTorchError) -> [PickleValue] {
        switch arena.object(value) {
        case .tuple(let items)?, .list(let items)?, .set(let items)?: return items
        default: throw fail("expected a tuple or list, found \(value.kind(in: arena))")
        }
    }

    func encode(_ text: String, _ encoding: String, _ fail: (String) -> PyTorchError) throws(PyTorchError) -> [UInt8] {
        switch encoding.lowercased() {
        case "latin1", "latin-1", "iso-8859-1":
            var out: [UInt8] = []
            out.reserveCapacity(text.unicodeScalars.count)
            for scalar in text.unicodeScalars {
                guard scalar.value < 256 else { throw fail("character U+\(String(scalar.value, radix: 16)) is not latin-1") }
                out.append(UInt8(scalar.value))
            }
            return out
        case "utf-8", "utf8": return Array(text.utf8)
        default: throw fail("unsupported encoding '\(encoding)'")
        }
    }

    /// NEWOBJ: `cls.__new__(cls)` for the containers that allow it.
    mutating func newObject(_ cls: TorchGlobal, _ args: [PickleValue]) throws(PyTorchError) -> PickleValue {
        switch cls {
        case .orderedDict:
            var dict = PickleDict()
            dict.isOrdered = true
            return try make(.dict(dict))
        case .set, .frozenSet: return try make(.set([]))
        default: throw .notCallable(opcode: opcode.name, target: "global '\(cls.qualifiedName)'", offset: opcodeOffset)
        }
    }

    /// BUILD: an OrderedDict's instance dict (`_metadata`) or a tensor's Python state; both are dropped.
    mutating func build(_ target: PickleValue, _ state: PickleValue) throws(PyTorchError) {
        guard case .ref(let index) = target else { throw .badBuild(target: target.kind(in: arena), offset: opcodeOffset) }
        switch arena.objects[index] {
        case .dict(var dict):
            let count: Int
            switch arena.object(state) {
            case .dict(let attributes)?: count = attributes.count
            case .tuple(let parts)? where parts.count == 2: count = 2
            default:
                if case .none = state { count = 0 } else { throw .badBuild(target: "\(arena.objects[index].kind) with \(state.kind(in: arena))", offset: opcodeOffset) }
            }
            dict.attributeCount += count
            arena.objects[index] = .dict(dict)
        case .tensor: break
        default: throw .badBuild(target: arena.objects[index].kind, offset: opcodeOffset)
        }
    }
}
