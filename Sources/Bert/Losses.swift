// The heads' losses as transformers 5.24 computes them (Docs/specs/transformers_training.md §8), each
// with its gradient with respect to the logits. Every loss is a sum over "items" (examples, labelled
// tokens, elements) divided by a normaliser: the item count of the whole accumulated batch, so that
// gradient accumulation over micro-batches is mathematically one larger batch.

#if canImport(Glibc)
import Glibc
#endif

/// Training targets for one micro-batch.
package enum Labels: Sendable {
    /// Sequence classification, single label: class index per example [B].
    case classes([Int])
    /// Sequence classification, regression: target per example and label [B·L] (L = num_labels).
    case regression([Float])
    /// Sequence classification, multi-label: 0/1 (or soft) target per example and label [B·L].
    case multiLabel([Float])
    /// Token classification: class per token [B·T]; -100 = ignored.
    case tokenClasses([Int])
    /// Question answering: start and end token per example [B].
    case spans(start: [Int], end: [Int])
    /// Masked LM: original token id per position [B·T]; -100 = not predicted.
    case maskedTokens([Int])

    package static let ignoreIndex = -100

    /// The labels of examples `range` of a micro-batch padded to `sequence` tokens with `numLabels` labels.
    package func rows(_ range: Range<Int>, sequence: Int, numLabels: Int) -> Labels {
        func slice<T>(_ values: [T], _ perRow: Int) -> [T] { Array(values[range.lowerBound * perRow..<range.upperBound * perRow]) }
        switch self {
        case .classes(let c): return .classes(slice(c, 1))
        case .regression(let r): return .regression(slice(r, numLabels))
        case .multiLabel(let m): return .multiLabel(slice(m, numLabels))
        case .tokenClasses(let t): return .tokenClasses(slice(t, sequence))
        case .maskedTokens(let t): return .maskedTokens(slice(t, sequence))
        case .spans(let s, let e): return .spans(start: slice(s, 1), end: slice(e, 1))
        }
    }

    /// How many items the loss averages over in this micro-batch.
    /// The token rows a masked-LM loss scores (target not ignored), in order; nil for other labels.
    package var maskedRows: [Int]? {
        guard case .maskedTokens(let targets) = self else { return nil }
        return targets.indices.filter { targets[$0] != Labels.ignoreIndex }
    }

    package func itemCount(numLabels: Int, sequence: Int) -> Int {
        switch self {
        case .classes(let c): return c.filter { $0 != Labels.ignoreIndex }.count
        case .regression(let r): return r.count
        case .multiLabel(let m): return m.count
        case .tokenClasses(let t), .maskedTokens(let t): return t.filter { $0 != Labels.ignoreIndex }.count
        case .spans(let s, _): return s.count
        }
    }
}

package enum LossError: Error, CustomStringConvertible {
    case labelOutOfRange(index: Int, label: Int, numLabels: Int)
    case wrongCount(expected: Int, actual: Int)
    case wrongHead(String)

    package var description: String {
        switch self {
        case .labelOutOfRange(let index, let label, let numLabels): return "label \(label) at item \(index) is outside 0..<\(numLabels)"
        case .wrongCount(let expected, let actual): return "expected \(expected) labels, got \(actual)"
        case .wrongHead(let reason): return reason
        }
    }
}

package enum Losses {
    /// Σ over rows of cross-entropy(logits[row], target[row]) for rows whose target is not ignored, and
    /// dLogits[row] = (softmax − onehot) / normaliser. Returns the summed loss.
    package static func crossEntropy(logits: UnsafePointer<Float>, dLogits: UnsafeMutablePointer<Float>, targets: [Int],
                                    classes: Int, normaliser: Double) throws(LossError) -> Double {
        var total = 0.0
        let scale = Float(1 / normaliser)
        for (row, target) in targets.enumerated() {
            let z = logits + row * classes, g = dLogits + row * classes
            if target == Labels.ignoreIndex {
                g.update(repeating: 0, count: classes)
                continue
            }
            guard target >= 0 && target < classes else { throw .labelOutOfRange(index: row, label: target, numLabels: classes) }
            var maximum = -Float.infinity
            for j in 0..<classes { maximum = max(maximum, z[j]) }
            var sum: Double = 0
            for j in 0..<classes { sum += Double(expf(z[j] - maximum)) }
            let logSum = Double(maximum) + log(sum)
            total += logSum - Double(z[target])
            for j in 0..<classes { g[j] = Float(exp(Double(z[j]) - logSum)) * scale }
            g[target] -= scale
        }
        return total
    }

    /// Σ (logit − target)² with dLogits = 2(logit − target)/normaliser (MSELoss, mean reduction).
    package static func meanSquaredError(logits: UnsafePointer<Float>, dLogits: UnsafeMutablePointer<Float>, targets: [Float],
                                        normaliser: Double) -> Double {
        var total = 0.0
        for (i, target) in targets.enumerated() {
            let diff = Double(logits[i]) - Double(target)
            total += diff * diff
            dLogits[i] = Float(2 * diff / normaliser)
        }
        return total
    }

    /// Σ BCE-with-logits, computed stably: max(z,0) − z·y + log(1 + e^−|z|); dLogits = (σ(z) − y)/normaliser.
    package static func binaryCrossEntropyWithLogits(logits: UnsafePointer<Float>, dLogits: UnsafeMutablePointer<Float>,
                                                    targets: [Float], normaliser: Double) -> Double {
        var total = 0.0
        for (i, target) in targets.enumerated() {
            let z = Double(logits[i]), y = Double(target)
            total += max(z, 0) - z * y + log1p(exp(-abs(z)))
            let sigmoid = z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z))
            dLogits[i] = Float((sigmoid - y) / normaliser)
        }
        return total
    }
}
