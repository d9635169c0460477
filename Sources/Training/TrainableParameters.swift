// The tensors an optimizer updates: where each one's values and gradient live. Full fine-tuning trains
// every model parameter; LoRA trains the adapters plus the `modules_to_save` (the classifier), and only
// those get gradient and moment memory.

import Bert

package struct TrainableTensor: @unchecked Sendable {
    package let name: String
    package let values: UnsafeMutablePointer<Float>
    package let gradient: UnsafeMutablePointer<Float>
    package let count: Int
    /// transformers' Trainer decays every weight except biases and LayerNorm weights.
    package let decays: Bool
}

package final class TrainableParameters {
    package let tensors: [TrainableTensor]
    /// Gradients of the model's trainable parameters, compact (only those).
    package let modelGradients: FloatBuffer
    /// Where the backward pass writes each trainable model parameter's gradient.
    package let targets: GradientTargets
    /// Gradients of the LoRA adapters (their buffer's layout), when adapters are trained.
    package let adapterGradients: FloatBuffer?
    package let adapters: LoRAAdapters?

    /// The model parameters whose names pass `include`, plus every adapter tensor.
    package init(model: BertModel, include: (String) -> Bool, adapters: LoRAAdapters? = nil) {
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

    package var count: Int { tensors.reduce(0) { $0 + $1.count } }

    package func zeroGradients() {
        modelGradients.zero()
        adapterGradients?.zero()
    }
}
