// Exact match and token F1 as the official SQuAD scripts compute them (the `evaluate` package's metrics/squad and
// metrics/squad_v2, which wrap the v1.1 and v2.0 evaluation scripts): answers normalised (lower case, ASCII punctuation
// removed, the articles a/an/the removed as whole words, whitespace collapsed), each score the maximum over the gold
// answers, averages ×100. SQuAD 2.0 adds the HasAns/NoAns split and the best thresholds over the null odds.
// Strings are compared scalar by scalar, as Python compares them: Swift's String equality (and hashing) treats
// canonically equivalent texts ("café" precomposed or decomposed) as equal, which the scripts do not.

package enum SQuADMetrics {
    // MARK: Normalisation (`normalize_answer`)

    package static func normalize(_ s: String) -> String {
        let lower = s.lowercased()
        let noPunctuation = String(String.UnicodeScalarView(lower.unicodeScalars.filter { !asciiPunctuation.contains($0) }))
        // `re.sub(r"\b(a|an|the)\b", " ", text)`: a maximal run of word characters equal to an article becomes a space.
        var out = String.UnicodeScalarView(), run = String.UnicodeScalarView()
        func flush() {
            if run.elementsEqual("a".unicodeScalars) || run.elementsEqual("an".unicodeScalars) || run.elementsEqual("the".unicodeScalars) {
                out.append(" ")
            } else {
                out.append(contentsOf: run)
            }
            run = String.UnicodeScalarView()
        }
        for scalar in noPunctuation.unicodeScalars {
            if isWordCharacter(scalar) { run.append(scalar) } else { flush(); out.append(scalar) }
        }
        flush()
        return split(String(out)).joined(separator: " ")
    }

    static let asciiPunctuation = Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".unicodeScalars)

    /// Python's `\w`: letters, numbers (isalnum) and the underscore.
    static func isWordCharacter(_ s: Unicode.Scalar) -> Bool {
        if s == "_" { return true }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// `str.split()`: runs of whitespace (Python's isspace: White_Space and the separators U+001C–U+001F).
    static func split(_ s: String) -> [String] {
        var words: [String] = [], current = String.UnicodeScalarView()
        for scalar in s.unicodeScalars {
            if scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value) {
                if !current.isEmpty { words.append(String(current)); current = String.UnicodeScalarView() }
            } else { current.append(scalar) }
        }
        if !current.isEmpty { words.append(String(current)) }
        return words
    }

    // MARK: Scores of one prediction against one gold answer (squad_v2's compute_exact / compute_f1)

    package static func exact(_ gold: String, _ prediction: String) -> Double {
        normalize(gold).unicodeScalars.elementsEqual(normalize(prediction).unicodeScalars) ? 1 : 0
    }

    /// A token as Python sees it: its code points.
    static func key(_ token: String) -> [UInt32] { token.unicodeScalars.map(\.value) }

    /// SQuAD 2.0's F1: an empty side scores 1 when both are empty. SQuAD 1.1's differs only there (0 when nothing is shared).
    package static func f1(_ gold: String, _ prediction: String, version2: Bool = true) -> Double {
        let goldTokens = (gold.isEmpty ? [] : split(normalize(gold))).map(key)
        let predictedTokens = (prediction.isEmpty ? [] : split(normalize(prediction))).map(key)
        if version2 && (goldTokens.isEmpty || predictedTokens.isEmpty) { return goldTokens == predictedTokens ? 1 : 0 }
        var counts: [[UInt32]: Int] = [:]
        for token in goldTokens { counts[token, default: 0] += 1 }
        var same = 0
        for token in predictedTokens where counts[token, default: 0] > 0 { counts[token]! -= 1; same += 1 }
        if same == 0 { return 0 }
        let precision = Double(same) / Double(predictedTokens.count), recall = Double(same) / Double(goldTokens.count)
        return (2 * precision * recall) / (precision + recall)
    }

    // MARK: Whole sets

    package struct Result: Sendable, Equatable {
        package var exactMatch: Double
        package var f1: Double
        package var total: Int
        /// SQuAD 2.0 only (nil otherwise, and for a split with no question of its kind).
        package var hasAnsExact: Double?, hasAnsF1: Double?, hasAnsTotal: Int?
        package var noAnsExact: Double?, noAnsF1: Double?, noAnsTotal: Int?
        package var bestExact: Double?, bestExactThreshold: Double?, bestF1: Double?, bestF1Threshold: Double?
    }

    /// SQuAD 1.1 (`evaluate.load("squad")`): every question counts, with the maximum over its answers.
    package static func squad(examples: [QAExample], predictions: [String: String]) -> Result {
        var exactSum = 0.0, f1Sum = 0.0
        for example in examples {
            let prediction = predictions[example.id] ?? ""
            let golds = example.answers.map(\.text)
            exactSum += golds.map { exact($0, prediction) }.max() ?? 0
            f1Sum += golds.map { f1($0, prediction, version2: false) }.max() ?? 0
        }
        let n = Double(max(examples.count, 1))
        return Result(exactMatch: 100 * exactSum / n, f1: 100 * f1Sum / n, total: examples.count)
    }

    /// SQuAD 2.0 (`evaluate.load("squad_v2")`) with `nullOdds` as the no-answer probabilities and `threshold` as
    /// `no_answer_threshold` (the post-processing's own threshold, so the scores are those of the answers given).
    package static func squadV2(examples: [QAExample], predictions: [String: String], nullOdds: [String: Double], threshold: Double) -> Result {
        var exactRaw: [String: Double] = [:], f1Raw: [String: Double] = [:], hasAnswer: [String: Bool] = [:]
        for example in examples {
            let prediction = predictions[example.id] ?? ""
            // `make_qid_to_has_ans` looks at the raw answers; `get_raw_scores` drops those that normalise to nothing.
            hasAnswer[example.id] = !example.answers.isEmpty
            var golds = example.answers.map(\.text).filter { !normalize($0).isEmpty }
            if golds.isEmpty { golds = [""] }
            exactRaw[example.id] = golds.map { exact($0, prediction) }.max()!
            f1Raw[example.id] = golds.map { f1($0, prediction) }.max()!
        }
        func thresholded(_ raw: [String: Double]) -> [String: Double] {
            raw.mapValues { $0 }.reduce(into: [:]) { out, item in
                out[item.key] = (nullOdds[item.key] ?? 0) > threshold ? (hasAnswer[item.key]! ? 0 : 1) : item.value
            }
        }
        let exactT = thresholded(exactRaw), f1T = thresholded(f1Raw)
        let ids = examples.map(\.id)
        func mean(_ scores: [String: Double], _ subset: [String]) -> Double { 100 * subset.reduce(0) { $0 + scores[$1]! } / Double(subset.count) }
        var result = Result(exactMatch: mean(exactT, ids), f1: mean(f1T, ids), total: ids.count)
        let has = ids.filter { hasAnswer[$0]! }, none = ids.filter { !hasAnswer[$0]! }
        if !has.isEmpty { result.hasAnsExact = mean(exactT, has); result.hasAnsF1 = mean(f1T, has); result.hasAnsTotal = has.count }
        if !none.isEmpty { result.noAnsExact = mean(exactT, none); result.noAnsF1 = mean(f1T, none); result.noAnsTotal = none.count }
        (result.bestExact, result.bestExactThreshold) = bestThreshold(ids, exactRaw, predictions, nullOdds, hasAnswer)
        (result.bestF1, result.bestF1Threshold) = bestThreshold(ids, f1Raw, predictions, nullOdds, hasAnswer)
        return result
    }

    /// `find_best_thresh`: sweep the questions by rising null odds, answering "no answer" for all above.
    static func bestThreshold(_ ids: [String], _ scores: [String: Double], _ predictions: [String: String], _ odds: [String: Double],
                              _ hasAnswer: [String: Bool]) -> (Double, Double) {
        var current = Double(ids.filter { !hasAnswer[$0]! }.count), best = current, bestThreshold = 0.0
        // Python's sorted() is stable: equal odds keep the questions' order.
        let order = ids.enumerated().sorted { (odds[$0.element] ?? 0, $0.offset) < (odds[$1.element] ?? 0, $1.offset) }.map(\.element)
        for id in order {
            let difference: Double = hasAnswer[id]! ? scores[id]! : ((predictions[id] ?? "").isEmpty ? 0 : -1)
            current += difference
            if current > best { best = current; bestThreshold = odds[id] ?? 0 }
        }
        return (100 * best / Double(scores.count), bestThreshold)
    }
}
