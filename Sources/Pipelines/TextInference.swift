// Text in, model outputs out: tokenization, batching with padding, the forward pass, and the head's
// answer (classification, embeddings, masked-token fill) — what `predict`, `embed` and `fill-mask` print.
// The encoder skips the padding by default (BertWorkspace.skipsPadding): nothing here reads a padding position.

import TensorCore
import Tokenizer
import Bert
import Tasks
#if canImport(Glibc)
import Glibc
#endif

package enum InferenceError: Error, CustomStringConvertible {
    case wrongHead(command: String, head: String, needed: String)
    case noMaskToken(text: String)
    case emptyInput

    package var description: String {
        switch self {
        case .wrongHead(let command, let head, let needed):
            return "\(command) needs a \(needed) model, this one is \(head) (pass --head or use another model)"
        case .noMaskToken(let text): return "no [MASK] token in \"\(text)\""
        case .emptyInput: return "no texts given"
        }
    }
}

package struct Prediction: Sendable {
    package let text: String
    package let label: String
    package let probabilities: [(label: String, probability: Double)]
    package let logits: [Float]
}

package struct FillMaskCandidate: Sendable {
    package let token: String
    package let id: Int
    package let score: Double
    package let sequence: String
}

package enum PoolingMode: String, Sendable, CaseIterable { case cls, mean, pooler }

