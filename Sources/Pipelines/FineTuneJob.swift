// `bertkit finetune` as a library call: read and check the data (every problem reported with file and
// line before training starts), settle the labels, load the model with a fresh head, tokenize, train,
// and export a directory that transformers (or PEFT, for LoRA) loads unchanged.

import TensorCore
import Safetensors
import Checkpoints
import Tokenizer
import Bert
import Training

public struct FineTuneSettings: Sendable {
    public var model: String
    public var train: String
    public var eval: String?
    public var output: String
    public var head: BertHead = .sequenceClassification
    public var columns = ColumnNames()
    public var labels: [String]? = nil
    public var problemType: ProblemType? = nil
    public var maxLength = 128
    public var maxTrainExamples: Int? = nil
    public var maxEvalExamples: Int? = nil
    public var training = TrainingOptions()
    public var resume = false
    /// Extra weight files beside model.safetensors: pytorch_model.bin, tf_model.h5.
    public var saveFormats: [CheckpointFormat.Family] = []
    /// Train a LoRA adapter instead of every weight.
    public var lora: LoRAConfig? = nil
    /// Start from (and keep training) an existing PEFT adapter.
    public var adapter: String? = nil
    /// Train even when no encoder weight of the checkpoint loads (a fresh, randomly initialised encoder).
    public var allowRandomInit = false

    public init(model: String, train: String, output: String) {
        self.model = model
        self.train = train
        self.output = output
    }
}

public struct FineTuneResult: Sendable {
    public var summary: TrainingSummary
    public var labels: LabelSet
    public var trainExamples: Int
    public var evalExamples: Int
    public var loadReport: LoadReportText
    public var outputFiles: [String]
}

public enum FineTuneError: Error, CustomStringConvertible {
    case unsupportedTask(String)
    case loraNeedsPEFTTask(String)
    case adapterLabelMismatch(adapter: String, outputs: Int, labels: [String])

    public var description: String {
        switch self {
        case .adapterLabelMismatch(let adapter, let outputs, let labels):
            return "the adapter \(adapter) has a classifier with \(outputs) outputs, but the data has \(labels.count) labels "
                + "(\(labels.joined(separator: ", "))); give --labels with the adapter's \(outputs) labels in its order"
        case .unsupportedTask(let task): return "fine-tuning for \(task) is not supported; use sequence-classification"
        case .loraNeedsPEFTTask(let reason): return reason
        }
    }
}

