// The tensors an optimizer updates: where each one's values and gradient live. Full fine-tuning trains
// every model parameter; LoRA trains the adapters plus the `modules_to_save` (the classifier), and only
// those get gradient and moment memory.

import Bert

public struct TrainableTensor: @unchecked Sendable {
    public let name: String
    public let values: UnsafeMutablePointer<Float>
    public let gradient: UnsafeMutablePointer<Float>
    public let count: Int
    /// transformers' Trainer decays every weight except biases and LayerNorm weights.
    public let decays: Bool
}

public final class TrainableParameters {
    public let tensors: [TrainableTensor]
    /// Gradients of the model's trainable parameters, compact (only those).
    public let modelGradients: FloatBuffer
    /// Where the backward pass writes each trainable model parameter's gradient.
    public let targets: GradientTargets
    /// Gradients of the LoRA adapters (their buffer's layout), when adapters are trained.
    public let adapterGradients: FloatBuffer?
    public let adapters: LoRAAdapters?

    /// The model parameters whose names pass `include`, plus every adapter tensor.
    public init(model: BertModel, include: (String) -> Bool, adapters: LoRAAdapters? = nil) {
        let specs = model.layout.specs.filter { include($0.name) }
        modelGradients = FloatBuffer(count: specs.reduce(0) { $0 + $1.count })
        var targets = GradientTargets()
        var tensors: [TrainableTensor] = []
        var offset = 0
        for spec in specs {
            let gradient = modelGradients.pointer + offset
            targets.set(spec.offset, gradient)
            tensors.append(TrainableTensor(name: spec.name, values: model.p(spec.offset), gradient: gradient, count: spec.count, decays: spec.decays))
            offset += spec.count
        }
        self.targets = targets
        self.adapters = adapters
        if let adapters {
            let gradients = FloatBuffer(count: adapters.parameters.count)
            adapterGradients = gradients
            for module in adapters.modules {
                let r = adapters.config.rank
                for (suffix, at, count) in [("lora_A", module.aOffset, r * module.inFeatures), ("lora_B", module.bOffset, module.outFeatures * r)] {
                    tensors.append(TrainableTensor(name: PEFTNames.adapter(module: module.path, suffix),
                                                   values: adapters.parameters.pointer + at, gradient: gradients.pointer + at,
                                                   count: count, decays: true))
                }
            }
        } else {
            adapterGradients = nil
        }
        self.tensors = tensors
    }

    public var count: Int { tensors.reduce(0) { $0 + $1.count } }

    public func zeroGradients() {
        modelGradients.zero()
        adapterGradients?.zero()
    }
}
