// Pointwise activations, forward and backward side by side.
//   GELU (erf form): gelu(x) = x · Φ(x) = ½x(1 + erf(x/√2)),  gelu'(x) = Φ(x) + x·φ(x)
//   GELU (tanh form, "gelu_new"): ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
//   tanh (the pooler): tanh'(x) = 1 − tanh²(x), written in terms of the output.

#if canImport(Glibc)
import Glibc
#endif

package enum Activations {
    static let inverseSqrt2: Float = 0.70710678118654752440
    static let inverseSqrt2Pi: Float = 0.39894228040143267794
    static let sqrt2OverPi: Float = 0.79788456080286535588

    /// out = act(input) elementwise over `count` values (out may alias input).
    package static func forward(_ activation: Activation, out: UnsafeMutablePointer<Float>,
                               input: UnsafePointer<Float>, count: Int) {
        Parallel.forEachRange(count, grain: 4096) { range in
            switch activation {
            case .gelu:
                VectorKernels.geluForward(out + range.lowerBound, input + range.lowerBound, range.count)
            case .geluTanh:
                for i in range {
                    let x = input[i]
                    out[i] = 0.5 * x * (1 + tanhf(sqrt2OverPi * (x + 0.044715 * x * x * x)))
                }
            case .relu:
                for i in range { out[i] = max(input[i], 0) }
            }
        }
    }

    /// dInput = dOut · act'(input) (overwrites dInput; dInput may alias dOut).
    package static func backward(_ activation: Activation, dInput: UnsafeMutablePointer<Float>,
                                dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, count: Int) {
        Parallel.forEachRange(count, grain: 4096) { range in
            switch activation {
            case .gelu:
                VectorKernels.geluBackward(dInput + range.lowerBound, dOut + range.lowerBound, input + range.lowerBound, range.count)
            case .geluTanh:
                for i in range {
                    let x = input[i]
                    let inner = sqrt2OverPi * (x + 0.044715 * x * x * x)
                    let t = tanhf(inner)
                    let dInner = sqrt2OverPi * (1 + 3 * 0.044715 * x * x)
                    dInput[i] = dOut[i] * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dInner)
                }
            case .relu:
                for i in range { dInput[i] = input[i] > 0 ? dOut[i] : 0 }
            }
        }
    }

    /// The exact GELU with libm's erf: the reference the vector kernel is tested against.
    package static func referenceGELU(_ x: Float) -> Float { 0.5 * x * (1 + erff(x * inverseSqrt2)) }

    /// gelu'(x) with libm's erf and exp.
    package static func referenceGELUDerivative(_ x: Float) -> Float {
        0.5 * (1 + erff(x * inverseSqrt2)) + x * expf(-0.5 * x * x) * inverseSqrt2Pi
    }

    /// out = tanh(input).
    package static func tanhForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = tanhf(input[i]) }
    }

    /// dInput += dOut · (1 − out²), from the forward's output.
    package static func tanhBackward(dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                                    out: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { dInput[i] += dOut[i] * (1 - out[i] * out[i]) }
    }
}
