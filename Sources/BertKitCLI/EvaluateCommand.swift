// `bertkit evaluate`: loss, accuracy, macro-F1 and the confusion matrix of a classifier on labelled data.

import ArgumentParser
import BertKit
import Foundation

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "evaluate", abstract: "Evaluate a sequence classifier on labelled data.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Labelled data: .csv, .tsv or .jsonl.") var data: String
    @Option(help: "Tokens per example.") var maxLength = 128
    @Option(help: "Examples per batch.") var batchSize = 32
    @Option(help: "Text column.") var textColumn = "text"
    @Option(help: "Second text column, for pairs.") var pairColumn: String?
    @Option(help: "Label column.") var labelColumn = "label"
    @Flag(help: "Print {\"loss\", \"accuracy\", \"f1\", \"n\", \"confusion\", \"labels\"}.") var json = false

    func run() throws {
        let loaded = try modelOptions.load(quiet: json)
        guard loaded.model.head == .sequenceClassification else {
            throw InferenceError.wrongHead(command: "evaluate", head: loaded.model.head.rawValue, needed: "sequence-classification")
        }
        let rows = try DatasetReader.read(path: data, columns: ColumnNames(text: textColumn, pair: pairColumn, label: labelColumn))
        let config = loaded.model.config
        let problemType = config.problemType ?? LabelSet.inferredProblemType(numLabels: config.numLabels, labels: rows.compactMap(\.label))
        let labels = LabelSet(names: config.id2label, problemType: problemType)
        let examples = try FineTuneJob.encode(rows, file: data, labels: labels, tokenizer: try loaded.tokenizer(), maxLength: maxLength)
        let result = try Trainer.evaluate(model: loaded.model, adapters: loaded.adapters, examples: examples, batchSize: batchSize,
                                          problemType: labels.problemType)
        // Plain locals: Swift 6.3's optimiser crashes on optional chains through `result` here.
        let accuracy: Double? = result.accuracy, f1: Double? = result.f1
        let confusion: [[Int]]? = result.metrics?.confusion
        if json {
            var object = JSONObject([("loss", .double(result.loss)), ("n", .int(result.count))])
            object.set("accuracy", accuracy.map { .double($0) } ?? .null)
            object.set("f1", f1.map { .double($0) } ?? .null)
            if let confusion {
                object.set("labels", .array(labels.names.map { .string($0) }))
                object.set("confusion", .array(confusion.map { .array($0.map { .int($0) }) }))
            }
            Console.out(JSONWriter.pretty(.object(object), sortKeys: false, ensureASCII: false))
            return
        }
        Console.out("examples: \(result.count)")
        Console.out(String(format: "loss: %.4f", result.loss))
        if let accuracy { Console.out(String(format: "accuracy: %.4f", accuracy)) }
        if let f1 { Console.out(String(format: "macro-F1: %.4f", f1)) }
        if let confusion {
            Console.out("confusion matrix (rows: truth, columns: prediction):")
            var rows = [[""] + labels.names]
            for (i, name) in labels.names.enumerated() { rows.append([name] + confusion[i].map(String.init)) }
            Console.out(Console.table(rows, rightAligned: Set(1...labels.count)))
        }
    }
}

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "merge",
                                                    abstract: "Fold a LoRA adapter into its base model (W + s·B·A), as PEFT's merge_and_unload.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Output model directory.") var output: String
    @Option(help: "Also write pytorch_model.bin (pytorch) or tf_model.h5 (hdf5).") var saveFormat: [String] = []

    func validate() throws {
        guard modelOptions.adapter != nil else { throw ValidationError("merge needs --adapter") }
        for format in saveFormat where !["pytorch", "hdf5"].contains(format) { throw ValidationError("--save-format must be pytorch or hdf5") }
    }

    func run() throws {
        let loaded = try modelOptions.load()
        loaded.adapters!.merge(into: loaded.model)
        try ModelExport.write(loaded.model, to: output, tokenizerFrom: loaded.directory,
                              extraFormats: saveFormat.compactMap(CheckpointFormat.Family.init(rawValue:)))
        Console.info("wrote \(output) (\(loaded.adapters!.modules.count) adapted layers merged)")
    }
}
