// `bertkit finetune` as a library call: read and check the data (every problem reported with file and
// line before training starts), settle the labels, load the model with a fresh head, tokenize, train,
// and export a directory that transformers (or PEFT, for LoRA) loads unchanged.

import TensorCore
import Safetensors
import Checkpoints
import Tokenizer
import Bert
import Training
import Tasks

package struct FineTuneSettings: Sendable {
    package var model: String
    package var train: String
    package var eval: String?
    package var output: String
    package var task: TaskName = .sequenceClassification
    /// How the task reads and scores its data (columns, windows, masking …).
    package var taskOptions = TaskOptions()
    package var labels: [String]? = nil
    package var maxLength = 128
    package var maxTrainExamples: Int? = nil
    package var maxEvalExamples: Int? = nil
    package var training = TrainingOptions()
    package var resume = false
    /// Extra weight files beside model.safetensors: pytorch_model.bin, tf_model.h5.
    package var saveFormats: [CheckpointFormat.Family] = []
    /// Train a LoRA adapter instead of every weight.
    package var lora: LoRAConfig? = nil
    /// Start from (and keep training) an existing PEFT adapter.
    package var adapter: String? = nil
    /// Train even when no encoder weight of the checkpoint loads (a fresh, randomly initialised encoder).
    package var allowRandomInit = false
    /// The ranks of a data-parallel run (`ProcessGroup.fromEnvironment()` under mpirun); rank 0 alone writes files.
    package var group: ProcessGroup = .single

    package init(model: String, train: String, output: String) {
        self.model = model
        self.train = train
        self.output = output
    }
}

package struct FineTuneResult: Sendable {
    package var summary: TrainingSummary
    package var labels: LabelSet
    /// Training examples after sampling (sentences or texts, before any were split into windows).
    package var trainExamples: Int
    package var evalExamples: Int
    /// What encoding had to do (long sentences split into windows, …).
    package var notes: [String]
    package var loadReport: LoadReportText
    package var outputFiles: [String]
}

package enum FineTuneError: Error, CustomStringConvertible {
    case unsupportedTask(String)
    case loraWithoutMaskedLMHead(model: String, head: [String])
    case adapterLabelMismatch(adapter: String, outputs: Int, labels: [String])

    package var description: String {
        switch self {
        case .adapterLabelMismatch(let adapter, let outputs, let labels):
            return "the adapter \(adapter) has a classifier with \(outputs) outputs, but the data has \(labels.count) labels "
                + "(\(labels.joined(separator: ", "))); give --labels with the adapter's \(outputs) labels in its order"
        case .unsupportedTask(let task):
            return "fine-tuning for \(task) is not supported (tasks: \(TaskName.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .loraWithoutMaskedLMHead(let model, let head):
            return "\(model) has no masked-LM head (\(NameGroups.summarise(head).joined(separator: ", "))), and LoRA trains only its adapters: the head would "
                + "stay at its random initialisation. Adapt with full fine-tuning (no --lora-r), or start from a checkpoint that has the head"
        }
    }
}

