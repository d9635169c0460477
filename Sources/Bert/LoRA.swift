// LoRA adapters on the encoder's linear layers, as PEFT 0.21 implements them
// (Docs/specs/hf_conventions.md §6): y = W·x + b + s · B·(A·dropout(x)), A [r, in], B [out, r],
// s = alpha / r (alpha / √r with rsLoRA); A Kaiming-uniform (a = √5), B zero, so a fresh adapter leaves
// the model's outputs exactly unchanged. The adapters live in their own buffer, the base weights stay
// frozen, and forward / backward of the low-rank path sit side by side here.

import TensorCore
#if canImport(Glibc)
import Glibc
#endif

package struct LoRAConfig: Sendable, Equatable {
    package enum Targets: Sendable, Equatable {
        /// PEFT's list form: a module matches when its name equals an entry or ends with "." + entry.
        case names([String])
        /// PEFT's string form: the whole module name must match the regular expression.
        case regex(String)
        /// No targets given (`target_modules` null): PEFT's default for the model type, resolved from the model's
        /// family when the adapters are made (ModelFamily.defaultLoRATargets).
        case modelDefault
    }

    package var rank = 8
    package var alpha: Float = 8
    package var dropout: Float = 0
    package var useRSLoRA = false
    package var targets: Targets = .modelDefault
    /// Modules trained in full beside the adapters (PEFT adds `classifier` and `score` for SEQ_CLS).
    package var modulesToSave: [String] = ["classifier", "score"]

    package init() {}

    package var scaling: Float { useRSLoRA ? alpha / Float(rank).squareRoot() : alpha / Float(rank) }
}

/// The linear layers an adapter can sit on.
package enum LoRAModuleKind: Sendable, Hashable {
    case query, key, value, attentionOutput, intermediate, output, pooler
}

package struct LoRAModule: Sendable {
    /// The module's name in the model ("bert.encoder.layer.0.attention.self.query").
    package let path: String
    package let kind: LoRAModuleKind
    package let layer: Int
    package let inFeatures: Int
    package let outFeatures: Int
    /// Offsets of A [r, in] and B [out, r] in the adapter buffer.
    package let aOffset: Int
    package let bOffset: Int
}

package enum LoRAError: Error, CustomStringConvertible {
    case noTargets(String)
    case badRegex(String)
    case unsupported(String)
    case missingTensor(String)
    case shapeMismatch(name: String, expected: [Int], found: [Int])

    package var description: String {
        switch self {
        case .noTargets(let targets): return "the LoRA targets \(targets) match no linear layer of this model"
        case .badRegex(let pattern): return "target_modules '\(pattern)' is not a valid regular expression"
        case .unsupported(let what): return what
        case .missingTensor(let name): return "the adapter has no tensor '\(name)'"
        case .shapeMismatch(let name, let expected, let found):
            return "adapter tensor '\(name)' is \(Shape.describe(found)), the model needs \(Shape.describe(expected))"
        }
    }
}

