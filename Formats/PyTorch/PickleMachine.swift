// A pickle virtual machine that executes nothing. It follows CPython's `Unpickler` (Lib/pickle.py,
// 3.11) opcode by opcode, but a "call" (REDUCE, NEWOBJ, INST, OBJ) can only reach the allowlisted
// globals of `TorchGlobal`, each interpreted here by its meaning (rebuild a tensor description, make
// an OrderedDict …). The loop is iterative, containers live in an arena, and stack, memo, object
// count and nesting are bounded, so no input can recurse, loop, or grow memory beyond its own size
// times a small factor.

import TensorCore

package struct PickleLimits: Sendable {
    /// Values on the stack at once (all MARK frames together).
    package var maxStack = 1 << 20
    /// Memo entries, and the largest memo index a pickle may use.
    package var maxMemo = 1 << 22
    /// Containers and tensors made.
    package var maxObjects = 1 << 23
    /// Open MARKs and container nesting.
    package var maxNesting = 1000
    package init() {}
}

struct PickleMachine {
    /// Turns a persistent id (BINPERSID) into a value: the reader's storage lookup.
    typealias PersistentLoad = (_ pid: PickleValue, _ arena: inout PickleArena, _ offset: Int) throws(PyTorchError) -> PickleValue

    let bytes: UnsafeRawBufferPointer
    let limits: PickleLimits
    let persistentLoad: PersistentLoad
    var position: Int
    var stack: [PickleValue] = []
    var marks: [Int] = []
    var memo: [Int: PickleValue] = [:]
    var arena = PickleArena()
    /// Offset of the opcode being executed (for messages).
    var opcodeOffset = 0
    var opcode = PickleOpcode.stop

    /// Runs the pickle that starts at `start` and returns its value, the arena its references point
    /// into, and the offset just past its STOP.
    static func run(_ bytes: UnsafeRawBufferPointer, from start: Int = 0, limits: PickleLimits = PickleLimits(),
                    persistentLoad: @escaping PersistentLoad) throws(PyTorchError) -> (value: PickleValue, arena: PickleArena, end: Int) {
        var machine = PickleMachine(bytes: bytes, limits: limits, persistentLoad: persistentLoad, position: start)
        let value = try machine.execute()
        return (value, machine.arena, machine.position)
    }

    // MARK: - The loop

    mutating func execute() throws(PyTorchError) -> PickleValue {
        while position < bytes.count {
            opcodeOffset = position
            let byte = bytes[position]
            position += 1
            guard let decoded = PickleOpcode(rawValue: byte) else { throw .unknownOpcode(byte: byte, offset: opcodeOffset) }
            opcode = decoded
            if decoded == .stop { return try pop() }
            try step(decoded)
        }
        throw .pickleWithoutStop(length: bytes.count)
    }