package enum FineTuneJob {
    /// The task a settings value names, configured from it.
    static func task(_ s: FineTuneSettings) -> any FineTuningTask {
        s.taskOptions.task(s.task, seed: s.training.seed)
    }

    /// The task when `--task` is not given: the model's when its head is a task's (config.json's `architectures`); else
    /// question answering for SQuAD data, token classification for a CoNLL column file, sequence classification otherwise.
    package static func inferTask(model: String, train: String) throws -> TaskName {
        let directory = try ModelDirectory.resolve(model)
        let config = try PretrainedBert.readConfig(directory: directory)
        // A masked LM is where domain adaptation ends, not a sign of the next task: only classifiers and QA models decide.
        if let head = config.architectures.compactMap({ ModelFamily.head(ofArchitecture: $0)?.head }).first, head != .maskedLM,
           let task = TaskName(head: head) { return task }
        if looksLikeSQuAD(train) { return .questionAnswering }
        return looksTagged(train) ? .tokenClassification : .sequenceClassification
    }

    /// A data file that is neither CSV/TSV nor JSON lines is read as CoNLL columns.
    package static func looksTagged(_ path: String) -> Bool {
        DatasetReader.format(of: path) == nil
    }

    /// SQuAD data: JSON whose `data` holds articles with paragraphs, or records with a question, a context and answers.
    package static func looksLikeSQuAD(_ path: String) -> Bool {
        guard DatasetReader.format(of: path) == .jsonl, let bytes = try? readFileBytes(path), let text = String(validating: bytes, as: UTF8.self)
        else { return false }
        let head = text.prefix(65536)
        return head.contains("\"paragraphs\"") || (head.contains("\"question\"") && head.contains("\"context\"") && head.contains("\"answers\""))
    }

    /// Reads, checks, tokenizes, trains and exports. `onEvent` receives the trainer's progress.
    package static func run(_ s: FineTuneSettings, onEvent: @escaping (TrainingEvent) -> Void = { _ in }) throws -> FineTuneResult {
        try run(task(s), s, onEvent: onEvent)
    }

    static func run<Task: FineTuningTask>(_ task: Task, _ s: FineTuneSettings, onEvent: @escaping (TrainingEvent) -> Void) throws -> FineTuneResult {
        let head = task.head
        let directory = try ModelDirectory.resolve(s.model)
        // 0. The model's type and config first: another architecture is refused before data or weights are read.
        let baseConfig = try PretrainedBert.readConfig(directory: directory)
        let tokenizer = try AutoTokenizer.load(directory: directory)

        // 1. Data, fully checked before anything heavy happens.
        var trainRows = try task.read(s.train)
        var evalRows = try s.eval.map { try task.read($0) } ?? []
        if let n = s.maxTrainExamples { trainRows = Shuffle.sample(trainRows, n, seed: SeedStream.trainSample.seed(s.training.seed)) }
        if let n = s.maxEvalExamples { evalRows = Shuffle.sample(evalRows, n, seed: SeedStream.evalSample.seed(s.training.seed)) }
        let labelSet = try task.labels(train: trainRows, file: s.train, config: baseConfig, explicit: s.labels)
        let train = try task.encode(trainRows, file: s.train, labels: labelSet, tokenizer: tokenizer, maxLength: s.maxLength)
        let eval = try s.eval.map { try task.encode(evalRows, file: $0, labels: labelSet, tokenizer: tokenizer, maxLength: s.maxLength) }

        // 2. The model: the checkpoint's encoder, a head sized for these labels.
        var loaded: PretrainedBert
        if let adapter = s.adapter {
            loaded = try PretrainedBert.load(directory, head: head, adapter: adapter, allowRandomInit: s.allowRandomInit)
            // A continued adapter keeps its classifier: the labels must fit it before any step is taken.
            guard loaded.model.config.numLabels == labelSet.count else {
                throw FineTuneError.adapterLabelMismatch(adapter: adapter, outputs: loaded.model.config.numLabels, labels: labelSet.names)
            }
        } else {
            loaded = try PretrainedBert.load(directory, head: head, configOverride: { config in task.configure(&config, labels: labelSet) },
                                             seed: SeedStream.newHead.seed(s.training.seed), reinitialiseMismatched: true,
                                             allowRandomInit: s.allowRandomInit)
        }
        var adapters = loaded.adapters
        if adapters == nil, var lora = s.lora {
            // PEFT trains nothing of a masked-LM model but the adapters (no modules_to_save for its task types), so a
            // head that loading had to create would never learn; refuse rather than train adapters against noise.
            let newHead = loaded.report.missing.filter { $0.hasPrefix("cls.") }
            if head == .maskedLM && !newHead.isEmpty { throw FineTuneError.loraWithoutMaskedLMHead(model: s.model, head: newHead) }
            lora.modulesToSave = PEFTAdapterConfig.defaultModulesToSave(for: head)
            let fresh = try LoRAAdapters(model: loaded.model, config: lora)
            fresh.initialise(seed: SeedStream.adapters.seed(s.training.seed))
            adapters = fresh
        }
        let model = loaded.model

        // 3. Train, exporting checkpoints and the result as loadable directories (a PEFT adapter folder for
        //    LoRA, with bertkit's config.json beside it for the label names; PEFT ignores the extra file).
        // A tokenizer that encoded pre-split words is saved to encode text the same way (as run_ner.py saves it).
        let export: (BertModel, String) throws -> Void = { model, folder in
            if let adapters {
                try PEFTAdapter.write(adapters, model: model, baseModel: s.model, folder: folder)
                try AtomicFileWriter.write(model.config.jsonText(architecture: model.architecture), to: folder + "/config.json")
                try ModelExport.copyTokenizerFiles(from: directory, to: folder)
            } else {
                try ModelExport.write(model, to: folder, tokenizerFrom: directory, extraFormats: folder == s.output ? s.saveFormats : [])
            }
            if task.encodesPreSplitWords { try tokenizer.saveWordEncoding(inTokenizerFilesOf: folder) }
        }
        let trainer = Trainer(model: model, options: s.training, train: train.examples, eval: eval?.examples ?? [],
                              task: task.training(labels: labelSet, train: train, eval: eval), outputDirectory: s.output, adapters: adapters, exportModel: export)
        trainer.onEvent = onEvent
        trainer.group = s.group
        let summary = try trainer.run(resume: s.resume)
        if s.group.isLeader {
            let svg = TrainingCurves.svg(history: summary.state.logHistory, title: "\(model.architecture) fine-tuning")
            try AtomicFileWriter.write(svg, to: s.output + "/training_curves.svg")
        }
        return FineTuneResult(summary: summary, labels: labelSet, trainExamples: train.sourceCount, evalExamples: eval?.sourceCount ?? 0,
                              notes: train.notes + (eval?.notes ?? []), loadReport: loaded.loadReport, outputFiles: listFiles(s.output))
    }

    static func listFiles(_ folder: String) -> [String] { listDirectory(folder) }
}
