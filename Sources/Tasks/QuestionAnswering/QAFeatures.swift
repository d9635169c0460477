// Examples → model inputs as run_qa.py's `prepare_train_features` and `prepare_validation_features` make them
// (transformers v5.24.0, examples/pytorch/question-answering/run_qa.py): the question left-stripped, the context alone
// truncated into overflowing windows that share `docStride` tokens, every window tied to its example; training
// labels are the first answer's start and end tokens, or the [CLS] index when the answer is not wholly inside the
// window (or there is none); evaluation keeps the offsets of the context tokens only, for post-processing.

import Tokenizer

package struct QAFeature: Sendable, Equatable {
    /// Which example (index into the examples) the window came from: `overflow_to_sample_mapping`.
    package var example: Int
    package var ids: [Int32]
    package var typeIds: [Int32]
    /// Character offsets of the context's tokens in the context; nil for the question, special tokens and padding.
    package var offsets: [TokenOffset?]
    /// Training labels (the [CLS] index 0 when the window holds no answer).
    package var startPosition: Int
    package var endPosition: Int

    package init(example: Int, ids: [Int32], typeIds: [Int32], offsets: [TokenOffset?], startPosition: Int, endPosition: Int) {
        self.example = example
        self.ids = ids
        self.typeIds = typeIds
        self.offsets = offsets
        self.startPosition = startPosition
        self.endPosition = endPosition
    }
}

package enum QAFeatures {
    /// Windows and labels of every example. `docStride`: tokens shared by neighbouring windows (transformers' `stride`).
    package static func make(_ examples: [QAExample], tokenizer: any TextTokenizer, maxLength: Int, docStride: Int) throws(TokenizerError) -> [QAFeature] {
        var features: [QAFeature] = []
        for (index, example) in examples.enumerated() {
            let question = String(example.question.drop(while: { $0.isWhitespace }))
            let windows = try tokenizer.encodeWindows(question, example.context, maxLength: maxLength, stride: docStride)
            for encoding in windows {
                let offsets: [TokenOffset?] = encoding.sequenceIDs.indices.map { encoding.sequenceIDs[$0] == 1 ? encoding.offsets[$0] : nil }
                let (start, end) = labels(encoding, answer: example.answers.first, classifierID: tokenizer.classifierTokenID)
                features.append(QAFeature(example: index, ids: encoding.ids, typeIds: encoding.typeIDs, offsets: offsets,
                                          startPosition: start, endPosition: end))
            }
        }
        return features
    }

    /// `prepare_train_features`' positions: the context's first and last token, narrowed to the answer's characters;
    /// without an answer in the window, the position of `cls_token_id` (`input_ids.index(tokenizer.cls_token_id)`).
    static func labels(_ encoding: Encoding, answer: QAExample.Answer?, classifierID: Int32?) -> (Int, Int) {
        let cls = classifierID.flatMap { encoding.ids.firstIndex(of: $0) } ?? 0
        guard let answer else { return (cls, cls) }
        let startChar = answer.start, endChar = answer.start + answer.text.unicodeScalars.count
        guard var tokenStart = encoding.sequenceIDs.firstIndex(where: { $0 == 1 }),
              var tokenEnd = encoding.sequenceIDs.lastIndex(where: { $0 == 1 }) else { return (cls, cls) }
        let offsets = encoding.offsets
        guard offsets[tokenStart].start <= startChar && offsets[tokenEnd].end >= endChar else { return (cls, cls) }
        while tokenStart < offsets.count && offsets[tokenStart].start <= startChar { tokenStart += 1 }
        while offsets[tokenEnd].end >= endChar { tokenEnd -= 1 }
        return (tokenStart - 1, tokenEnd + 1)
    }
}