    private mutating func step(_ op: PickleOpcode) throws(PyTorchError) {
        switch op {
        case .proto:
            let version = try readByte()
            guard version <= 5 else { throw invalid("protocol \(version) is newer than 5") }
        case .frame: _ = try readBytes(8)   // framing is advisory; the bytes follow inline
        case .stop: break
        case .mark:
            guard marks.count < limits.maxNesting else { throw .nestedTooDeep(limit: limits.maxNesting, offset: opcodeOffset) }
            marks.append(stack.count)
        case .pop:
            if let mark = marks.last, mark == stack.count { marks.removeLast() } else { _ = try pop() }
        case .popMark: _ = try popMark()
        case .dup: try push(try top())

        // Scalars.
        case .none: try push(.none)
        case .newTrue: try push(.bool(true))
        case .newFalse: try push(.bool(false))
        case .binInt: try push(.int(Int(Int32(bitPattern: try readUInt32()))))
        case .binInt1: try push(.int(Int(try readByte())))
        case .binInt2: try push(.int(Int(try readUInt16())))
        case .long1: try push(try readLong(count: Int(try readByte())))
        case .long4:
            let count = Int(Int32(bitPattern: try readUInt32()))
            guard count >= 0 else { throw invalid("negative byte count \(count)") }
            try push(try readLong(count: count))
        case .int: try push(try parseTextInt(try readLine(), allowBool: true))
        case .long:
            var text = try readLine()
            if text.hasSuffix("L") { text.removeLast() }
            try push(try parseTextInt(text, allowBool: false))
        case .float:
            let text = try readLine()
            guard let value = Double(text.trimmingWhitespace) else { throw invalid("'\(text.prefix(40))' is not a float") }
            try push(.float(value))
        case .binFloat:
            try push(.float(Double(bitPattern: UInt64(bigEndian: try readRaw(UInt64.self)))))

        // Strings and bytes.
        case .binUnicode: try push(.string(try utf8(try readBytes(Int(try readUInt32())))))
        case .shortBinUnicode: try push(.string(try utf8(try readBytes(Int(try readByte())))))
        case .binUnicode8: try push(.string(try utf8(try readBytes(try readLength64()))))
        case .binString:
            let count = Int(Int32(bitPattern: try readUInt32()))
            guard count >= 0 else { throw invalid("negative length \(count)") }
            try push(.string(try utf8(try readBytes(count))))
        case .shortBinString: try push(.string(try utf8(try readBytes(Int(try readByte())))))
        case .string:
            guard let raw = PickleText.unquote(try readLineBytes()) else { throw invalid("not a quoted string literal") }
            try push(.string(try utf8(raw)))
        case .unicode:
            guard let text = PickleText.rawUnicodeEscape(try readLineBytes()) else { throw invalid("bad raw-unicode-escape text") }
            try push(.string(text))
        case .binBytes: try push(.bytes(Array(try readBytes(Int(try readUInt32())))))
        case .shortBinBytes: try push(.bytes(Array(try readBytes(Int(try readByte())))))
        case .binBytes8, .byteArray8: try push(.bytes(Array(try readBytes(try readLength64()))))

        // Containers.
        case .emptyList: try push(try make(.list([])))
        case .emptyDict: try push(try make(.dict(PickleDict())))
        case .emptyTuple: try push(try make(.tuple([])))
        case .emptySet: try push(try make(.set([])))
        case .list: let items = try popMark(); try push(try make(.list(items), children: items))
        case .tuple: let items = try popMark(); try push(try make(.tuple(items), children: items))
        case .frozenSet: let items = try popMark(); try push(try make(.set(items), children: items))
        case .tuple1, .tuple2, .tuple3:
            let count = op == .tuple1 ? 1 : op == .tuple2 ? 2 : 3
            let items = try popCount(count)
            try push(try make(.tuple(items), children: items))
        case .dict:
            let items = try popMark()
            guard items.count % 2 == 0 else { throw invalid("odd number of items (\(items.count)) for key/value pairs") }
            var dict = PickleDict()
            for i in stride(from: 0, to: items.count, by: 2) { dict.set(items[i], items[i + 1]) }
            try push(try make(.dict(dict), children: items))
        case .append:
            let value = try pop()
            try addToList(try top(), [value])
        case .appends:
            let items = try popMark()
            try addToList(try top(), items)
        case .setItem:
            let value = try pop(), key = try pop()
            try addToDict(try top(), [key, value])
        case .setItems:
            let items = try popMark()
            guard items.count % 2 == 0 else { throw invalid("odd number of items (\(items.count)) for key/value pairs") }
            try addToDict(try top(), items)
        case .addItems:
            let items = try popMark()
            try addToSet(try top(), items)

        // Memo.
        case .put: try memoPut(try parseIndex(try readLine()))
        case .binPut: try memoPut(Int(try readByte()))
        case .longBinPut: try memoPut(Int(try readUInt32()))
        case .memoize: try memoPut(memo.count)
        case .get: try memoGet(try parseIndex(try readLine()))
        case .binGet: try memoGet(Int(try readByte()))
        case .longBinGet: try memoGet(Int(try readUInt32()))

        // Globals and calls: only the allowlist, and only by meaning.
        case .global:
            let module = try readLine(), name = try readLine()
            try push(try make(.global(try TorchGlobal.resolve(module: module, name: name))))
        case .stackGlobal:
            let name = try pop(), module = try pop()
            guard let nameText = name.stringValue, let moduleText = module.stringValue else {
                throw .wrongType(opcode: op.name, expected: "two str", found: "\(module.kind(in: arena)) and \(name.kind(in: arena))", offset: opcodeOffset)
            }
            try push(try make(.global(try TorchGlobal.resolve(module: moduleText, name: nameText))))
        case .inst:
            let module = try readLine(), name = try readLine()
            let global = try TorchGlobal.resolve(module: module, name: name)
            let args = try popMark()
            try push(try call(global, args))
        case .obj:
            let items = try popMark()
            guard let callable = items.first else { throw .stackUnderflow(opcode: op.name, offset: opcodeOffset) }
            try push(try call(try global(callable), Array(items.dropFirst())))
        case .reduce:
            let args = try pop(), callable = try pop()
            try push(try call(try global(callable), try tupleItems(args)))
        case .newObj:
            let args = try pop(), cls = try pop()
            try push(try newObject(try global(cls), try tupleItems(args)))
        case .newObjEx:
            let kwargs = try pop(), args = try pop(), cls = try pop()
            if case .dict(let dict)? = arena.object(kwargs), dict.count == 0 {} else {
                throw .badCall(function: "NEWOBJ_EX", reason: "keyword arguments are not supported", offset: opcodeOffset)
            }
            try push(try newObject(try global(cls), try tupleItems(args)))
        case .build:
            let state = try pop()
            try build(try top(), state)
        case .binPersID:
            let pid = try pop()
            try push(try persistentLoad(pid, &arena, opcodeOffset))
        case .persID:
            let pid = PickleValue.string(try readLine())
            try push(try persistentLoad(pid, &arena, opcodeOffset))
        case .ext1, .ext2, .ext4:
            throw .unsupportedOpcode(name: op.name, offset: opcodeOffset, reason: "the extension registry names code to import")
        case .nextBuffer, .readonlyBuffer:
            throw .unsupportedOpcode(name: op.name, offset: opcodeOffset, reason: "out-of-band buffers are not part of a checkpoint")
        }
    }

