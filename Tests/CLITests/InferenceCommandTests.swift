// `predict`, `embed` and `fill-mask` from text, against transformers' outputs for the same texts
// (the texts are stored in each reference file's metadata by Tools/fixtures/make_bert_fixtures.py).

import Testing
import Foundation
import BertKitInternals
import TestSupport

func referenceTexts(_ store: TensorStore) throws -> [String] {
    try JSONSerialization.jsonObject(with: Data(store.metadata["texts"]!.utf8)) as! [String]
}

/// all-MiniLM-L6-v2 (fetched by Tools/fetch) and transformers' outputs for the reference texts: the model directory,
/// the reference file, its texts, last_hidden_state [B·T·H], attention_mask [B·T], T and H.
func miniLMReference() throws -> (String, TensorStore, [String], [Float], [Int64], Int, Int) {
    let directory = Fixtures.cacheDirectory + "/models/all-MiniLM-L6-v2"
    try #require(FileManager.default.fileExists(atPath: directory + "/model.safetensors"), "run Tools/fetch first")
    let reference = try SafetensorsReader.read(path: Fixtures.path("bert/minilm-reference.safetensors"))
    return (directory, reference, try referenceTexts(reference), reference["last_hidden_state"]!.float32Values()!,
            reference["attention_mask"]!.int64Values()!, reference["attention_mask"]!.shape[1], 384)
}

