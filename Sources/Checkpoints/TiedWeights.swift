// Tensors that share one storage (tied weights) cannot both go into safetensors. transformers keeps
// the input embedding and drops the decoder copy; for other pairs safetensors' own
// `_remove_duplicate_names` keeps the alphabetically first name. We do the same.

import TensorCore
import ModelCatalog

package enum TiedWeights {
    /// Names transformers treats as the tied (dropped) side: every family's masked-LM decoder copies
    /// (`cls.predictions.decoder.*`, `vocab_projector.weight`, `lm_head.decoder.*`), also under the base prefix.
    package static let tiedNames: Set<String> = Set(ModelFamily.allCases.flatMap { family -> [String] in
        let names = family.names
        let aliases = [names.lmDecoderWeight] + (names.lmDecoderBias.map { [$0] } ?? [])
        return aliases + aliases.map { family.basePrefix + $0 }
    })

    /// Drops every tensor whose storage is identical to an earlier-kept one. Returns the pruned store
    /// and (dropped, kept) pairs.
    package static func removeSharedDuplicates(_ store: TensorStore) -> (TensorStore, [(dropped: String, kept: String)]) {
        var groups: [[String]] = []
        var groupOf: [String: Int] = [:]
        var views: [(view: ByteView, group: Int)] = []
        for (name, tensor) in store.entries where tensor.byteCount > 0 {
            if let match = views.first(where: { $0.view.isSameStorage(as: tensor.data) }) {
                groups[match.group].append(name)
                groupOf[name] = match.group
            } else {
                groups.append([name])
                views.append((tensor.data, groups.count - 1))
            }
        }
        var result = store
        var dropped: [(String, String)] = []
        for group in groups where group.count > 1 {
            let preferred = group.filter { !tiedNames.contains($0) }
            let kept = (preferred.isEmpty ? group : preferred)
                .min { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }!
            for name in group where name != kept {
                result[name] = nil
                dropped.append((name, kept))
            }
        }
        return (result, dropped)
    }
}
