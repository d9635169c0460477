// Which dict of the unpickled object is the state dict. Training checkpoints wrap it
// (`{"state_dict": …, "epoch": 3}`, `{"model": …, "optimizer": …}`); we descend through dicts that hold
// no tensors themselves, preferring the conventional names, and say where we went.

enum StateDictSelection {
    /// Entry names that conventionally hold a model's state dict, best first.
    static let preferredNames = ["state_dict", "model_state_dict", "model", "module", "net", "network", "params", "weights"]
    static let maxDescent = 8

    struct Selected {
        var tensors: [(name: String, record: TensorRecord)]
        var notes: [String]
    }

    static func select(_ root: PickleValue, arena: PickleArena) throws(PyTorchError) -> Selected {
        var current = root
        var path: [String] = []
        for _ in 0..<maxDescent {
            guard case .dict(let dict)? = arena.object(current) else {
                if path.isEmpty { throw .notAStateDict(found: current.kind(in: arena)) }
                break
            }
            if dict.count == 0 && path.isEmpty { return Selected(tensors: [], notes: []) }   // torch.save({})
            var tensors: [(String, TensorRecord)] = []
            var skipped: [String] = []
            for (key, value) in zip(dict.keys, dict.values) {
                guard case .tensor(let record)? = arena.object(value) else {
                    skipped.append(describe(key))
                    continue
                }
                switch key {
                case .string(let name): tensors.append((name, record))
                case .int(let number): tensors.append((String(number), record))
                default: throw .invalidKey(found: key.kind(in: arena))
                }
            }
            if !tensors.isEmpty {
                var notes: [String] = []
                if !path.isEmpty {
                    notes.append("state dict taken from entry \(path.map { "'\($0)'" }.joined(separator: " → ")) of the checkpoint")
                }
                if !skipped.isEmpty {
                    let shown = skipped.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
                    notes.append("skipped \(skipped.count) entr\(skipped.count == 1 ? "y" : "ies") that \(skipped.count == 1 ? "is" : "are") not tensors: \(shown)\(skipped.count > 5 ? ", …" : "")")
                }
                return Selected(tensors: tensors, notes: notes)
            }
            // No tensors here: go into the dict entry that holds them.
            var candidates: [(name: String, value: PickleValue)] = []
            for (key, value) in zip(dict.keys, dict.values) where holdsTensors(value, arena: arena) {
                candidates.append((describe(key), value))
            }
            guard !candidates.isEmpty else { throw .noTensors }
            let chosen = preferredNames.lazy.compactMap { name in candidates.first { $0.name == name } }.first
                ?? (candidates.count == 1 ? candidates[0] : nil)
            guard let chosen else { throw .ambiguousStateDict(candidates: candidates.map(\.name)) }
            path.append(chosen.name)
            current = chosen.value
        }
        throw .noTensors
    }

    /// True when `value` is a dict with a tensor somewhere below it through dicts (walked iteratively,
    /// each container once).
    static func holdsTensors(_ value: PickleValue, arena: PickleArena) -> Bool {
        var pending = [value]
        var seen = Set<Int>()
        while let next = pending.popLast() {
            guard case .ref(let index) = next, seen.insert(index).inserted else { continue }
            switch arena.objects[index] {
            case .tensor: return true
            case .dict(let dict): pending.append(contentsOf: dict.values)
            default: continue
            }
        }
        return false
    }

    private static func describe(_ key: PickleValue) -> String {
        switch key {
        case .string(let text): return text
        case .int(let number): return String(number)
        default: return "<non-str key>"
        }
    }
}