public enum FineTuneJob {
    /// Reads, checks, tokenizes, trains and exports. `onEvent` receives the trainer's progress.
    public static func run(_ s: FineTuneSettings, onEvent: @escaping (TrainingEvent) -> Void = { _ in }) throws -> FineTuneResult {
        guard s.head == .sequenceClassification else { throw FineTuneError.unsupportedTask(s.head.rawValue) }
        let directory = try ModelDirectory.resolve(s.model)
        // 0. The model's type and config first: another architecture is refused before data or weights are read.
        let baseConfig = try PretrainedBert.readConfig(directory: directory)
        let tokenizer = try BertTokenizer.load(directory: directory)

        // 1. Data, fully checked before anything heavy happens.
        var trainRows = try DatasetReader.read(path: s.train, columns: s.columns)
        var evalRows = try s.eval.map { try DatasetReader.read(path: $0, columns: s.columns) } ?? []
        if let n = s.maxTrainExamples { trainRows = Shuffle.sample(trainRows, n, seed: SeedStream.trainSample.seed(s.training.seed)) }
        if let n = s.maxEvalExamples { evalRows = Shuffle.sample(evalRows, n, seed: SeedStream.evalSample.seed(s.training.seed)) }
        let labelSet = try withFileContext(s.train) {
            try LabelSet.resolve(examples: trainRows, config: baseConfig, explicit: s.labels, problemType: s.problemType)
        }
        let train = try encode(trainRows, file: s.train, labels: labelSet, tokenizer: tokenizer, maxLength: s.maxLength)
        let eval = try s.eval.map { try encode(evalRows, file: $0, labels: labelSet, tokenizer: tokenizer, maxLength: s.maxLength) } ?? []

        // 2. The model: the checkpoint's encoder, a classifier sized for these labels.
        var loaded: PretrainedBert
        if let adapter = s.adapter {
            loaded = try PretrainedBert.load(directory, head: s.head, adapter: adapter, allowRandomInit: s.allowRandomInit)
            // A continued adapter keeps its classifier: the labels must fit it before any step is taken.
            guard loaded.model.config.numLabels == labelSet.count else {
                throw FineTuneError.adapterLabelMismatch(adapter: adapter, outputs: loaded.model.config.numLabels, labels: labelSet.names)
            }
        } else {
            loaded = try PretrainedBert.load(directory, head: s.head, configOverride: { config in
                config.id2label = labelSet.names
                config.problemType = labelSet.problemType
            }, seed: SeedStream.newHead.seed(s.training.seed), reinitialiseMismatched: true, allowRandomInit: s.allowRandomInit)
        }
        var adapters = loaded.adapters
        if adapters == nil, var lora = s.lora {
            lora.modulesToSave = PEFTAdapterConfig.defaultModulesToSave(for: s.head)
            let fresh = try LoRAAdapters(model: loaded.model, config: lora)
            fresh.initialise(seed: SeedStream.adapters.seed(s.training.seed))
            adapters = fresh
        }
        let model = loaded.model

        // 3. Train, exporting checkpoints and the result as loadable directories (a PEFT adapter folder for
        //    LoRA, with bertkit's config.json beside it for the label names; PEFT ignores the extra file).
        let export: (BertModel, String) throws -> Void = { model, folder in
            if let adapters {
                try PEFTAdapter.write(adapters, model: model, baseModel: s.model, folder: folder)
                try AtomicFileWriter.write(model.config.jsonText(architecture: model.head.architecture), to: folder + "/config.json")
                try ModelExport.copyTokenizerFiles(from: directory, to: folder)
            } else {
                try ModelExport.write(model, to: folder, tokenizerFrom: directory, extraFormats: folder == s.output ? s.saveFormats : [])
            }
        }
        let trainer = Trainer(model: model, options: s.training, train: train, eval: eval, problemType: labelSet.problemType,
                              outputDirectory: s.output, adapters: adapters, exportModel: export)
        trainer.onEvent = onEvent
        let summary = try trainer.run(resume: s.resume)
        return FineTuneResult(summary: summary, labels: labelSet, trainExamples: train.count, evalExamples: eval.count,
                              loadReport: loaded.loadReport, outputFiles: listFiles(s.output))
    }

    /// Tokenizes labelled rows; a label outside the set is an error naming the file and line.
    public static func encode(_ rows: [TextExample], file: String, labels: LabelSet, tokenizer: BertTokenizer, maxLength: Int) throws -> [EncodedExample] {
        let options = EncodeOptions(truncation: Truncation(maxLength: maxLength))
        var examples: [EncodedExample] = []
        examples.reserveCapacity(rows.count)
        for row in rows {
            let encoding = try withFileContext(file) {
                do { return try tokenizer.encode(row.text, pair: row.pair, options: options) }
                catch { throw DatasetError.badCSV(line: row.line, reason: "\(error)") }
            }
            let target: TrainingTarget
            guard let raw = row.label else { throw FileError(path: file, cause: DatasetError.missingField(line: row.line, column: "label")) }
            switch labels.problemType {
            case .singleLabelClassification:
                target = .classIndex(try withFileContext(file) { try labels.classIndex(raw, line: row.line) })
            case .regression, .multiLabelClassification:
                target = .values(try withFileContext(file) { try labels.targets(raw, line: row.line) })
            }
            examples.append(EncodedExample(ids: encoding.ids, typeIds: encoding.typeIDs, target: target, line: row.line))
        }
        return examples
    }

    static func listFiles(_ folder: String) -> [String] { listDirectory(folder) }
}
