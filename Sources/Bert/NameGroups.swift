// Parameter names summarised for people: a BERT-base load report lists ~200 names, which hides the one
// that matters. Names that differ only in a layer index fold into `bert.encoder.layer.{0..11}.* (192)`,
// siblings into `classifier.{bias,weight}` or `bert.embeddings.* (5)`. The full list stays
// available (`--verbose`).

package enum NameGroups {
    /// Groups in order of first appearance. A group of one name is the name itself.
    package static func summarise(_ names: [String]) -> [String] {
        let split = names.map { $0.split(separator: ".", omittingEmptySubsequences: false) }
        let firstKeys = split.map(groupKey)
        // A group whose module lies inside another group's folds into it (`cls.predictions` into `cls`).
        let keySet = Set(firstKeys)
        let keys = firstKeys.map { key in keySet.filter { key.hasPrefix($0 + ".") }.min { $0.count < $1.count } ?? key }
        var order: [String] = []
        var members: [String: [[Substring]]] = [:]
        for (key, parts) in zip(keys, split) {
            if members[key] == nil { order.append(key) }
            members[key, default: []].append(parts)
        }
        return order.map { key in render(members[key]!) }
    }

    /// One group, shown under the longest module path its names share.
    static func render(_ group: [[Substring]]) -> String {
        if group.count == 1 { return group[0].joined(separator: ".") }
        var depth = 0
        let limit = group.map { $0.count - 1 }.min()!
        while depth < limit && group.allSatisfy({ $0[depth] == group[0][depth] }) { depth += 1 }
        let path = group[0][..<depth].joined(separator: ".")
        let lead = path.isEmpty ? "" : path + "."
        if group.allSatisfy({ $0.count > depth + 1 && isIndex($0[depth]) }) {
            let indices = Set(group.map { Int($0[depth])! }).sorted()
            return lead + "{\(ranges(indices))}.* (\(group.count))"
        }
        if group.allSatisfy({ $0.count == depth + 1 }) && group.count <= 4 {
            return lead + "{" + group.map { String($0[depth]) }.sorted().joined(separator: ",") + "}"
        }
        return lead + "* (\(group.count))"
    }

    /// Names with a layer index group by what comes before the index; others by their module: the first
    /// component, or the first two when the name is deep enough to have a model prefix (`bert.embeddings`).
    static func groupKey(_ parts: [Substring]) -> String {
        if let index = parts.firstIndex(where: isIndex), index > 0 { return parts[..<index].joined(separator: ".") }
        return parts.prefix(parts.count >= 4 ? 2 : 1).joined(separator: ".")
    }

    static func isIndex(_ part: Substring) -> Bool { !part.isEmpty && part.count < 10 && part.allSatisfy { ("0"..."9").contains($0) } }

    /// [0, 1, 2, 5, 7, 8] → "0..2,5,7..8".
    static func ranges(_ sorted: [Int]) -> String {
        var pieces: [String] = []
        var start = sorted[0], previous = sorted[0]
        for value in sorted.dropFirst() + [Int.min] {
            if value == previous + 1 { previous = value; continue }
            pieces.append(start == previous ? "\(start)" : "\(start)..\(previous)")
            start = value; previous = value
        }
        return pieces.joined(separator: ",")
    }
}