    // MARK: - Reading operands

    func invalid(_ reason: String) -> PyTorchError {
        .invalidOperand(opcode: opcode.name, offset: opcodeOffset, reason: reason)
    }

    private mutating func readBytes(_ count: Int) throws(PyTorchError) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= bytes.count - position else { throw .pickleTruncated(opcode: opcode.name, offset: opcodeOffset) }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
    }

    private mutating func readRaw<T: FixedWidthInteger>(_ type: T.Type) throws(PyTorchError) -> T {
        let raw = try readBytes(MemoryLayout<T>.size)
        return raw.loadUnaligned(as: T.self)
    }

    private mutating func readByte() throws(PyTorchError) -> UInt8 { try readBytes(1)[0] }
    private mutating func readUInt16() throws(PyTorchError) -> UInt16 { UInt16(littleEndian: try readRaw(UInt16.self)) }
    private mutating func readUInt32() throws(PyTorchError) -> UInt32 { UInt32(littleEndian: try readRaw(UInt32.self)) }

    private mutating func readLength64() throws(PyTorchError) -> Int {
        let length = UInt64(littleEndian: try readRaw(UInt64.self))
        guard length <= UInt64(bytes.count - position) else { throw .pickleTruncated(opcode: opcode.name, offset: opcodeOffset) }
        return Int(length)
    }

    private mutating func readLineBytes() throws(PyTorchError) -> [UInt8] {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else { throw .pickleTruncated(opcode: opcode.name, offset: opcodeOffset) }
        defer { position = end + 1 }
        return Array(bytes[position..<end])
    }

    private mutating func readLine() throws(PyTorchError) -> String { try utf8(try readLineBytes()) }

    private func utf8<C: Collection>(_ raw: C) throws(PyTorchError) -> String where C.Element == UInt8 {
        guard let text = String(validating: raw, as: UTF8.self) else { throw invalid("text is not valid UTF-8") }
        return text
    }

    /// LONG1/LONG4: little-endian two's complement; an Int when it fits.
    private mutating func readLong(count: Int) throws(PyTorchError) -> PickleValue {
        let raw = try readBytes(count)
        if count == 0 { return .int(0) }
        var trimmed = Array(raw)
        // Drop redundant sign-extension bytes so values that fit 64 bits become Ints.
        while trimmed.count > 1 {
            let last = trimmed[trimmed.count - 1], previous = trimmed[trimmed.count - 2]
            if (last == 0 && previous & 0x80 == 0) || (last == 0xFF && previous & 0x80 != 0) { trimmed.removeLast() } else { break }
        }
        guard trimmed.count <= 8 else { return .bigInt(trimmed) }
        var value: UInt64 = trimmed.last! & 0x80 != 0 ? UInt64.max : 0
        for byte in trimmed.reversed() { value = value << 8 | UInt64(byte) }
        return .int(Int(Int64(bitPattern: value)))
    }

    private func parseTextInt(_ text: String, allowBool: Bool) throws(PyTorchError) -> PickleValue {
        if allowBool && text == "00" { return .bool(false) }
        if allowBool && text == "01" { return .bool(true) }
        guard let value = Int(text.trimmingWhitespace) else { throw invalid("'\(text.prefix(40))' is not a 64-bit integer") }
        return .int(value)
    }

    private func parseIndex(_ text: String) throws(PyTorchError) -> Int {
        guard let value = Int(text), value >= 0 else { throw invalid("'\(text.prefix(40))' is not a memo index") }
        return value
    }

    // MARK: - Stack, marks and memo

    private mutating func push(_ value: PickleValue) throws(PyTorchError) {
        guard stack.count < limits.maxStack else { throw .limitExceeded(what: "stack entries", limit: limits.maxStack, offset: opcodeOffset) }
        stack.append(value)
    }

    private mutating func pop() throws(PyTorchError) -> PickleValue {
        guard let value = stack.last, stack.count > (marks.last ?? 0) else { throw .stackUnderflow(opcode: opcode.name, offset: opcodeOffset) }
        stack.removeLast()
        return value
    }

    private func top() throws(PyTorchError) -> PickleValue {
        guard let value = stack.last, stack.count > (marks.last ?? 0) else { throw .stackUnderflow(opcode: opcode.name, offset: opcodeOffset) }
        return value
    }

    private mutating func popCount(_ count: Int) throws(PyTorchError) -> [PickleValue] {
        guard stack.count - (marks.last ?? 0) >= count else { throw .stackUnderflow(opcode: opcode.name, offset: opcodeOffset) }
        defer { stack.removeLast(count) }
        return Array(stack.suffix(count))
    }

    private mutating func popMark() throws(PyTorchError) -> [PickleValue] {
        guard let mark = marks.popLast() else { throw .noMark(opcode: opcode.name, offset: opcodeOffset) }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    private mutating func memoPut(_ index: Int) throws(PyTorchError) {
        guard index < limits.maxMemo else { throw .memoIndexTooLarge(index: index, limit: limits.maxMemo, offset: opcodeOffset) }
        let value = try top()
        if memo.updateValue(value, forKey: index) == nil, memo.count > limits.maxMemo {
            throw .limitExceeded(what: "memo entries", limit: limits.maxMemo, offset: opcodeOffset)
        }
    }

    private mutating func memoGet(_ index: Int) throws(PyTorchError) {
        guard let value = memo[index] else { throw .memoMissing(index: index, offset: opcodeOffset) }
        try push(value)
    }

    // MARK: - Containers

    /// Adds an object to the arena, one level deeper than its deepest child.
    mutating func make(_ object: PickleObject, children: [PickleValue] = []) throws(PyTorchError) -> PickleValue {
        guard arena.objects.count < limits.maxObjects else { throw .limitExceeded(what: "objects", limit: limits.maxObjects, offset: opcodeOffset) }
        let depth = children.reduce(Int32(0)) { max($0, arena.depth(of: $1)) } + 1
        guard depth <= limits.maxNesting else { throw .nestedTooDeep(limit: limits.maxNesting, offset: opcodeOffset) }
        return arena.add(object, depth: depth)
    }

    /// Records that `children` now sit inside the container at `index`.
    private mutating func deepen(_ index: Int, by children: [PickleValue]) throws(PyTorchError) {
        let depth = children.reduce(arena.depths[index] - 1) { max($0, arena.depth(of: $1)) } + 1
        guard depth <= limits.maxNesting else { throw .nestedTooDeep(limit: limits.maxNesting, offset: opcodeOffset) }
        arena.depths[index] = depth
    }

    private func containerIndex(_ value: PickleValue, expected: String) throws(PyTorchError) -> Int {
        guard case .ref(let index) = value else {
            throw .wrongType(opcode: opcode.name, expected: expected, found: value.kind(in: arena), offset: opcodeOffset)
        }
        return index
    }

    // Each mutation takes the array out of the arena first, so it is uniquely referenced and grows in
    // place (appending one item at a time stays linear).
    private mutating func addToList(_ target: PickleValue, _ items: [PickleValue]) throws(PyTorchError) {
        let index = try containerIndex(target, expected: "a list")
        guard case .list(var list) = arena.objects[index] else {
            throw .wrongType(opcode: opcode.name, expected: "a list", found: arena.objects[index].kind, offset: opcodeOffset)
        }
        try deepen(index, by: items)
        arena.objects[index] = .list([])
        list.append(contentsOf: items)
        arena.objects[index] = .list(list)
    }

    private mutating func addToDict(_ target: PickleValue, _ items: [PickleValue]) throws(PyTorchError) {
        let index = try containerIndex(target, expected: "a dict")
        guard case .dict(var dict) = arena.objects[index] else {
            throw .wrongType(opcode: opcode.name, expected: "a dict", found: arena.objects[index].kind, offset: opcodeOffset)
        }
        try deepen(index, by: items)
        arena.objects[index] = .list([])
        for i in stride(from: 0, to: items.count, by: 2) { dict.set(items[i], items[i + 1]) }
        arena.objects[index] = .dict(dict)
    }

    private mutating func addToSet(_ target: PickleValue, _ items: [PickleValue]) throws(PyTorchError) {
        let index = try containerIndex(target, expected: "a set")
        guard case .set(var set) = arena.objects[index] else {
            throw .wrongType(opcode: opcode.name, expected: "a set", found: arena.objects[index].kind, offset: opcodeOffset)
        }
        try deepen(index, by: items)
        arena.objects[index] = .list([])
        set.append(contentsOf: items)
        arena.objects[index] = .set(set)
    }

    func tupleItems(_ value: PickleValue) throws(PyTorchError) -> [PickleValue] {
        guard case .tuple(let items)? = arena.object(value) else {
            throw .wrongType(opcode: opcode.name, expected: "an argument tuple", found: value.kind(in: arena), offset: opcodeOffset)
        }
        return items
    }

    func global(_ value: PickleValue) throws(PyTorchError) -> TorchGlobal {
        guard case .global(let global)? = arena.object(value) else {
            throw .notCallable(opcode: opcode.name, target: value.kind(in: arena), offset: opcodeOffset)
        }
        return global
    }

}

extension String {
    var trimmingWhitespace: Substring {
        let scalars = unicodeScalars
        let start = scalars.firstIndex { !$0.properties.isWhitespace } ?? scalars.endIndex
        let end = scalars.lastIndex { !$0.properties.isWhitespace }.map { scalars.index(after: $0) } ?? start
        return Substring(scalars[start..<max(start, end)])
    }
}
