// BertKit's public API (issue 21) as a user calls it — this file imports BertKit and nothing of the implementation —
// against transformers' own outputs: the pipelines' goldens made by Tools/fixtures (NER, question answering, fill-mask)
// and make_reference.py's reference outputs (parity). The mapping from the implementation's values to the public ones
// is what is under test here; the numerics have their own suites.

import BertKit
import Foundation
import Testing
import TestSupport

@Suite struct PublicAPITests {
    static func json(_ relative: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path(relative)))) as! [String: Any]
    }

    @Test func classifyGivesTheArgmaxAndItsSoftmaxProbability() throws {
        let model = try PretrainedModel(Fixtures.path("bert/tiny-seqcls"))
        #expect(model.info.head == .sequenceClassification)
        #expect(model.info.architecture == "BertForSequenceClassification")
        #expect(model.info.weightsFormat == .safetensors)
        let results = try model.classify(["a gripping, funny film", "a dull and lifeless plot"])
        #expect(results.map(\.text) == ["a gripping, funny film", "a dull and lifeless plot"])
        for result in results {
            #expect(result.scores.map(\.label) == model.info.labels)
            let best = result.logits.indices.max { result.logits[$0] < result.logits[$1] }!
            #expect(result.label == model.info.labels[best])
            let top = Double(result.logits.max()!)
            let total = result.logits.map { exp(Double($0) - top) }.reduce(0, +)
            #expect(abs(result.score - 1 / total) < 1e-9, "score \(result.score) is not softmax(logits)[argmax]")
        }
    }

    @Test func parityWithTransformersThroughThePublicAPI() throws {
        for name in ["tiny-seqcls", "tiny-tokcls", "tiny-qa", "tiny-mlm"] {
            let model = try PretrainedModel(Fixtures.path("bert/" + name))
            let report = try model.checkParity(reference: Fixtures.path("bert/\(name)/reference.safetensors"))
            #expect(report.passed, "\(name): \(report.outputs)")
            #expect(!report.outputs.isEmpty)
            // A tolerance no float computation meets: the report must then fail (the check can fail).
            let strict = try model.checkParity(reference: Fixtures.path("bert/\(name)/reference.safetensors"), absoluteTolerance: 0)
            #expect(strict.outputs.contains { $0.maxAbsoluteDifference > 0 } ? !strict.passed : strict.passed)
        }
    }

    @Test func entitiesAsTheTokenClassificationPipeline() throws {
        let golden = try Self.json("ner/pipeline.json")
        let model = try PretrainedModel(Fixtures.path("ner/tiny-ner"))
        var compared = 0
        // Texts the pipeline truncated at the model's 64 positions are left out (BertKit windows them instead; the CLI's
        // tests compare their first halves).
        for case let text as [String: Any] in golden["texts"] as! [Any] where (text["input_ids"] as! [Int]).count < 64 {
            compared += 1
            let entities = text["entities"] as! [String: [[String: Any]]]
            for (strategy, expected) in entities {
                let aggregation = try #require(EntityAggregation(rawValue: strategy))
                let got = try model.tagEntities([text["text"] as! String], aggregation: aggregation)[0]
                #expect(got.count == expected.count, "\(strategy): \(got) vs \(expected)")
                for (entity, want) in zip(got, expected) {
                    #expect(entity.label == (want["entity_group"] ?? want["entity"]) as! String)
                    #expect(entity.word == want["word"] as! String)
                    #expect(entity.start == want["start"] as! Int && entity.end == want["end"] as! Int)
                    #expect(entity.tokenIndex == want["index"] as? Int)
                    #expect(abs(Double(entity.score) - (want["score"] as! Double)) < 1e-5)
                }
            }
        }
        #expect(compared >= 6)
    }

    @Test func answersAsTheQuestionAnsweringPipeline() throws {
        let golden = try Self.json("qa/pipeline/pipeline.json")
        let model = try PretrainedModel(Fixtures.path("qa/pipeline/tiny-qa-model"))
        var compared = 0
        for case let item as [String: Any] in golden["cases"] as! [Any] {
            for case let run as [String: Any] in item["runs"] as! [Any] {
                var options = AnswerOptions()
                options.topK = run["top_k"] as! Int
                options.maxAnswerLength = run["max_answer_len"] as! Int
                options.handleImpossibleAnswer = run["handle_impossible_answer"] as! Bool
                options.maxLength = item["max_seq_len"] as? Int
                options.docStride = item["doc_stride"] as? Int
                let got = try model.answer(item["question"] as! String, context: item["context"] as! String, options: options)
                let expected = run["answers"] as! [[String: Any]]
                #expect(got.map(\.text) == expected.map { $0["answer"] as! String })
                #expect(got.map(\.start) == expected.map { $0["start"] as! Int })
                for (answer, want) in zip(got, expected) { #expect(abs(answer.score - (want["score"] as! Double)) < 1e-4) }
                compared += 1
            }
        }
        #expect(compared >= 8)
    }

    @Test func fillMaskAsTheFillMaskPipeline() throws {
        let golden = try Self.json("bert/tiny-mlm/fill_mask.json")
        let model = try PretrainedModel(Fixtures.path("bert/tiny-mlm"))
        for (text, candidates) in golden {
            let expected = candidates as! [[String: Any]]
            let got = try model.fillMask(text, topK: expected.count)[0]
            #expect(got.map(\.tokenID) == expected.map { $0["id"] as! Int }, "\(text)")
            #expect(got.map(\.token) == expected.map { $0["token"] as! String })
            for (candidate, want) in zip(got, expected) { #expect(abs(candidate.score - (want["score"] as! Double)) < 1e-5) }
        }
    }

    @Test func tokenizerAsTransformers() throws {
        let golden = try Self.json("ner/pipeline.json")
        let tokenizer = try TextTokenizer(directory: Fixtures.path("ner/tiny-ner"))
        for case let text as [String: Any] in golden["texts"] as! [Any] {
            let encoded = try tokenizer.encode(text["text"] as! String, maxLength: tokenizer.maxLength)   // truncation=True
            #expect(encoded.ids == text["input_ids"] as! [Int])
            #expect(encoded.tokens == text["tokens"] as! [String])
            #expect(encoded.offsets.map { [$0.lowerBound, $0.upperBound] } == text["offset_mapping"] as! [[Int]])
        }
        let truncated = try tokenizer.encode("alice visited paris and bob visited london", maxLength: 4)
        #expect(truncated.ids.count == 4)
    }

    @Test func embeddingsAreUnitVectorsWhenNormalised() throws {
        let model = try PretrainedModel(Fixtures.path("bert/tiny-base"))
        let plain = try model.embed(["alice visited paris", "bob"], pooling: .mean)
        let unit = try model.embed(["alice visited paris", "bob"], pooling: .mean, normalize: true)
        #expect(plain.count == 2 && plain[0].count == model.info.hiddenSize)
        for (p, u) in zip(plain, unit) {
            let norm = p.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
            #expect(abs(unit[0].map { Double($0) * Double($0) }.reduce(0, +) - 1) < 1e-5)
            for (a, b) in zip(p, u) { #expect(abs(Double(a) / norm - Double(b)) < 1e-5) }
        }
    }

    @Test func callsFromManyThreadsGiveTheSequentialResults() async throws {
        let model = try PretrainedModel(Fixtures.path("bert/tiny-seqcls"))
        let texts = (0..<12).map { "text number \($0) with some words" }
        let sequential = try texts.map { try model.classify([$0])[0] }
        let concurrent = try await withThrowingTaskGroup(of: (Int, Classification).self) { group in
            for (i, text) in texts.enumerated() { group.addTask { (i, try model.classify([text])[0]) } }
            var results = [Classification?](repeating: nil, count: texts.count)
            for try await (i, result) in group { results[i] = result }
            return results.map { $0! }
        }
        #expect(concurrent == sequential)
    }

    @Test func errorsAreTypedAndNameTheProblem() throws {
        let missing = "/nonexistent/bertkit-model"
        #expect {
            _ = try PretrainedModel(missing)
        } throws: { error in
            guard case .file(let path, _) = error as? BertKitError else { return false }
            return path.hasPrefix(missing)
        }
        #expect {
            _ = try PretrainedModel(Fixtures.path("foreign/gpt2-lm"))
        } throws: { error in
            guard case .unsupportedModel(let message) = error as? BertKitError else { return false }
            return message.contains("gpt2")
        }
        var options = PretrainedModel.Options()
        options.batchSize = 0
        #expect(throws: BertKitError.invalidArgument("batchSize must be at least 1, not 0")) {
            _ = try PretrainedModel(Fixtures.path("bert/tiny-seqcls"), options: options)
        }
        let classifier = try PretrainedModel(Fixtures.path("bert/tiny-seqcls"))
        #expect {
            _ = try classifier.answer("who?", context: "alice")
        } throws: { error in
            guard case .unsupportedModel(let message) = error as? BertKitError else { return false }
            return message.contains("question-answering")
        }
        #expect(throws: BertKitError.self) { _ = try classifier.fillMask("no mask here") }
        #expect(throws: BertKitError.self) { try Threads.set(0) }
    }

    @Test func inspectAndConvertRoundTrip() throws {
        let folder = TemporaryDirectory()
        let source = Fixtures.path("bert/tiny-seqcls/model.safetensors")
        let checkpoint = try Checkpoint(contentsOf: source)
        #expect(checkpoint.format == .safetensors)
        #expect(checkpoint.tensors.map(\.name) == checkpoint.tensors.map(\.name).sorted())
        let written = try Checkpoint.convert(source, to: folder.file("model.bin"), format: .pytorch)
        #expect(written.files == [folder.file("model.bin")])
        #expect(written.description == "\(checkpoint.tensors.count) tensors, pytorch")
        let copy = try Checkpoint(contentsOf: folder.file("model.bin"))
        #expect(copy.format == .pytorchZip)
        #expect(copy.tensors == checkpoint.tensors)
        var options = ConversionOptions()
        options.dtype = .bf16
        try Checkpoint.convert(source, to: folder.file("half.safetensors"), format: .safetensors, options: options)
        let half = try Checkpoint(contentsOf: folder.file("half.safetensors"))
        #expect(half.tensors.filter { $0.dtype == "F32" }.isEmpty && half.tensors.map(\.shape) == checkpoint.tensors.map(\.shape))
        #expect {
            _ = try Checkpoint(contentsOf: folder.file("absent.safetensors"))
        } throws: { error in
            guard case .file(let path, _) = error as? BertKitError else { return false }
            return path == folder.file("absent.safetensors")
        }
    }

    @Test func fineTuningReportsProgressAsAnAsyncSequence() async throws {
        let folder = TemporaryDirectory()
        let rows = (0..<12).flatMap { ["a wonderful film \($0),pos", "a tedious mess \($0),neg"] }
        try ("text,label\n" + rows.joined(separator: "\n") + "\n").write(toFile: folder.file("train.csv"), atomically: true, encoding: .utf8)
        var job = FineTuning(model: Fixtures.path("bert/tiny-seqcls"), trainFile: folder.file("train.csv"), outputDirectory: folder.file("out"))
        job.evalFile = folder.file("train.csv")
        job.epochs = 2
        job.batchSize = 8
        var steps: [Int] = [], evaluations = 0
        var result: FineTuningResult?
        for try await progress in job.progress() {
            switch progress {
            case .step(let step, let total, _, let loss, _, _): steps.append(step); #expect(total == 6 && loss.isFinite)
            case .evaluated: evaluations += 1
            case .finished(let finished): result = finished
            default: break
            }
        }
        #expect(steps == Array(1...6))
        #expect(evaluations == 2)
        let finished = try #require(result)
        #expect(finished.steps == 6 && finished.evaluations.count == 2 && finished.trainExamples == 24)
        let tuned = try PretrainedModel(folder.file("out"))
        #expect(tuned.info.labels == finished.labels)

        // The same job through the callback, into another folder: the same losses (same seed).
        job.outputDirectory = folder.file("again")
        var losses: [Double] = []
        let again = try job.run { if case .step(_, _, _, let loss, _, _) = $0 { losses.append(loss) } }
        #expect(losses.count == 6 && again.finalEvaluation == finished.finalEvaluation)

        // Bad data: one typed error naming the file.
        try "text,label\n".write(toFile: folder.file("empty.csv"), atomically: true, encoding: .utf8)
        job.trainFile = folder.file("empty.csv")
        await #expect {
            for try await _ in job.progress() {}
        } throws: { error in
            (error as? BertKitError)?.description.contains("empty.csv") ?? false
        }
    }

    @Test func batchEncodingPadsAndCountsAsSingleEncodings() throws {
        let tokenizer = try TextTokenizer(directory: Fixtures.path("ner/tiny-ner"))
        let texts = ["alice visited paris", "bob", "alice visited paris and bob went to london"]
        var options = EncodingOptions()
        options.padding = .longest
        let batch = try tokenizer.encode(texts, options: options, threads: 2)
        let single = try texts.map { try tokenizer.encode($0) }
        #expect(batch.count == 3)
        for (encoded, alone) in zip(batch, single) {
            #expect(encoded.ids.count == single.map(\.ids.count).max()!)
            #expect(Array(encoded.ids.prefix(alone.ids.count)) == alone.ids)
            #expect(encoded.attentionMask.reduce(0, +) == alone.ids.count)
        }
        #expect(batch.statistics.texts == 3 && batch.statistics.tokens == single.map(\.ids.count).reduce(0, +))
        #expect(batch.json(at: 1).hasPrefix("{\"tokens\": [\"[CLS]\", \"bob\", \"[SEP]\""))
        options.truncation = EncodingOptions.Truncation(maxLength: 4)
        #expect(try tokenizer.encode(texts, options: options).statistics.atMaxLength == 2)
        #expect(throws: BertKitError.self) { _ = try tokenizer.encode(texts, pairs: ["one"]) }
    }

    @Test func evaluationReportsTheClassifiersMetrics() throws {
        let folder = TemporaryDirectory()
        let model = try PretrainedModel(Fixtures.path("bert/tiny-seqcls"))
        let texts = ["a wonderful film", "a tedious mess", "a wonderful and moving film", "a boring mess"]
        let predicted = try model.classify(texts).map(\.label)
        // Labelled with the model's own predictions: accuracy 1; then with one label changed: 3 of 4.
        try ("text,label\n" + zip(texts, predicted).map { "\($0),\($1)" }.joined(separator: "\n") + "\n")
            .write(toFile: folder.file("data.csv"), atomically: true, encoding: .utf8)
        let report = try model.evaluate(folder.file("data.csv"))
        #expect(report.task == .sequenceClassification && report.count == 4 && report.loss.isFinite)
        #expect(report.classification?.accuracy == 1)
        let other = model.info.labels.first { $0 != predicted[0] }!
        try ("text,label\n" + zip(texts, [other] + predicted.dropFirst()).map { "\($0),\($1)" }.joined(separator: "\n") + "\n")
            .write(toFile: folder.file("changed.csv"), atomically: true, encoding: .utf8)
        let changed = try model.evaluate(folder.file("changed.csv"))
        #expect(changed.classification?.accuracy == 0.75)
        #expect(changed.classification?.confusion?.joined().reduce(0, +) == 4)
        #expect(changed.entities == nil && changed.questionAnswering == nil && changed.maskedLM == nil)
    }

    @Test func aProcessNotStartedByMPIRunJoinsNoJob() throws {
        #expect(try MPIJob.join() == nil)
    }
}