package final class LoRAAdapters: @unchecked Sendable {
    package let config: LoRAConfig
    package let modules: [LoRAModule]
    /// A and B of every module.
    package let parameters: FloatBuffer
    private var index: [LoRAModuleKind: [Int: Int]] = [:]
    /// x·Aᵀ of every module for the last forward: [modules][rows, r] (kept for the backward).
    private var projections: FloatBuffer
    private var projectionRows = 0
    private var keepsProjections = false

    /// Adapters on every linear layer of `model` that `config.targets` selects.
    package init(model: BertModel, config: LoRAConfig) throws {
        var config = config
        if config.targets == .modelDefault { config.targets = .names(model.config.family.defaultLoRATargets) }
        self.config = config
        let c = model.config, H = c.hiddenSize, I = c.intermediateSize
        let n = c.family.names, p = c.family.namePrefix(for: model.head)
        var candidates: [(String, LoRAModuleKind, Int, Int, Int)] = []
        for l in 0..<c.numHiddenLayers {
            func path(_ part: String) -> String { p + n.layer(l, part) }
            candidates += [(path(n.query), .query, l, H, H), (path(n.key), .key, l, H, H),
                           (path(n.value), .value, l, H, H), (path(n.attentionOutput), .attentionOutput, l, H, H),
                           (path(n.intermediate), .intermediate, l, H, I), (path(n.output), .output, l, I, H)]
        }
        if let pooler = c.family.pooler(for: model.head) { candidates.append((pooler.module, .pooler, 0, H, H)) }
        let matcher = try LoRAAdapters.matcher(config.targets)
        var modules: [LoRAModule] = []
        var offset = 0
        let r = config.rank
        for (path, kind, layer, inFeatures, outFeatures) in candidates where matcher(path) {
            modules.append(LoRAModule(path: path, kind: kind, layer: layer, inFeatures: inFeatures, outFeatures: outFeatures,
                                      aOffset: offset, bOffset: offset + r * inFeatures))
            offset += r * inFeatures + outFeatures * r
        }
        guard !modules.isEmpty else { throw LoRAError.noTargets("\(config.targets)") }
        self.modules = modules
        parameters = FloatBuffer(count: offset)
        projections = FloatBuffer(count: 1)
        for (i, module) in modules.enumerated() { index[module.kind, default: [:]][module.layer] = i }
    }

    /// PEFT's `check_target_module_exists` for the list and string forms.
    static func matcher(_ targets: LoRAConfig.Targets) throws -> (String) -> Bool {
        switch targets {
        case .names(let names):
            return { path in names.contains { path == $0 || path.hasSuffix("." + $0) } }
        case .regex(let pattern):
            guard let regex = try? Regex(pattern) else { throw LoRAError.badRegex(pattern) }
            return { path in (try? regex.wholeMatch(in: path)) != nil }
        case .modelDefault:
            preconditionFailure("resolved to the family's names in init")
        }
    }

    package func module(_ kind: LoRAModuleKind, layer: Int) -> LoRAModule? { index[kind]?[layer].map { modules[$0] } }

    /// PEFT's initialisation: A ~ U(−1/√in, 1/√in) (kaiming_uniform_ with a = √5), B = 0.
    package func initialise(seed: UInt64) {
        var generator = NormalGenerator(seed: seed)
        parameters.zero()
        for module in modules {
            let bound = 1 / Float(module.inFeatures).squareRoot()
            let a = parameters.pointer + module.aOffset
            for i in 0..<(config.rank * module.inFeatures) { a[i] = Float(generator.nextUniform() * 2 - 1) * bound }
        }
    }

    /// Sizes the saved projections for `rows` rows; `training` keeps one slot per module for the backward.
    package func prepare(rows: Int, training: Bool) {
        let needed = (training ? modules.count : 1) * rows * config.rank
        if projections.count < needed { projections = FloatBuffer(count: needed) }
        projectionRows = rows
        keepsProjections = training
    }

    private func projection(_ moduleIndex: Int) -> UnsafeMutablePointer<Float> {
        projections.pointer + (keepsProjections ? moduleIndex * projectionRows * config.rank : 0)
    }

    // MARK: Forward and backward of the low-rank path

    /// out[rows, out] (row stride `outStride`) += s · (dropout(x)·Aᵀ)·Bᵀ for the adapter on (kind, layer),
    /// if there is one. x has row stride `inStride`.
    package func forward(_ kind: LoRAModuleKind, layer: Int, input x: UnsafePointer<Float>, inStride: Int? = nil,
                        output out: UnsafeMutablePointer<Float>, outStride: Int, rows: Int, dropout: DropoutMask? = nil) {
        guard let i = index[kind]?[layer] else { return }
        let m = modules[i], r = config.rank
        let loraProjection = projection(i)                          // [rows, r] = dropout(x)·Aᵀ
        withDroppedInput(x, stride: inStride ?? m.inFeatures, rows: rows, width: m.inFeatures, dropout: dropout) { source, sourceStride in
            BLAS.sgemm(transA: false, transB: true, m: rows, n: r, k: m.inFeatures, a: source, lda: sourceStride,
                       b: parameters.pointer + m.aOffset, ldb: m.inFeatures, beta: 0, c: loraProjection, ldc: r)
        }
        BLAS.sgemm(transA: false, transB: true, m: rows, n: m.outFeatures, k: r, alpha: config.scaling, a: loraProjection, lda: r,
                   b: parameters.pointer + m.bOffset, ldb: r, beta: 1, c: out, ldc: outStride)
    }

    /// Given dOut [rows, out] (stride `outStride`): dB += s·dOutᵀ·P, dP = s·dOut·B, dA += dPᵀ·dropout(x),
    /// dx += dropoutᵀ(dP·A) (dx nil: not needed). `gradients` has the adapter buffer's layout.
    package func backward(_ kind: LoRAModuleKind, layer: Int, dOut: UnsafePointer<Float>, outStride: Int,
                         input x: UnsafePointer<Float>, inStride: Int? = nil, dInput: UnsafeMutablePointer<Float>?,
                         dInputStride: Int? = nil, rows: Int, gradients: FloatBuffer, dropout: DropoutMask? = nil) {
        guard let i = index[kind]?[layer] else { return }
        let m = modules[i], r = config.rank, s = config.scaling
        let loraProjection = projection(i)
        var dProjection = [Float](repeating: 0, count: rows * r)
        dProjection.withUnsafeMutableBufferPointer { dP in
            BLAS.sgemm(transA: true, transB: false, m: m.outFeatures, n: r, k: rows, alpha: s, a: dOut, lda: outStride,
                       b: loraProjection, ldb: r, beta: 1, c: gradients.pointer + m.bOffset, ldc: r)
            BLAS.sgemm(transA: false, transB: false, m: rows, n: r, k: m.outFeatures, alpha: s, a: dOut, lda: outStride,
                       b: parameters.pointer + m.bOffset, ldb: r, beta: 0, c: dP.baseAddress!, ldc: r)
            withDroppedInput(x, stride: inStride ?? m.inFeatures, rows: rows, width: m.inFeatures, dropout: dropout) { source, sourceStride in
                BLAS.sgemm(transA: true, transB: false, m: r, n: m.inFeatures, k: rows, a: dP.baseAddress!, lda: r,
                           b: source, ldb: sourceStride, beta: 1, c: gradients.pointer + m.aOffset, ldc: m.inFeatures)
            }
            guard let dInput else { return }
            if let dropout {
                var dx = [Float](repeating: 0, count: rows * m.inFeatures)
                BLAS.sgemm(transA: false, transB: false, m: rows, n: m.inFeatures, k: r, a: dP.baseAddress!, lda: r,
                           b: parameters.pointer + m.aOffset, ldb: m.inFeatures, beta: 0, c: &dx, ldc: m.inFeatures)
                dropout.apply(&dx, count: dx.count)
                let stride = dInputStride ?? m.inFeatures
                for row in 0..<rows { for j in 0..<m.inFeatures { dInput[row * stride + j] += dx[row * m.inFeatures + j] } }
            } else {
                BLAS.sgemm(transA: false, transB: false, m: rows, n: m.inFeatures, k: r, a: dP.baseAddress!, lda: r,
                           b: parameters.pointer + m.aOffset, ldb: m.inFeatures, beta: 1, c: dInput, ldc: dInputStride ?? m.inFeatures)
            }
        }
    }

    /// Calls `body` with the adapter's input: `x` itself, or, with dropout, a packed copy of dropout(x)
    /// (element (row, j) masked as element row·width + j, the same in the forward and the backward).
    private func withDroppedInput(_ x: UnsafePointer<Float>, stride: Int, rows: Int, width: Int, dropout: DropoutMask?,
                                  _ body: (UnsafePointer<Float>, Int) -> Void) {
        guard let dropout else { return body(x, stride) }
        var dropped = [Float](repeating: 0, count: rows * width)
        dropped.withUnsafeMutableBufferPointer { out in
            for row in 0..<rows { dropout.apply(to: x + row * stride, out: out.baseAddress! + row * width, count: width, first: row * width) }
        }
        dropped.withUnsafeBufferPointer { body($0.baseAddress!, width) }
    }

    // MARK: Merging and files

    /// W ← W + s·B·A in `model` for every module (PEFT's `merge_and_unload`).
    package func merge(into model: BertModel) {
        for m in modules {
            guard let spec = model.layout.spec(named: m.path + ".weight") else { continue }
            BLAS.sgemm(transA: false, transB: false, m: m.outFeatures, n: m.inFeatures, k: config.rank, alpha: config.scaling,
                       a: parameters.pointer + m.bOffset, lda: config.rank, b: parameters.pointer + m.aOffset, ldb: m.inFeatures,
                       beta: 1, c: model.p(spec.offset), ldc: m.inFeatures)
        }
    }

    /// The adapter matrices under PEFT's on-disk names (`PEFTNames.adapter`).
    package func stateDict() -> TensorStore {
        var store = TensorStore()
        for m in modules {
            for (suffix, offset, shape) in [("lora_A", m.aOffset, [config.rank, m.inFeatures]), ("lora_B", m.bOffset, [m.outFeatures, config.rank])] {
                let bytes = UnsafeRawBufferPointer(start: parameters.pointer + offset, count: shape[0] * shape[1] * 4)
                store[PEFTNames.adapter(module: m.path, suffix)] = Tensor(dtype: .f32, shape: shape, copying: bytes)
            }
        }
        return store
    }

    /// Loads A and B from PEFT-named tensors.
    package func load(_ store: TensorStore) throws {
        for m in modules {
            for (suffix, offset, shape) in [("lora_A", m.aOffset, [config.rank, m.inFeatures]), ("lora_B", m.bOffset, [m.outFeatures, config.rank])] {
                let name = PEFTNames.adapter(module: m.path, suffix)
                guard let tensor = store[name] else { throw LoRAError.missingTensor(name) }
                guard tensor.shape == shape else { throw LoRAError.shapeMismatch(name: name, expected: shape, found: tensor.shape) }
                guard let values = tensor.float32Values() else { throw LoRAError.unsupported("adapter tensor '\(name)' is not a float tensor") }
                values.withUnsafeBufferPointer { (parameters.pointer + offset).update(from: $0.baseAddress!, count: values.count) }
            }
        }
    }
}

