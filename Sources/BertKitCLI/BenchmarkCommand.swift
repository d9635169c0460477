// `bertkit benchmark`: how fast this machine runs the model (and OpenBLAS alone), as JSON lines.

import ArgumentParser
import BertKitInternals

struct BenchmarkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "benchmark",
        abstract: "Time the forward pass on random tokens, a training step, opening a checkpoint, or the raw sgemm rate.",
        subcommands: [Forward.self, Text.self, TrainStep.self, Touch.self, Sgemm.self])

    /// Open a checkpoint and CRC-32 every tensor's bytes, timed inside the process — what the Python side of
    /// the codec benchmarks times (imports and interpreter start-up excluded there, process start-up here).
    struct Touch: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open a checkpoint file and read every tensor's bytes.")
        @Argument(help: "A checkpoint file (safetensors, PyTorch, HDF5).") var path: String
        @OptionGroup var threading: ThreadOptions

        func run() throws {
            try threading.apply()
            let start = Benchmarks.now()
            let loaded = try CheckpointReader.load(path: path)
            let crcs = CRC32.checksums(of: loaded.store.entries.map(\.tensor))
            let seconds = Benchmarks.now() - start
            Console.out(JSONWriter.compact(.object(JSONObject([
                ("seconds", .double(seconds)), ("tensors", .int(crcs.count)),
                ("bytes", .int(loaded.store.entries.reduce(0) { $0 + $1.tensor.byteCount }))]))))
        }
    }

    struct Forward: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Forward passes of a model on random tokens.")
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var precisionOptions: InferenceOptions
        @Option(help: "Batch size.") var batch = 8
        @Option(help: "Sequence length.") var sequence = 128
        @Option(help: "Timed iterations (after one warm-up).") var iterations = 10

        func validate() throws { try validateSizes(batch: batch, sequence: sequence, iterations: iterations) }

        func run() throws {
            let start = Benchmarks.now()
            let loaded = try modelOptions.loadInternal(quiet: true, precision: precisionOptions.precision)
            let loadSeconds = Benchmarks.now() - start
            let timing = try Benchmarks.forward(model: loaded.model, batch: batch, sequence: sequence, iterations: iterations)
            Console.out(JSONWriter.compact(.object(JSONObject([
                ("load_seconds", .double(loadSeconds)), ("batch", .int(batch)), ("sequence", .int(sequence)),
                ("median_seconds", .double(timing.median)), ("gflops_per_second", .double(timing.gflopsPerSecond)),
                ("seconds", .array(timing.seconds.map { .double($0) })), ("threads", .int(Parallel.threadCount)),
                ("precision", .string(precisionOptions.precision.rawValue))]))))
        }
    }

    struct Text: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a file of texts (one per line) through the model as `predict --file` does, and time it.")
        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var precisionOptions: InferenceOptions
        @OptionGroup var batchOptions: BatchOptions
        @Option(help: "The texts, one per line.") var file: String
        @Option(help: "Texts per forward pass (each batch padded to its longest text).") var batchSize = 32
        @Option(help: "Truncate texts to this many tokens.") var maxLength: Int?

        func validate() throws { if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") } }

        func run() throws {
            let start = Benchmarks.now()
            let loaded = try modelOptions.loadInternal(quiet: true, precision: precisionOptions.precision)
            let loadSeconds = Benchmarks.now() - start
            let inference = try batchOptions.textInference(loaded, maxLength: maxLength)
            inference.batchSize = batchSize
            let texts = try TextLines.read(file, skippingEmpty: true)
            let timing = try Benchmarks.text(inference, texts: texts)
            Console.out(JSONWriter.compact(.object(JSONObject([
                ("load_seconds", .double(loadSeconds)), ("seconds", .double(timing.seconds)), ("texts", .int(texts.count)),
                ("tokens", .int(timing.tokens)), ("precision", .string(precisionOptions.precision.rawValue)),
                ("threads", .int(Parallel.threadCount))]))))
        }
    }

    struct TrainStep: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "train-step",
                                                        abstract: "Training steps (forward, backward, AdamW) on random tokens.")
        @OptionGroup var modelOptions: ModelOptions
        @Option(help: "Batch size.") var batch = 16
        @Option(help: "Sequence length.") var sequence = 128
        @Option(help: "Timed iterations (after one warm-up).") var iterations = 3
        @Option(help: "Train LoRA adapters of this rank on query,value instead of every parameter.") var loraR: Int?
        @Option(help: "Number format of the encoder's products: fp32 or bf16 (mixed precision, as finetune --precision).")
        var precision: Precision = .fp32

        func validate() throws {
            if let refusal = TrainingOptions.refusal(ofPrecision: precision) { throw ValidationError("--precision: " + refusal) }
            try validateSizes(batch: batch, sequence: sequence, iterations: iterations)
        }

        func run() throws {
            try modelOptions.threading.apply()
            // Under mpirun: one data-parallel step over the ranks (each its share of --batch); rank 0 prints.
            let group = try ProcessGroup.fromEnvironment()
            try runAsRank(group.launched) { try step(group: group) }
        }

        func step(group: ProcessGroup) throws {
            let start = Benchmarks.now()
            let loaded = try PretrainedBert.load(modelOptions.model, head: .sequenceClassification,
                                                 allowRandomInit: modelOptions.allowRandomInit)
            let loadSeconds = Benchmarks.now() - start
            var adapters: LoRAAdapters? = nil
            if let loraR {
                var config = LoRAConfig()
                config.rank = loraR
                config.alpha = Float(loraR)
                adapters = try LoRAAdapters(model: loaded.model, config: config)
                adapters!.initialise(seed: 1)
            }
            let timing = try Benchmarks.trainingStep(model: loaded.model, adapters: adapters, batch: batch, sequence: sequence,
                                                     iterations: iterations, group: group, precision: precision)
            guard group.isLeader else { return }
            let communication = timing.communicationSeconds.sorted()
            Console.out(JSONWriter.compact(.object(JSONObject([
                ("ranks", .int(group.size)),
                ("allreduce_seconds", communication.isEmpty ? .double(0) : .double(communication[communication.count / 2])),
                ("load_seconds", .double(loadSeconds)), ("batch", .int(batch)), ("sequence", .int(sequence)),
                ("lora_r", loraR.map { .int($0) } ?? nil), ("precision", .string(precision.rawValue)),
                ("median_seconds", .double(timing.median)), ("gflops_per_second", .double(timing.gflopsPerSecond)),
                ("seconds", .array(timing.seconds.map { .double($0) })), ("threads", .int(Parallel.threadCount))]))))
        }
    }

    struct Sgemm: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "GFLOP/s of an n×n×n cblas_sgemm.")
        @Option(help: "Matrix size.") var size = 2048
        @Option(help: "Timed iterations.") var iterations = 10
        @OptionGroup var threading: ThreadOptions

        func run() throws {
            try threading.apply()
            let rate = Benchmarks.sgemmRate(size: size, iterations: iterations)
            Console.out(JSONWriter.compact(.object(JSONObject([("size", .int(size)), ("gflops_per_second", .double(rate)),
                                                               ("threads", .int(Parallel.threadCount)),
                                                               ("openblas_core", .string(BLAS.coreName))]))))
        }
    }
}

/// The benchmarks' shared rule for their sizes (a zero would leave nothing to time).
private func validateSizes(batch: Int, sequence: Int, iterations: Int) throws {
    guard batch > 0, sequence > 0, iterations > 0 else { throw ValidationError("--batch, --sequence and --iterations must be positive") }
}
