// Numeric comparison for golden tests: reports the worst element, its index, and both values.

import Testing

public struct CloseReport: CustomStringConvertible, Sendable {
    public let maxAbsDiff: Double
    public let worstIndex: Int
    public let actual: Double
    public let expected: Double
    public let failures: Int
    public var description: String {
        "\(failures) element(s) out of tolerance; worst at index \(worstIndex): got \(actual), expected \(expected) (|diff| \(maxAbsDiff))"
    }
}

/// Compares elementwise with |a − e| ≤ atol + rtol·|e| (numpy's `isclose`). NaN matches NaN.
public func compareClose<A: BinaryFloatingPoint, E: BinaryFloatingPoint>(_ actual: [A], _ expected: [E],
                                                                         rtol: Double, atol: Double) -> CloseReport? {
    guard actual.count == expected.count else {
        return CloseReport(maxAbsDiff: .infinity, worstIndex: -1, actual: Double(actual.count), expected: Double(expected.count), failures: 1)
    }
    var failures = 0
    var worst = (diff: -1.0, index: 0)
    for i in 0..<actual.count {
        let a = Double(actual[i]), e = Double(expected[i])
        if a.isNaN && e.isNaN { continue }
        let diff = abs(a - e)
        let ok = diff <= atol + rtol * abs(e) || (a == e)
        if !ok { failures += 1 }
        if !ok && (diff > worst.diff || diff.isNaN) { worst = (diff.isNaN ? .infinity : diff, i) }
    }
    guard failures > 0 else { return nil }
    return CloseReport(maxAbsDiff: worst.diff, worstIndex: worst.index, actual: Double(actual[worst.index]),
                       expected: Double(expected[worst.index]), failures: failures)
}

/// Records a test issue when `actual` and `expected` differ beyond tolerance.
public func assertClose<A: BinaryFloatingPoint, E: BinaryFloatingPoint>(
    _ actual: [A], _ expected: [E], rtol: Double = 1e-5, atol: Double = 1e-6, _ label: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    if let report = compareClose(actual, expected, rtol: rtol, atol: atol) {
        Issue.record("\(label.isEmpty ? "" : label + ": ")\(report)", sourceLocation: sourceLocation)
    }
}

/// Largest |a − e| (for reporting).
public func maxAbsDifference<A: BinaryFloatingPoint, E: BinaryFloatingPoint>(_ a: [A], _ e: [E]) -> Double {
    zip(a, e).map { abs(Double($0) - Double($1)) }.max() ?? 0
}