@Suite struct InferenceCommandTests {
    @Test func predictGivesTransformersLogitsAndLabels() throws {
        let directory = Fixtures.path("bert/tiny-seqcls")
        let reference = try SafetensorsReader.read(path: directory + "/reference.safetensors")
        let texts = try referenceTexts(reference)
        let result = try Bertkit.run(["predict", "--model", directory, "--json", "--"] + texts)
        #expect(result.status == 0, "\(result.stderr)")
        let predictions = (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any])["predictions"] as! [[String: Any]]
        #expect(predictions.map { $0["text"] as! String } == texts)
        let logits = predictions.flatMap { ($0["logits"] as! [NSNumber]).map(\.doubleValue) }
        assertClose(logits, reference["logits"]!.float32Values()!, rtol: 0, atol: 1e-5)
        // The label is the argmax, named from id2label; probabilities sum to one.
        let names = ["neg", "neu", "pos"]
        for (i, prediction) in predictions.enumerated() {
            let row = Array(logits[(i * 3)..<(i * 3 + 3)])
            #expect(prediction["label"] as? String == names[row.indices.max { row[$0] < row[$1] }!])
            let probabilities = prediction["probabilities"] as! [String: Double]
            #expect(abs(probabilities.values.reduce(0, +) - 1) < 1e-9)
        }
        let plain = try Bertkit.run(["predict", "--model", directory, "--", texts[0]])
        #expect(plain.status == 0 && plain.stdout.hasSuffix("\t" + texts[0] + "\n"))
    }

    @Test func predictRunsWithoutDropoutWhateverTheConfigSays() throws {
        // Every dropout probability 0.5 in config.json: inference is model.eval(), the logits stay
        // transformers' (which were made in eval mode) and the same on every run.
        let source = Fixtures.path("bert/tiny-seqcls"), folder = TemporaryDirectory()
        for name in ["model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt"] {
            try FileManager.default.copyItem(atPath: source + "/" + name, toPath: folder.file(name))
        }
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: source + "/config.json"))) as! [String: Any]
        #expect(config["hidden_dropout_prob"] as? Double != 0.5)
        for key in ["hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"] { config[key] = 0.5 }
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: folder.file("config.json")))
        let reference = try SafetensorsReader.read(path: source + "/reference.safetensors")
        let texts = try referenceTexts(reference)
        var runs: [[Double]] = []
        for _ in 0..<2 {
            let result = try Bertkit.run(["predict", "--model", folder.path, "--json", "--"] + texts)
            #expect(result.status == 0, "\(result.stderr)")
            let predictions = (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any])["predictions"] as! [[String: Any]]
            runs.append(predictions.flatMap { ($0["logits"] as! [NSNumber]).map(\.doubleValue) })
        }
        assertClose(runs[0], reference["logits"]!.float32Values()!, rtol: 0, atol: 1e-5)
        #expect(runs[0] == runs[1])
    }

    @Test func embedPoolsLikeTransformers() throws {
        let (directory, reference, texts, hidden, mask, T, H) = try miniLMReference()
        for pooling in ["mean", "cls", "pooler"] {
            let result = try Bertkit.run(["embed", "--model", directory, "--pooling", pooling, "--json", "--"] + texts)
            #expect(result.status == 0, "\(result.stderr)")
            let vectors = ((try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any])["embeddings"] as! [[NSNumber]])
                .map { $0.map(\.floatValue) }
            var expected: [Float] = []
            for b in 0..<texts.count {
                switch pooling {
                case "cls": expected += hidden[(b * T * H)..<(b * T * H + H)]
                case "pooler": expected += reference["pooler_output"]!.float32Values()![(b * H)..<(b * H + H)]
                default:
                    let tokens = (0..<T).filter { mask[b * T + $0] != 0 }
                    expected += (0..<H).map { i in tokens.reduce(Float(0)) { $0 + hidden[(b * T + $1) * H + i] } / Float(tokens.count) }
                }
            }
            assertClose(vectors.flatMap { $0 }, expected, rtol: 0, atol: 1e-4, pooling)
        }
    }

    /// all-MiniLM-L6-v2 in int8 and bf16: sentence embeddings (mean pooling) against transformers' fp32 ones,
    /// by cosine similarity; and every precision gives the same bits with and without `--pad-batches`.
    @Test(arguments: ["fp32", "int8", "bf16"]) func embedInEachPrecisionPacksExactlyAndStaysClose(precision: String) throws {
        let (directory, _, texts, hidden, mask, T, H) = try miniLMReference()
        let lengths = (0..<texts.count).map { b in (0..<T).filter { mask[b * T + $0] != 0 }.count }
        #expect(Set(lengths).count > 1, "texts of different lengths, so that batches have padding")
        func embed(_ extra: [String]) throws -> (String, [[Float]]) {
            let result = try Bertkit.run(["embed", "--model", directory, "--pooling", "mean", "--json", "--precision", precision]
                                         + extra + ["--"] + texts)
            #expect(result.status == 0, "\(result.stderr)")
            let vectors = ((try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any])["embeddings"] as! [[NSNumber]])
            return (result.stdout, vectors.map { $0.map(\.floatValue) })
        }
        let (packedText, vectors) = try embed([])
        let (paddedText, _) = try embed(["--pad-batches"])
        #expect(packedText == paddedText, "\(precision): packed and padded batches give the same output")
        for b in 0..<texts.count {
            let tokens = (0..<T).filter { mask[b * T + $0] != 0 }
            let expected = (0..<H).map { i in tokens.reduce(Float(0)) { $0 + hidden[(b * T + $1) * H + i] } / Float(tokens.count) }
            let dot = zip(vectors[b], expected).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            let norms = vectors[b].reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() * expected.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            // fp32 matches to float rounding; int8 and bf16 keep the embeddings' directions (measured here on
            // 2026-12-02: lowest cosine 0.9984 in int8, 0.99998 in bf16).
            #expect(dot / norms >= (precision == "fp32" ? 0.999999 : 0.995), "\(precision) text \(b): cosine \(dot / norms)")
        }
    }

    @Test func fillMaskRanksLikeTheTransformersPipeline() throws {
        let directory = Fixtures.path("bert/tiny-mlm")
        let answers = try Fixtures.json("bert/tiny-mlm/fill_mask.json") as! [String: [[String: Any]]]
        for (text, expected) in answers {
            let result = try Bertkit.run(["fill-mask", "--model", directory, "--top-k", "5", "--json", text])
            #expect(result.status == 0, "\(result.stderr)")
            let masks = (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any])["masks"] as! [[[String: Any]]]
            let candidates = masks[0]
            #expect(candidates.map { $0["id"] as! Int } == expected.map { $0["id"] as! Int }, "\(text)")
            assertClose(candidates.map { $0["score"] as! Double }, expected.map { $0["score"] as! Double }, rtol: 1e-4, atol: 1e-6, text)
        }
    }

    @Test func headMismatchesAreErrors() throws {
        let wrong = try Bertkit.run(["fill-mask", "--model", Fixtures.path("bert/tiny-seqcls"), "the [MASK]"])
        #expect(wrong.status == 1 && wrong.stderr.hasPrefix("error: ") && wrong.stderr.contains("masked-lm"), "\(wrong.stderr)")
        let noMask = try Bertkit.run(["fill-mask", "--model", Fixtures.path("bert/tiny-mlm"), "no mask here"])
        #expect(noMask.status == 1 && noMask.stderr.contains("[MASK]"), "\(noMask.stderr)")
        let predict = try Bertkit.run(["predict", "--model", Fixtures.path("bert/tiny-base"), "--head", "base", "--", "text"])
        #expect(predict.status == 1 && predict.stderr.contains("sequence-classification"), "\(predict.stderr)")
    }
}