/// PEFT's tensor names (peft v0.21.2, `get_peft_model_state_dict` and PeftModel's own state_dict): the one home of
/// the naming rule that adapter files, training and loading share.
package enum PEFTNames {
    /// Every name in `adapter_model.safetensors` starts with the PeftModel's path to the base model.
    package static let prefix = "base_model.model."
    /// An adapter matrix on disk: `base_model.model.<module>.lora_A.weight` ([r, in]) or `….lora_B.weight` ([out, r]).
    package static func adapter(module path: String, _ matrix: String) -> String { prefix + path + "." + matrix + ".weight" }
    /// A base-model parameter saved beside the adapters (`modules_to_save`), on disk.
    package static func saved(_ parameter: String) -> String { prefix + parameter }
    /// The same parameter as a PeftModel holds it in memory: its top module wrapped, `<top>.modules_to_save.default.<rest>`.
    package static func savedInMemory(_ parameter: String) -> String {
        let parts = parameter.split(separator: ".", maxSplits: 1).map(String.init)
        return prefix + parts[0] + ".modules_to_save.default" + (parts.count > 1 ? "." + parts[1] : "")
    }
    /// An in-memory name (`…lora_A.default.weight`, `…modules_to_save.default.…`) as it is on disk; on-disk names unchanged.
    package static func onDisk(_ name: String) -> String {
        name.replacing(".modules_to_save.default.", with: ".").replacing(".lora_A.default.", with: ".lora_A.")
            .replacing(".lora_B.default.", with: ".lora_B.")
    }
}