package final class TextInference {
    package let model: BertModel
    package let tokenizer: any TextTokenizer
    package let adapters: LoRAAdapters?
    package var maxLength: Int
    package var batchSize = 32
    /// Run the encoder over real tokens only (BertWorkspace.skipsPadding); false computes the padding too.
    package var skipsPadding = true

    package init(model: BertModel, tokenizer: any TextTokenizer, adapters: LoRAAdapters? = nil, maxLength: Int? = nil) {
        self.model = model
        self.tokenizer = tokenizer
        self.adapters = adapters
        self.maxLength = min(maxLength ?? tokenizer.modelMaxLength ?? model.config.maxSequenceLength, model.config.maxSequenceLength)
    }

    /// Encodes texts (or pairs) with truncation to `maxLength` and padding to the longest.
    package func encode(_ texts: [String], pairs: [String]? = nil) throws -> (TokenBatch, [Encoding]) {
        guard !texts.isEmpty else { throw InferenceError.emptyInput }
        let options = EncodeOptions(truncation: Truncation(maxLength: maxLength), padding: Padding(length: .longest))
        let encodings = try tokenizer.encodeBatch(texts, pairs: pairs, options: options)
        let batch = try TokenBatch(inputIds: encodings.map { $0.ids.map(Int.init) },
                                   attentionMask: encodings.map { $0.attentionMask.map(Int.init) },
                                   tokenTypeIds: encodings.map { $0.typeIDs.map(Int.init) })
        try batch.validate(for: model.config)
        return (batch, encodings)
    }

    /// Runs the model on batches of texts; `body` reads each batch's workspace.
    func run(_ texts: [String], pairs: [String]? = nil, computeLMLogits: Bool = false,
             _ body: (Range<Int>, TokenBatch, [Encoding], BertWorkspace) throws -> Void) throws {
        var storage: FloatBuffer? = nil
        for start in stride(from: 0, to: texts.count, by: batchSize) {
            let range = start..<min(start + batchSize, texts.count)
            let (batch, encodings) = try encode(Array(texts[range]), pairs: pairs.map { Array($0[range]) })
            let ws = BertWorkspace(config: model.config, head: model.head, batch: batch.batchSize, sequence: batch.sequenceLength,
                                   keepsEveryLayer: false, storage: storage)
            storage = ws.buffer
            ws.skipsPadding = skipsPadding
            model.forward(batch, workspace: ws, adapters: adapters, computeLMLogits: computeLMLogits)
            try body(range, batch, encodings, ws)
        }
    }

    /// Sequence classification: label, probabilities (softmax, or sigmoid for multi-label) and logits.
    package func predict(_ texts: [String], pairs: [String]? = nil) throws -> [Prediction] {
        guard model.head == .sequenceClassification else {
            throw InferenceError.wrongHead(command: "predict", head: model.head.rawValue, needed: "sequence-classification")
        }
        let names = model.config.id2label, L = model.config.numLabels
        var results: [Prediction] = []
        try run(texts, pairs: pairs) { range, _, _, ws in
            for (row, index) in range.enumerated() {
                let logits = Array(UnsafeBufferPointer(start: ws.logits + row * L, count: L))
                let probabilities: [Double]
                if model.config.problemType == .multiLabelClassification {
                    probabilities = logits.map { 1 / (1 + exp(-Double($0))) }
                } else if model.config.problemType == .regression {
                    probabilities = logits.map(Double.init)
                } else {
                    let top = Double(logits.max()!)
                    let e = logits.map { exp(Double($0) - top) }
                    let total = e.reduce(0, +)
                    probabilities = e.map { $0 / total }
                }
                let best = logits.indices.max { logits[$0] < logits[$1] }!
                results.append(Prediction(text: texts[index], label: names[best],
                                          probabilities: zip(names, probabilities).map { ($0, $1) }, logits: logits))
            }
        }
        return results
    }

    /// One vector per text: the [CLS] hidden state, the mean over real tokens, or the pooler output.
    package func embed(_ texts: [String], pooling: PoolingMode, normalize: Bool = false) throws -> [[Float]] {
        if pooling == .pooler && !model.hasPoolerOutput {
            throw InferenceError.wrongHead(command: "embed --pooling pooler", head: model.head.rawValue, needed: "base or sequence-classification")
        }
        let H = model.config.hiddenSize
        var vectors: [[Float]] = []
        try run(texts) { range, batch, _, ws in
            let T = batch.sequenceLength
            for row in 0..<range.count {
                var vector = [Float](repeating: 0, count: H)
                switch pooling {
                case .cls:
                    for i in 0..<H { vector[i] = ws.lastHiddenState[row * T * H + i] }
                case .pooler:
                    for i in 0..<H { vector[i] = ws.pooled[row * H + i] }
                case .mean:
                    // sentence-transformers' mean pooling: Σ(h · mask) / max(Σ mask, 1e-9).
                    var count: Float = 0
                    for t in 0..<T where batch.attentionMask[row * T + t] != 0 {
                        count += 1
                        for i in 0..<H { vector[i] += ws.lastHiddenState[(row * T + t) * H + i] }
                    }
                    for i in 0..<H { vector[i] /= max(count, 1e-9) }
                }
                if normalize {
                    let norm = max(vector.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
                    vector = vector.map { $0 / norm }
                }
                vectors.append(vector)
            }
        }
        return vectors
    }

    /// The `topK` most likely tokens for each [MASK] of `text` (one list per mask, in order).
    package func fillMask(_ text: String, topK: Int) throws -> [[FillMaskCandidate]] {
        guard model.head == .maskedLM else {
            throw InferenceError.wrongHead(command: "fill-mask", head: model.head.rawValue, needed: "masked-lm")
        }
        let (batch, encodings) = try encode([text])
        guard let maskID = tokenizer.maskTokenID else { throw InferenceError.noMaskToken(text: text) }
        let positions = encodings[0].ids.indices.filter { encodings[0].ids[$0] == maskID }
        guard !positions.isEmpty else { throw InferenceError.noMaskToken(text: text) }
        let ws = BertWorkspace(config: model.config, head: model.head, batch: 1, sequence: batch.sequenceLength, keepsEveryLayer: false)
        ws.skipsPadding = skipsPadding
        model.forward(batch, workspace: ws, adapters: adapters, computeLMLogits: false)
        let rows = model.lmLogits(rows: positions, workspace: ws)
        return positions.enumerated().map { maskIndex, position in
            let logits = rows[maskIndex]
            let top = Double(logits.max()!)
            let e = logits.map { exp(Double($0) - top) }
            let total = e.reduce(0, +)
            let best = logits.indices.sorted { logits[$0] > logits[$1] }.prefix(topK)
            return best.map { id in
                var ids = encodings[0].ids
                ids[position] = Int32(id)
                let sequence = tokenizer.decode(ids, skipSpecialTokens: true)
                return FillMaskCandidate(token: tokenizer.token(of: Int32(id)) ?? "[\(id)]", id: id, score: e[id] / total, sequence: sequence)
            }
        }
    }

    /// Token classification: each text's entities as transformers' token-classification pipeline gives them. A text
    /// longer than `maxLength` is not cut short (the pipeline's silent truncation): its tokens are cut into
    /// half-overlapping windows and each token is scored from the window where it has the most context.
    package func tagEntities(_ texts: [String], strategy: AggregationStrategy, ignoreLabels: Set<String> = ["O"]) throws -> [[TaggedEntity]] {
        guard model.head == .tokenClassification else {
            throw InferenceError.wrongHead(command: "predict", head: model.head.rawValue, needed: "token-classification")
        }
        guard !texts.isEmpty else { throw InferenceError.emptyInput }
        let L = model.config.numLabels
        var storage: FloatBuffer? = nil
        return try texts.map { text in
            let encoding = try tokenizer.encode(text)
            let inner = encoding.specialTokensMask.indices.filter { encoding.specialTokensMask[$0] == 0 }
            let lead = inner.first ?? encoding.count, trail = (inner.last ?? (encoding.count - 1)) + 1
            let windows = TokenWindows(count: trail - lead, room: max(1, maxLength - lead - (encoding.count - trail)))
            let ids = encoding.ids.map(Int.init)
            let rows: [[Int]] = windows.ranges.map { range in
                let head: [Int] = Array(ids[..<lead]), tail: [Int] = Array(ids[trail...])
                let middle: [Int] = Array(ids[(lead + range.lowerBound)..<(lead + range.upperBound)])
                return head + middle + tail
            }
            let width = rows.map(\.count).max() ?? 0
            let padID = Int(model.config.padTokenId ?? 0)
            var inputIds: [[Int]] = [], mask: [[Int]] = [], types: [[Int]] = []
            for row in rows {
                let missing = width - row.count
                inputIds.append(row + [Int](repeating: padID, count: missing))
                mask.append([Int](repeating: 1, count: row.count) + [Int](repeating: 0, count: missing))
                types.append([Int](repeating: 0, count: width))
            }
            let batch = try TokenBatch(inputIds: inputIds, attentionMask: mask, tokenTypeIds: types)
            try batch.validate(for: model.config)
            let ws = BertWorkspace(config: model.config, head: model.head, batch: batch.batchSize, sequence: width,
                                   keepsEveryLayer: false, storage: storage)
            storage = ws.buffer
            ws.skipsPadding = skipsPadding
            model.forward(batch, workspace: ws, adapters: adapters)
            // Each position of the whole encoding takes its scores from one window (specials from the first).
            var scores: [[Float]] = []
            for t in 0..<encoding.count {
                var w = 0, position = t
                if t >= trail {
                    position = lead + windows.ranges[0].count + (t - trail)
                } else if t >= lead {
                    let token = t - lead
                    w = windows.owner[token]
                    position = lead + token - windows.ranges[w].lowerBound
                }
                let row = UnsafeBufferPointer<Float>(start: ws.logits + (w * width + position) * L, count: L)
                scores.append(EntityGrouping.softmax(Array(row)[...]))
            }
            return EntityGrouping.entities(text: text, encoding: encoding, scores: scores, labels: model.config.id2label,
                                           tokenizer: tokenizer, strategy: strategy, ignoreLabels: ignoreLabels)
        }
    }

    /// Extractive question answering as transformers' question-answering pipeline: the question and the context in
    /// windows (`maxLength`, `docStride`), each window's start and end logits, then `AnswerSpans`.
    package func answer(question: String, context: String, options: AnswerOptions) throws -> [SpanAnswer] {
        guard model.head == .questionAnswering else {
            throw InferenceError.wrongHead(command: "answer", head: model.head.rawValue, needed: "question-answering")
        }
        let length = options.maxLength ?? min(tokenizer.modelMaxLength ?? 384, 384)
        let stride = options.docStride ?? min(length / 2, 128)
        let windows = try tokenizer.encodeWindows(question, context, maxLength: length, stride: stride)
        let width = windows.map(\.count).max() ?? 0
        let padID = Int(model.config.padTokenId ?? 0)
        var ids: [[Int]] = [], mask: [[Int]] = [], types: [[Int]] = []
        for window in windows {
            let missing = width - window.count
            ids.append(window.ids.map(Int.init) + [Int](repeating: padID, count: missing))
            mask.append(window.attentionMask.map(Int.init) + [Int](repeating: 0, count: missing))
            types.append(window.typeIDs.map(Int.init) + [Int](repeating: 0, count: missing))
        }
        let batch = try TokenBatch(inputIds: ids, attentionMask: mask, tokenTypeIds: types)
        try batch.validate(for: model.config)
        let ws = BertWorkspace(config: model.config, head: model.head, batch: windows.count, sequence: width, keepsEveryLayer: false)
        ws.skipsPadding = skipsPadding
        model.forward(batch, workspace: ws, adapters: adapters)
        var starts: [[Float]] = [], ends: [[Float]] = []
        for (w, window) in windows.enumerated() {
            starts.append(SpanLogits.column(ws.logits + w * width * 2, rows: window.count, .start))
            ends.append(SpanLogits.column(ws.logits + w * width * 2, rows: window.count, .end))
        }
        return AnswerSpans.answers(context: context, windows: windows, starts: starts, ends: ends, clsID: tokenizer.classifierTokenID,
                                   options: options)
    }
}
