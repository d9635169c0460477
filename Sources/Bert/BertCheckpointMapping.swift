// From a checkpoint's tensors to the model's parameters, repairing keys as transformers 5.24 does on
// load: legacy `LayerNorm.gamma/beta` names, the base prefix (`bert.`, `distilbert.`, `roberta.`) added or stripped to fit the head, tied
// decoder copies folded in, stale buffers ignored. The result carries a load report like transformers'
// (missing / unexpected / mismatched keys); missing parameters are initialised as transformers does.

import TensorCore

/// A checkpoint tensor whose shape is not the parameter's (named as the model names it, as transformers does).
package struct BertShapeMismatch: Sendable, Equatable {
    package var name: String
    package var checkpoint: [Int]
    package var model: [Int]

    package init(name: String, checkpoint: [Int], model: [Int]) {
        self.name = name
        self.checkpoint = checkpoint
        self.model = model
    }

    package var description: String {
        "'\(name)' has shape \(Shape.describe(checkpoint)) in the checkpoint but \(Shape.describe(model)) in the model"
    }
}

package enum BertLoadError: Error, CustomStringConvertible {
    /// Every mis-shaped key at once, as transformers' load report lists them before it raises.
    case shapeMismatch([BertShapeMismatch])
    case notNumeric(name: String, dtype: String)
    /// Not one encoder weight of the checkpoint fits: the model would be a freshly initialised BERT with at
    /// most a head loaded (an ELECTRA classifier's `classifier.*` names are BERT's).
    case noEncoderWeights(model: String, expectedExample: String, foundExample: String?)

    package var description: String {
        switch self {
        case .shapeMismatch(let items):
            return "checkpoint tensors do not fit the model's config: " + items.map(\.description).joined(separator: "; ")
        case .notNumeric(let name, let dtype):
            return "tensor '\(name)' has dtype \(dtype), which cannot be converted to float32"
        case .noEncoderWeights(let model, let expected, let found):
            let found = found.map { "names like '\($0)'" } ?? "no tensor"
            return "no encoder weight of the checkpoint fits \(model) (it expects names like '\(expected)'; the checkpoint has "
                + "\(found)), so the whole encoder would be newly initialized; allow that with --allow-random-init"
        }
    }
}

/// What loading did, in transformers' terms.
package struct BertLoadReport: Sendable {
    /// Parameters the checkpoint did not have, newly initialised (a new head: it must be trained).
    package var missing: [String] = []
    /// Checkpoint tensors the model did not use.
    package var unexpected: [String] = []
    /// Parameters re-initialised because their shape differed (only with `reinitialiseMismatched`);
    /// not also listed as missing, as in transformers' `mismatched_keys`.
    package var mismatched: [BertShapeMismatch] = []
    /// Keys renamed on the way in (legacy names, prefix changes).
    package var renamed: [(from: String, to: String)] = []
    /// Tensors converted to float32 from another dtype.
    package var convertedFrom: [String: String] = [:]

    package var isClean: Bool { missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty }
}

package enum BertCheckpointMapping {
    /// Buffers transformers keeps out of state dicts and ignores when old checkpoints contain them.
    static let ignoredBuffers = ["embeddings.position_ids", "embeddings.token_type_ids"]

    /// The checkpoint key → model key mapping for `store` into a model with `head`.
    package static func repairedNames(_ names: [String], family: ModelFamily = .bert, head: BertHead) -> [(from: String, to: String)] {
        let prefix = family.basePrefix
        let hasPrefix = names.contains { $0.hasPrefix(prefix) }
        let expectsPrefix = head != .base
        return names.map { original in
            var name = LegacyNames.rename(original)
            if expectsPrefix && !hasPrefix && !family.isHeadParameter(name) {
                name = prefix + name
            } else if !expectsPrefix && hasPrefix && name.hasPrefix(prefix) {
                name = String(name.dropFirst(prefix.count))
            }
            return (original, name)
        }
    }

    /// Fills `model`'s parameters from `store`. Parameters absent from the checkpoint are initialised
    /// with `seed`. Mis-shaped tensors are an error naming all of them, unless `reinitialiseMismatched`
    /// (transformers' `ignore_mismatched_sizes`): then they are initialised like missing ones and reported.
    /// A checkpoint from which no encoder parameter loads is an error unless `allowRandomEncoder`: transformers
    /// would only warn, but a model with a random encoder is never what a user who named a checkpoint wants.
    package static func load(_ store: TensorStore, into model: BertModel, seed: UInt64 = 42,
                            reinitialiseMismatched: Bool = false, allowRandomEncoder: Bool = false) throws -> BertLoadReport {
        var report = BertLoadReport()
        let layout = model.layout
        let family = model.config.family
        let mapping = repairedNames(store.names, family: family, head: model.head)
        var loaded = Set<String>()
        let aliases = Dictionary(uniqueKeysWithValues: layout.tiedAliases.map { ($0.alias, $0.target) })
        for (original, name) in mapping {
            if name != original { report.renamed.append((original, name)) }
            let tensor = store[original]!
            guard let spec = layout.spec(named: name) else {
                if aliases[name] != nil { continue }                                   // tied copy: the target carries it
                if ignoredBuffers.contains(where: { name.hasSuffix($0) }) { continue }   // stale non-persistent buffer
                report.unexpected.append(name)
                continue
            }
            if tensor.shape != spec.shape {
                report.mismatched.append(BertShapeMismatch(name: name, checkpoint: tensor.shape, model: spec.shape))
                continue
            }
            let destination = model.p(spec.offset)
            let packing = model.packedEncoder   // encoder weights go straight into their packed form (beginPacking)
            if tensor.dtype == .f32, Int(bitPattern: tensor.data.baseAddress) % 4 == 0 {
                let values = tensor.data.baseAddress.assumingMemoryBound(to: Float.self)
                if packing?.pack(offset: spec.offset, count: spec.count, from: values) != true {
                    UnsafeMutableRawPointer(destination).copyMemory(from: tensor.data.baseAddress, byteCount: tensor.byteCount)
                }
            } else {
                guard tensor.dtype.isFloatingPoint || tensor.dtype.byteWidth != nil, let values = tensor.float32Values() else {
                    throw BertLoadError.notNumeric(name: original, dtype: tensor.dtype.rawValue)
                }
                values.withUnsafeBufferPointer { values in
                    if packing?.pack(offset: spec.offset, count: spec.count, from: values.baseAddress!) != true {
                        destination.update(from: values.baseAddress!, count: values.count)
                    }
                }
                if tensor.dtype != .f32 { report.convertedFrom[name] = tensor.dtype.rawValue }
            }
            // The model holds its own copy now: the checkpoint's mapped pages need not stay resident.
            tensor.data.releasePages()
            loaded.insert(name)
        }
        if !report.mismatched.isEmpty && !reinitialiseMismatched { throw BertLoadError.shapeMismatch(report.mismatched) }
        let mismatchedNames = Set(report.mismatched.map(\.name))
        report.missing = layout.specs.map(\.name).filter { !loaded.contains($0) && !mismatchedNames.contains($0) }
        if !allowRandomEncoder && !loaded.contains(where: { !family.isHeadParameter($0) }) {
            let unused = mapping.first { !loaded.contains($0.to) }?.from
            throw BertLoadError.noEncoderWeights(model: model.architecture, expectedExample: layout.specs[0].name,
                                                 foundExample: unused)
        }
        model.initialise(names: report.missing + report.mismatched.map(\.name), seed: seed)
        return report
    }
}
