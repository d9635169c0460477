// Targets for text inputs: a tokenizer (tokenizer.json or vocab.txt) with the text it encodes, and the data files of
// every fine-tuning task, read, labelled and encoded through the task seam as `bertkit finetune` does.

import TensorCore
import Tokenizer
import Bert
import Tasks
import Training
import Pipelines

/// The most text the tokenizer target encodes. Tokenization is local to each word, so a longer text reaches no new code;
/// it only slows every execution (a 48 KB text took 0.1 s per input under ASan, and the corpus drifted there, because
/// the tokenizer.json seeds are that large and their bytes end up after the NUL).
let tokenizerTextLimit = 2048

/// Input: one selector byte (even: tokenizer.json, odd: vocab.txt), the file, a NUL byte, then the text to encode (its
/// first `tokenizerTextLimit` bytes).
let tokenizerTarget = FuzzTarget(
    name: "tokenizer",
    summary: "tokenizer.json or vocab.txt, then the text after the NUL byte encoded (single, pair, batch with truncation and padding, windows) and decoded",
    run: { bytes in
        guard let selector = bytes.first else { return }
        let (file, textBytes) = splitInput(UnsafeRawBufferPointer(rebasing: bytes.dropFirst()))
        let tokenizer: BertTokenizer
        if selector % 2 == 0 {
            guard let loaded = attempt({ try BertTokenizer.load(tokenizerJSON: Scratch.write(file, as: "tokenizer.json")) }) else { return }
            tokenizer = loaded
        } else {
            guard let loaded = attempt({ try BertTokenizer.load(vocabTXT: Scratch.write(file, as: "vocab.txt")) }) else { return }
            tokenizer = loaded
        }
        exercise(tokenizer, text: String(decoding: textBytes.prefix(tokenizerTextLimit), as: UTF8.self))
    },
    seeds: { root in
        let text = Array("Hello, world! Ünïcödé 日本語 don't [MASK] tokenization\u{0}second".utf8)
        var seeds: [[UInt8]] = []
        for json in filesUnder(root + "/Fixtures/tokenizer", suffix: "tokenizer.json") + filesUnder(root + "/Fixtures/ner", suffix: "tokenizer.json") {
            seeds.append([0] + joinInput(json, text))
        }
        for vocab in filesUnder(root + "/Fixtures/tokenizer", suffix: "vocab.txt") + filesUnder(root + "/Fixtures/ner", suffix: "vocab.txt") {
            seeds.append([1] + joinInput(vocab, text))
        }
        return seeds
    })

/// Input: one selector byte (even: a byte-level BPE tokenizer.json, odd: vocab.json, a NUL byte, merges.txt), the
/// file(s), a NUL byte, then the text to encode (its first `tokenizerTextLimit` bytes). The vocab.json + merges.txt
/// pair is read with tokenizer_config.json's defaults, as RobertaTokenizer reads it.
let bpeTokenizerTarget = FuzzTarget(
    name: "bpe-tokenizer",
    summary: "byte-level BPE (RoBERTa / GPT-2): tokenizer.json, or vocab.json + merges.txt, then the text after the NUL byte encoded (single, pair, batch, windows, pre-split words) and decoded",
    run: { bytes in
        guard let selector = bytes.first else { return }
        let rest = UnsafeRawBufferPointer(rebasing: bytes.dropFirst())
        let tokenizer: ByteLevelBPETokenizer
        let textBytes: [UInt8]
        if selector % 2 == 0 {
            let (file, text) = splitInput(rest)
            guard let loaded = attempt({ try ByteLevelBPETokenizer.load(tokenizerJSON: Scratch.write(file, as: "tokenizer.json")) }) else { return }
            (tokenizer, textBytes) = (loaded, text)
        } else {
            let (vocab, afterVocab) = splitInput(rest)
            let (merges, text) = afterVocab.withUnsafeBytes { splitInput($0) }
            guard let loaded = attempt({
                try ByteLevelBPETokenizer.load(vocabJSON: Scratch.write(vocab, as: "vocab.json"), mergesTXT: Scratch.write(merges, as: "merges.txt"))
            }) else { return }
            (tokenizer, textBytes) = (loaded, text)
        }
        exercise(tokenizer, text: String(decoding: textBytes.prefix(tokenizerTextLimit), as: UTF8.self))
    },
    seeds: { root in
        let text = Array("Hello, world! Ünïcödé 日本語 don't <mask> tokenization  \t\n😀\u{0}second".utf8)
        var seeds: [[UInt8]] = []
        for json in filesUnder(root + "/Fixtures/tokenizer-bpe", suffix: "tokenizer.json") { seeds.append([0] + joinInput(json, text)) }
        for folder in ["vocab_roberta", "vocab_gpt2"] {
            let base = root + "/Fixtures/tokenizer-bpe/" + folder
            if let vocab = try? readFileBytes(base + "/vocab.json"), let merges = try? readFileBytes(base + "/merges.txt") {
                seeds.append([1] + joinInput(vocab, joinInput(merges, text)))
            }
        }
        return seeds
    })