extension LoRAAdapters {
    /// The model parameters PEFT trains in full and saves beside the adapters (`modules_to_save`): those inside
    /// a module whose name ends with an entry — plain string suffix, as peft v0.21.2 utils/other.py `_set_trainable`
    /// matches, so DistilBERT's `pre_classifier` is saved with its `classifier` — the parameter's own module or an
    /// enclosing one (RoBERTa's `classifier` holds `classifier.dense` and `classifier.out_proj`; PEFT wraps the head).
    package func savedModuleParameters(of model: BertModel) -> [ParameterSpec] {
        model.layout.specs.filter { spec in
            let parts = spec.name.split(separator: ".").dropLast()
            return (1...max(parts.count, 1)).contains { depth in
                let module = parts.prefix(depth).joined(separator: ".")
                return config.modulesToSave.contains { module.hasSuffix($0) }
            }
        }
    }

    /// `adapter_model.safetensors` as PEFT writes it: the adapters and the saved modules, under their on-disk names
    /// (PEFTNames).
    package func peftStateDict(model: BertModel) -> TensorStore {
        var store = stateDict()
        for spec in savedModuleParameters(of: model) {
            let bytes = UnsafeRawBufferPointer(start: model.p(spec.offset), count: spec.count * 4)
            store[PEFTNames.saved(spec.name)] = Tensor(dtype: .f32, shape: spec.shape, copying: bytes)
        }
        store.metadata = ["format": "pt"]
        return store
    }

    /// Loads adapters and saved modules from PEFT's `adapter_model.safetensors` tensors. Also accepts the
    /// in-memory names PEFT uses (`…lora_A.default.weight`, `…modules_to_save.default.…`).
    package func loadPEFT(_ raw: TensorStore, into model: BertModel) throws {
        var store = TensorStore()
        for (name, tensor) in raw.entries { store[PEFTNames.onDisk(name)] = tensor }
        try load(store)
        for spec in savedModuleParameters(of: model) {
            let name = PEFTNames.saved(spec.name)
            guard let tensor = store[name] else { continue }   // not saved: keep the base model's own
            guard tensor.shape == spec.shape else { throw LoRAError.shapeMismatch(name: name, expected: spec.shape, found: tensor.shape) }
            guard let values = tensor.float32Values() else { throw LoRAError.unsupported("adapter tensor '\(name)' is not a float tensor") }
            values.withUnsafeBufferPointer { model.p(spec.offset).update(from: $0.baseAddress!, count: values.count) }
        }
    }
}
