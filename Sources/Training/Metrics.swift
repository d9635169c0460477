// Evaluation metrics for classifiers: accuracy, macro-F1 (scikit-learn's definition: the mean F1 over
// the labels that occur in the truth or the predictions, 0 where precision or recall is undefined) and
// the confusion matrix.

package struct ClassificationMetrics: Sendable {
    package let count: Int
    package let accuracy: Double
    package let macroF1: Double
    /// confusion[truth][prediction]
    package let confusion: [[Int]]

    package init(truth: [Int], predicted: [Int], classes: Int) {
        precondition(truth.count == predicted.count)
        count = truth.count
        var matrix = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        for (t, p) in zip(truth, predicted) where t >= 0 && t < classes && p >= 0 && p < classes { matrix[t][p] += 1 }
        confusion = matrix
        accuracy = truth.isEmpty ? 0 : Double(zip(truth, predicted).filter { $0 == $1 }.count) / Double(truth.count)
        var f1s: [Double] = []
        for c in 0..<classes {
            let truePositive = Double(matrix[c][c])
            let predictedCount = Double((0..<classes).reduce(0) { $0 + matrix[$1][c] })
            let actualCount = Double(matrix[c].reduce(0, +))
            if predictedCount == 0 && actualCount == 0 { continue }
            let precision = predictedCount == 0 ? 0 : truePositive / predictedCount
            let recall = actualCount == 0 ? 0 : truePositive / actualCount
            f1s.append(precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall))
        }
        macroF1 = f1s.isEmpty ? 0 : f1s.reduce(0, +) / Double(f1s.count)
    }
}

/// transformers' EarlyStoppingCallback: on each evaluation, an improvement is strictly better than the
/// best so far *and* better by more than `threshold`; otherwise the patience counter grows, and training
/// stops once it reaches `patience`. The first evaluation always improves.
package struct EarlyStopping: Sendable, Codable {
    package let patience: Int
    package let threshold: Double
    package private(set) var counter = 0

    package init(patience: Int, threshold: Double, counter: Int = 0) {
        self.patience = patience
        self.threshold = threshold
        self.counter = counter
    }

    /// Updates with a new value given the best value *before* this evaluation; returns true to stop.
    package mutating func update(value: Double, previousBest: Double?, greaterIsBetter: Bool) -> Bool {
        if let best = previousBest {
            let better = greaterIsBetter ? value > best : value < best
            if better && abs(value - best) > threshold { counter = 0 } else { counter += 1 }
        } else {
            counter = 0
        }
        return counter >= patience
    }
}
