// `bertkit parity`: run the model on the inputs stored in a reference file written by transformers
// (Tools/make_reference.py) and compare every output the file holds.

import TensorCore
import Safetensors
import Bert

package enum ParityError: Error, CustomStringConvertible {
    case missingInput(String)
    case badInput(name: String, reason: String)
    case noOutputs
    case outputNotAvailable(name: String, head: String)
    case shapeMismatch(name: String, reference: [Int], model: [Int])

    package var description: String {
        switch self {
        case .missingInput(let name): return "reference has no '\(name)' tensor"
        case .badInput(let name, let reason): return "reference tensor '\(name)' \(reason)"
        case .noOutputs: return "reference holds none of logits, last_hidden_state, pooler_output, start_logits, end_logits"
        case .outputNotAvailable(let name, let head): return "reference has '\(name)', which a \(head) model does not produce"
        case .shapeMismatch(let name, let reference, let model):
            return "'\(name)' is \(Shape.describe(reference)) in the reference but \(Shape.describe(model)) from the model"
        }
    }
}

package struct OutputComparison: Sendable {
    package let name: String
    package let shape: [Int]
    package let maxAbsDiff: Double
    package let maxRelDiff: Double
    /// Index (per dimension) of the largest absolute difference.
    package let worstIndex: [Int]
    package let actual: Float
    package let expected: Float
    package let ok: Bool
}

package struct ParityResult: Sendable {
    package let comparisons: [OutputComparison]
    package var ok: Bool { comparisons.allSatisfy(\.ok) }
}

package enum ParityCheck {
    package static let outputNames = ["logits", "last_hidden_state", "pooler_output", "start_logits", "end_logits"]

    /// Reads the reference's inputs as a batch.
    package static func batch(from reference: TensorStore) throws -> TokenBatch {
        func rows(_ name: String, required: Bool) throws -> [[Int]]? {
            guard let tensor = reference[name] else {
                if required { throw ParityError.missingInput(name) }
                return nil
            }
            guard tensor.shape.count == 2 else { throw ParityError.badInput(name: name, reason: "must be [batch, sequence], not \(Shape.describe(tensor.shape))") }
            guard let values = tensor.int64Values() else { throw ParityError.badInput(name: name, reason: "must hold integers, not \(tensor.dtype.rawValue)") }
            let width = tensor.shape[1]
            return stride(from: 0, to: values.count, by: max(width, 1)).map { values[$0..<$0 + width].map(Int.init) }
        }
        let ids = try rows("input_ids", required: true)!
        let mask = try rows("attention_mask", required: false)
        let types = try rows("token_type_ids", required: false)
        return try TokenBatch(inputIds: ids, attentionMask: mask, tokenTypeIds: types)
    }

    /// Runs `model` on the reference inputs and compares each output present in the reference.
    /// Reads a reference file (Tools/make_reference.py's safetensors: inputs and outputs) and compares; errors name the file.
    package static func run(file: String, model: BertModel, adapters: LoRAAdapters? = nil, atol: Double, rtol: Double) throws -> ParityResult {
        try withFileContext(file) {
            try run(model: model, adapters: adapters, reference: try SafetensorsReader.read(path: file), atol: atol, rtol: rtol)
        }
    }

    package static func run(model: BertModel, adapters: LoRAAdapters? = nil, reference: TensorStore, atol: Double, rtol: Double) throws -> ParityResult {
        let batch = try batch(from: reference)
        try batch.validate(for: model.config)
        let present = outputNames.filter { reference.contains($0) }
        guard !present.isEmpty else { throw ParityError.noOutputs }
        let ws = BertWorkspace(config: model.config, head: model.head, batch: batch.batchSize, sequence: batch.sequenceLength,
                               keepsEveryLayer: false)
        model.forward(batch, workspace: ws, adapters: adapters, computeLMLogits: present.contains("logits"))
        let B = batch.batchSize, T = batch.sequenceLength, H = model.config.hiddenSize
        var comparisons: [OutputComparison] = []
        for name in present {
            let (pointer, shape) = try output(name, model: model, workspace: ws, B: B, T: T, H: H)
            let expectedTensor = reference[name]!
            guard expectedTensor.shape == shape else { throw ParityError.shapeMismatch(name: name, reference: expectedTensor.shape, model: shape) }
            guard let expected = expectedTensor.float32Values() else { throw ParityError.badInput(name: name, reason: "is not a float tensor") }
            let actual = UnsafeBufferPointer(start: pointer, count: expected.count)
            comparisons.append(compare(name: name, shape: shape, actual: actual, expected: expected, atol: atol, rtol: rtol))
        }
        return ParityResult(comparisons: comparisons)
    }

    static func output(_ name: String, model: BertModel, workspace ws: BertWorkspace, B: Int, T: Int, H: Int) throws
        -> (UnsafeMutablePointer<Float>, [Int]) {
        let c = model.config
        switch (name, model.head) {
        case ("last_hidden_state", _): return (ws.lastHiddenState, [B, T, H])
        case ("pooler_output", _) where model.hasPoolerOutput: return (ws.pooled, [B, H])
        case ("logits", .sequenceClassification): return (ws.logits, [B, c.numLabels])
        case ("logits", .tokenClassification): return (ws.logits, [B, T, c.numLabels])
        case ("logits", .maskedLM): return (ws.lmLogits, [B, T, c.vocabSize])
        case ("start_logits", .questionAnswering), ("end_logits", .questionAnswering):
            let column = SpanLogits.column(ws.logits, rows: B * T, name == "start_logits" ? .start : .end)
            let out = UnsafeMutablePointer<Float>.allocate(capacity: B * T)
            out.initialize(from: column, count: B * T)
            return (out, [B, T])
        default:
            throw ParityError.outputNotAvailable(name: name, head: model.head.rawValue)
        }
    }

    static func compare(name: String, shape: [Int], actual: UnsafeBufferPointer<Float>, expected: [Float],
                        atol: Double, rtol: Double) -> OutputComparison {
        var maxAbs = 0.0, maxRel = 0.0, worst = 0, ok = true
        for i in 0..<expected.count {
            let a = Double(actual[i]), e = Double(expected[i])
            let diff = a.isNaN || e.isNaN ? (a.isNaN && e.isNaN ? 0 : .infinity) : abs(a - e)
            if diff > atol + rtol * abs(e) { ok = false }
            if diff > maxAbs { maxAbs = diff; worst = i }
            if diff > 0 { maxRel = max(maxRel, e == 0 ? .infinity : diff / abs(e)) }
        }
        var index: [Int] = []
        var rest = worst
        for dim in shape.reversed() { index.insert(rest % dim, at: 0); rest /= dim }
        return OutputComparison(name: name, shape: shape, maxAbsDiff: maxAbs, maxRelDiff: maxRel, worstIndex: index,
                                actual: actual.isEmpty ? 0 : actual[worst], expected: expected.isEmpty ? 0 : expected[worst], ok: ok)
    }
}
