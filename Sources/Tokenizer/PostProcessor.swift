// The post-processor: where [CLS]/[SEP] go and which type id each part gets. TemplateProcessing
// (tokenizers/src/processors/template.rs) covers BERT's `[CLS] $A [SEP]` / `[CLS] $A [SEP] $B:1 [SEP]:1`;
// the older BertProcessing is the same template. Special tokens get offsets (0, 0).

package struct PostProcessorTemplate: Sendable, Equatable {
    package enum Piece: Sendable, Equatable {
        case sequence(first: Bool, typeID: Int32)
        case special(name: String, typeID: Int32)
    }
    package struct SpecialToken: Sendable, Equatable {
        package var ids: [Int32]
        package var tokens: [String]
        package init(ids: [Int32], tokens: [String]) { self.ids = ids; self.tokens = tokens }
    }

    package var single: [Piece]
    package var pair: [Piece]
    package var specialTokens: [String: SpecialToken]

    package init(single: [Piece], pair: [Piece], specialTokens: [String: SpecialToken]) throws(TokenizerError) {
        for case .special(let name, _) in single + pair where specialTokens[name] == nil {
            throw .templateTokenMissing(name)
        }
        self.init(checkedSingle: single, pair: pair, specialTokens: specialTokens)
    }

    private init(checkedSingle single: [Piece], pair: [Piece], specialTokens: [String: SpecialToken]) {
        self.single = single
        self.pair = pair
        self.specialTokens = specialTokens
    }

    /// No post-processor: the texts alone, the second with type id 1 (as the reference's default).
    package static let none = PostProcessorTemplate(checkedSingle: [.sequence(first: true, typeID: 0)],
                                                   pair: [.sequence(first: true, typeID: 0), .sequence(first: false, typeID: 1)],
                                                   specialTokens: [:])

    /// BERT's template: `[CLS] $A [SEP]` and `[CLS] $A [SEP] $B:1 [SEP]:1`.
    package static func bert(cls: (String, Int32), sep: (String, Int32)) -> PostProcessorTemplate {
        var specials: [String: SpecialToken] = [:]
        specials[cls.0] = SpecialToken(ids: [cls.1], tokens: [cls.0])
        specials[sep.0] = SpecialToken(ids: [sep.1], tokens: [sep.0])
        return PostProcessorTemplate(
            checkedSingle: [.special(name: cls.0, typeID: 0), .sequence(first: true, typeID: 0), .special(name: sep.0, typeID: 0)],
            pair: [.special(name: cls.0, typeID: 0), .sequence(first: true, typeID: 0), .special(name: sep.0, typeID: 0),
                   .sequence(first: false, typeID: 1), .special(name: sep.0, typeID: 1)],
            specialTokens: specials)
    }

    /// How many tokens the template adds (subtracted from max_length before truncating).
    func addedTokens(pair isPair: Bool) -> Int {
        (isPair ? pair : single).reduce(0) { count, piece in
            if case .special(let name, _) = piece { return count + (specialTokens[name]?.ids.count ?? 0) }
            return count
        }
    }

    func apply(_ first: SequenceTokens, _ second: SequenceTokens?, addSpecialTokens: Bool) -> Encoding {
        var encoding = Encoding()
        encoding.reserve(first.count + (second?.count ?? 0) + 4)
        for piece in second == nil ? single : pair {
            switch piece {
            case .sequence(let isFirst, let typeID):
                guard let part = isFirst ? first : second else { continue }
                let sequence: Int8 = isFirst ? 0 : 1
                for i in 0..<part.count {
                    encoding.append(id: part.ids[i], token: part.tokens[i], typeID: typeID, offset: part.offsets[i],
                                    special: false, sequence: sequence)
                }
                if let words = part.wordIDs { encoding.wordIDs += words.map { $0 } }
            case .special(let name, let typeID):
                guard addSpecialTokens, let special = specialTokens[name] else { continue }
                for (id, token) in zip(special.ids, special.tokens) {
                    encoding.append(id: id, token: token, typeID: typeID, offset: TokenOffset(0, 0), special: true, sequence: nil)
                }
                if first.wordIDs != nil { encoding.wordIDs += [Int?](repeating: nil, count: special.ids.count) }
            }
        }
        return encoding
    }
}
