// An ordered name → tensor collection with string metadata: the one thing every codec reads into and
// writes out of. Order is the order tensors were added (file order for readers).

package struct TensorStore: Sendable {
    package private(set) var names: [String] = []
    private var tensorsByName: [String: Tensor] = [:]
    /// String → string metadata (safetensors `__metadata__`, HDF5 root attributes …).
    package var metadata: [String: String] = [:]

    package init() {}

    package init(_ pairs: [(String, Tensor)], metadata: [String: String] = [:]) {
        for (name, tensor) in pairs { self[name] = tensor }
        self.metadata = metadata
    }

    package var count: Int { names.count }
    package var isEmpty: Bool { names.isEmpty }

    /// Setting an existing name replaces its tensor in place; setting nil removes it.
    package subscript(name: String) -> Tensor? {
        get { tensorsByName[name] }
        set {
            if let tensor = newValue {
                if tensorsByName.updateValue(tensor, forKey: name) == nil { names.append(name) }
            } else if tensorsByName.removeValue(forKey: name) != nil {
                names.removeAll { $0 == name }
            }
        }
    }

    package func contains(_ name: String) -> Bool { tensorsByName[name] != nil }

    /// (name, tensor) pairs in order.
    package var entries: [(name: String, tensor: Tensor)] { names.map { ($0, tensorsByName[$0]!) } }

    /// Renames a tensor, keeping its position. Returns false when `old` is absent or `new` is taken.
    @discardableResult
    package mutating func rename(_ old: String, to new: String) -> Bool {
        guard old != new, let tensor = tensorsByName[old], tensorsByName[new] == nil,
              let index = names.firstIndex(of: old) else { return false }
        tensorsByName[old] = nil
        tensorsByName[new] = tensor
        names[index] = new
        return true
    }

    /// Sum of the tensors' byte sizes (what index files call `total_size`).
    package var totalByteCount: Int { tensorsByName.values.reduce(0) { $0 + $1.byteCount } }
    package var totalElementCount: Int { tensorsByName.values.reduce(0) { $0 + $1.elementCount } }
}
