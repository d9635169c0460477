// `--hf-names`: the key renamings transformers 5.24 applies to every checkpoint on load — its "legacy"
// conversion mapping (transformers/conversion_mapping.py, `mapping["legacy"]`), applied one after the
// other as `core_model_loading.apply_renamings` does. Each source pattern is a regex in which `.` is
// any character, `\.` a dot and `^` the start; transformers appends `(?!\w)` to patterns ending in a
// letter or digit, searches for the first match, then replaces the first *occurrence of the matched
// text* with the target (str.replace(…, 1)) — reproduced here, quirk included.

import TensorCore

package enum LegacyNames {
    /// (source patterns, target), in transformers' order.
    static let renamings: [(sources: [String], target: String)] = [
        (["LayerNorm.gamma"], "LayerNorm.weight"),
        (["LayerNorm.beta"], "LayerNorm.bias"),
        ([".weight_g"], ".parametrizations.weight.original0"),
        ([".weight_v"], ".parametrizations.weight.original1"),
        ([#"^model\.language_model\.model"#, #"^language_model\.model\.model"#], "model.language_model"),
    ]

    /// The store with every key renamed; order, tensors and metadata unchanged.
    package static func renamed(_ store: TensorStore) -> TensorStore {
        var result = TensorStore()
        for (name, tensor) in store.entries { result[rename(name)] = tensor }
        result.metadata = store.metadata
        return result
    }

    package static func rename(_ key: String) -> String {
        // Code points, as Python strings are.
        var name = Array(key.unicodeScalars)
        for renaming in renamings {
            // Longest pattern first, as transformers orders the alternation's branches (stable sort).
            let branches = renaming.sources.enumerated().sorted { ($1.element.count, $0.offset) < ($0.element.count, $1.offset) }
                .map { Pattern($0.element) }
            guard let matched = firstMatch(in: name, branches) else { continue }
            // str.replace(matched_text, target, 1): the first occurrence, which may precede the match.
            let text = Array(matched)
            if let start = (0...(name.count - text.count)).first(where: { name[$0..<($0 + text.count)].elementsEqual(text) }) {
                name.replaceSubrange(start..<(start + text.count), with: renaming.target.unicodeScalars)
            }
        }
        var result = String.UnicodeScalarView()
        result.append(contentsOf: name)
        return String(result)
    }

    /// A source pattern: literal characters and `.` wildcards, optionally anchored.
    struct Pattern {
        enum Token { case literal(Unicode.Scalar), any }
        var tokens: [Token] = []
        var anchored = false
        var wordBoundaryAfter = false

        init(_ source: String) {
            var characters = Array(source.unicodeScalars)
            if characters.first == "^" { anchored = true; characters.removeFirst() }
            var i = 0
            while i < characters.count {
                if characters[i] == "\\", i + 1 < characters.count {
                    tokens.append(.literal(characters[i + 1])); i += 2
                } else {
                    tokens.append(characters[i] == "." ? .any : .literal(characters[i])); i += 1
                }
            }
            // transformers: `if re.search(r"[a-zA-Z0-9]$", pattern): pattern += r"(?!\w)"`.
            if let last = source.unicodeScalars.last, last.isASCII, last.properties.isAlphabetic || ("0"..."9").contains(last) {
                wordBoundaryAfter = true
            }
        }

        func matches(_ key: [Unicode.Scalar], at start: Int) -> Bool {
            guard start + tokens.count <= key.count else { return false }
            for (offset, token) in tokens.enumerated() {
                if case .literal(let c) = token, key[start + offset] != c { return false }
                if case .any = token, key[start + offset] == "\n" { return false }
            }
            if wordBoundaryAfter, start + tokens.count < key.count {
                let next = key[start + tokens.count]
                // `\w`: Unicode letters and digits, and the underscore.
                if next.properties.isAlphabetic || next.properties.numericType != nil || next == "_" { return false }
            }
            return true
        }
    }

    private static func firstMatch(in key: [Unicode.Scalar], _ branches: [Pattern]) -> ArraySlice<Unicode.Scalar>? {
        for start in 0...key.count {
            for branch in branches where !branch.anchored || start == 0 {
                if branch.matches(key, at: start) { return key[start..<(start + branch.tokens.count)] }
            }
        }
        return nil
    }
}