/// What the commands do with a tokenizer: encode alone and in pairs, batches truncated and padded, overlapping windows
/// (question answering), pre-split words (entity tagging), and decode.
func exercise(_ tokenizer: any TextTokenizer, text: String) {
    let parts = text.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    let first = parts[0], second = parts.count > 1 ? parts[1] : first
    guard let single = attempt({ try tokenizer.encode(first) }) else { return }
    blackHole(tokenizer.decode(single.ids, skipSpecialTokens: true))
    blackHole(attempt { try tokenizer.encode(first, pair: second, options: EncodeOptions()) })
    let truncated = EncodeOptions(truncation: Truncation(maxLength: 9), padding: Padding(length: .longest, multipleOf: 4))
    blackHole(attempt { try tokenizer.encodeBatch([first, second, ""], pairs: [second, first, first], options: truncated) })
    let left = EncodeOptions(truncation: Truncation(maxLength: 5, direction: .left), padding: Padding(length: .fixed(12), side: .left))
    blackHole(attempt { try tokenizer.encodeBatch([first, second], options: left) })
    blackHole(attempt { try tokenizer.encodeWindows(first, second, maxLength: 16, stride: 3) })
    blackHole(tokenizer.encode(words: first.split(separator: " ").map(String.init), window: nil, addSpecialTokens: true))
}

/// The tokenizer the data files are encoded with.
let datasetTokenizer: BertTokenizer? = try? BertTokenizer.load(directory: repositoryRoot + "/Fixtures/ner/tiny-ner")

/// The data-file kinds: the selector byte (input's first byte, modulo the count) picks the task and the file name,
/// whose extension picks the format as it does for `bertkit finetune --train`.
let datasetKinds: [(file: String, run: @Sendable (String) -> Void)] = [
    ("train.csv", { runTask(SequenceClassificationTask(), path: $0) }),
    ("train.tsv", { runTask(SequenceClassificationTask(columns: ColumnNames(pair: "pair")), path: $0) }),
    ("train.jsonl", { runTask(SequenceClassificationTask(problemType: .multiLabelClassification), path: $0) }),
    ("train.conll", { runTask(TokenClassificationTask(), path: $0) }),
    ("train.json", { runTask(TokenClassificationTask(labelAllTokens: true), path: $0) }),
    ("squad.json", { runTask(QuestionAnsweringTask(docStride: 8), path: $0) }),
    ("corpus.txt", { runTask(MaskedLMTask(wholeWordMask: true), path: $0) }),
    ("corpus.jsonl", { runTask(MaskedLMTask(lineByLine: true), path: $0) }),
    ("questions.jsonl", { path in blackHole(attempt { try QuestionFile.read(path) }) }),
]

let datasetsTarget = FuzzTarget(
    name: "datasets",
    summary: "fine-tuning data: CSV/TSV/JSONL texts, CoNLL and JSONL tags, SQuAD JSON, plain-text and JSONL corpora, answer --file questions",
    run: { bytes in
        guard let selector = bytes.first else { return }
        let kind = datasetKinds[Int(selector) % datasetKinds.count]
        kind.run(Scratch.write(Array(bytes.dropFirst()), as: kind.file))
    },
    seeds: { root in
        let texts: [String] = [
            "text,label\nA good film,pos\n\"quoted, with comma\",neg\nbad \"\"one\"\",neg\n",
            "text\tpair\tlabel\nfirst\tsecond\t1\nthird\tfourth\t0\n",
            "{\"text\": \"a\", \"label\": [\"x\", \"y\"]}\n{\"text\": \"b\", \"label\": []}\n",
            "EU B-ORG\nrejects O\nGerman B-MISC\n\nPeter B-PER\nBlackburn I-PER\n",
            "{\"tokens\": [\"EU\", \"rejects\"], \"ner_tags\": [\"B-ORG\", \"O\"]}\n",
            "{\"version\": \"v2.0\", \"data\": [{\"paragraphs\": [{\"context\": \"Paris is in France.\", \"qas\": [{\"id\": \"q1\", \"question\": \"Where is Paris?\", \"answers\": [{\"text\": \"France\", \"answer_start\": 12}], \"is_impossible\": false}]}]}]}",
            "The first line of a corpus.\n\nA second, longer line of the corpus.\r\nthird\n",
            "{\"text\": \"a document\"}\n{\"text\": \"another\"}\n",
            "{\"question\": \"Where?\", \"context\": \"Here and there.\"}\n",
        ]
        var seeds = texts.enumerated().map { [UInt8($0.offset)] + Array($0.element.utf8) }
        seeds += filesIn(root + "/Fixtures/qa/samples", suffix: ".json").filter { $0.count <= 64 << 10 }.map { [5] + $0 }
        return seeds
    })

/// Read, label, encode, and build the training view of one task's data file, as FineTuneJob does.
func runTask<Task: FineTuningTask>(_ task: Task, path: String) {
    guard let tokenizer = datasetTokenizer else { fatalError("bertkit-fuzz: cannot load Fixtures/ner/tiny-ner's tokenizer") }
    guard let examples = attempt({ try task.read(path) }),
          let labels = attempt({ try task.labels(train: examples, file: path, config: BertConfig(), explicit: nil) }),
          let encoded = attempt({ try task.encode(examples, file: path, labels: labels, tokenizer: tokenizer, maxLength: 48) }) else { return }
    blackHole(task.training(labels: labels, train: encoded, eval: encoded))
}
