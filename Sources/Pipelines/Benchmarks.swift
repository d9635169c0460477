// Timing helpers behind `bertkit benchmark`: the forward pass on random tokens and the raw sgemm rate,
// so a user can see what their machine does and Tools/bench can compare against PyTorch in one run.

import Bert
import Training
import TensorCore
#if canImport(Glibc)
import Glibc
#endif

package struct ForwardTiming: Sendable {
    package let batch: Int, sequence: Int, iterations: Int
    /// Seconds per forward pass: each iteration, and their median.
    package let seconds: [Double]
    package var median: Double { seconds.sorted()[seconds.count / 2] }
    /// Floating-point operations of one forward pass (matrix products only).
    package let flops: Double
    package var gflopsPerSecond: Double { flops / median / 1e9 }
    /// Data-parallel training steps: seconds of each timed step spent in all-reduces (empty on one process).
    package var communicationSeconds: [Double] = []
}

package enum Benchmarks {
    package static func now() -> Double { MonotonicClock.seconds() }

    /// FLOPs of the encoder's matrix products for a [batch, sequence] input (2 per multiply-add).
    package static func encoderFlops(_ c: BertConfig, batch: Int, sequence: Int) -> Double {
        let rows = Double(batch * sequence), H = Double(c.hiddenSize), I = Double(c.intermediateSize)
        let linear = 2 * rows * (4 * H * H + 2 * H * I)
        let attention = 4 * Double(batch) * Double(sequence) * Double(sequence) * H
        return Double(c.numHiddenLayers) * (linear + attention)
    }

    /// Runs the forward pass `iterations` times (after one warm-up) on random in-vocabulary tokens.
    package static func forward(model: BertModel, batch: Int, sequence: Int, iterations: Int, seed: UInt64 = 1) throws -> ForwardTiming {
        var generator = NormalGenerator(seed: seed)
        let ids = (0..<batch).map { _ in (0..<sequence).map { _ in Int(generator.nextUInt64() % UInt64(model.config.vocabSize)) } }
        let tokens = try TokenBatch(inputIds: ids)
        let ws = BertWorkspace(config: model.config, head: model.head, batch: batch, sequence: sequence, keepsEveryLayer: false)
        model.forward(tokens, workspace: ws)
        var seconds: [Double] = []
        for _ in 0..<iterations {
            let start = now()
            model.forward(tokens, workspace: ws)
            seconds.append(now() - start)
        }
        return ForwardTiming(batch: batch, sequence: sequence, iterations: iterations, seconds: seconds,
                             flops: encoderFlops(model.config, batch: batch, sequence: sequence))
    }

    /// Texts through the whole inference pipeline (tokenization, batches padded to their longest text, the
    /// forward pass and the head), as `predict --file` runs them: one warm-up batch, then every text once.
    /// Returns the seconds for all texts and the real (unpadded) tokens they held.
    package static func text(_ inference: TextInference, texts: [String]) throws -> (seconds: Double, tokens: Int) {
        try inference.run(Array(texts.prefix(inference.batchSize))) { _, _, _, _ in }
        var tokens = 0
        let start = now()
        try inference.run(texts) { _, batch, _, _ in tokens += batch.attentionMask.reduce(0) { $0 + Int($1) } }
        return (now() - start, tokens)
    }

    /// GFLOP/s of one n×n×n sgemm through OpenBLAS (median of `iterations`).
    package static func sgemmRate(size n: Int, iterations: Int) -> Double {
        let a = FloatBuffer(count: n * n), b = FloatBuffer(count: n * n), c = FloatBuffer(count: n * n)
        for i in 0..<n * n { a.pointer[i] = Float(i % 7) * 0.1; b.pointer[i] = Float(i % 5) * 0.1 }
        BLAS.sgemm(transA: false, transB: true, m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer, ldb: n, beta: 0, c: c.pointer, ldc: n)
        var times: [Double] = []
        for _ in 0..<iterations {
            let start = now()
            BLAS.sgemm(transA: false, transB: true, m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer, ldb: n, beta: 0, c: c.pointer, ldc: n)
            times.append(now() - start)
        }
        return 2 * Double(n) * Double(n) * Double(n) / times.sorted()[times.count / 2] / 1e9
    }
}

extension Benchmarks {
    /// Training steps (forward, loss, backward, clipping, AdamW) on random tokens and labels: the Trainer's own loop
    /// (`Trainer.run`, so what is timed is what `finetune` runs) over one micro-batch of `batch` examples per step,
    /// `iterations` steps timed after a warm-up step; with `adapters` only they (and the classifier) are trained. Under
    /// mpirun (`group`) each rank computes its share of the batch's rows and the gradients are summed, as in `finetune`:
    /// `batch` is the global batch. The Trainer's log goes to a temporary folder ($TMPDIR, else /tmp), removed after.
    package static func trainingStep(model: BertModel, adapters: LoRAAdapters?, batch: Int, sequence: Int, iterations: Int,
                                    seed: UInt64 = 1, group: ProcessGroup = .single, precision: Precision = .fp32) throws -> ForwardTiming {
        var generator = NormalGenerator(seed: seed)
        let vocabulary = UInt64(model.config.vocabSize), labels = UInt64(max(model.config.numLabels, 1))
        let examples = (0..<batch).map { _ in
            EncodedExample(ids: (0..<sequence).map { _ in Int32(generator.nextUInt64() % vocabulary) },
                           typeIds: [Int32](repeating: 0, count: sequence), target: .classIndex(Int(generator.nextUInt64() % labels)))
        }
        var options = TrainingOptions()
        options.batchSize = batch
        options.epochs = iterations + 1
        options.maxSteps = iterations + 1
        options.evalEvery = .never
        options.saveEvery = .never
        options.loggingSteps = iterations + 1
        options.seed = seed
        options.precision = precision
        guard let folder = makeTemporaryDirectory(prefix: "bertkit-train-step-") else {
            throw TrainerError.invalidOptions("cannot make a temporary folder for the benchmark's training log")
        }
        defer { removeTree(folder) }
        let trainer = Trainer(model: model, options: options, train: examples, eval: [],
                              task: HeadTask(head: model.head, problemType: nil), outputDirectory: folder + "/run",
                              adapters: adapters, exportModel: { _, _ in })
        trainer.group = group
        // The end of each step (after AdamW), and the all-reduce seconds so far.
        var ends: [(time: Double, communication: Double)] = [(now(), group.communicationSeconds)]
        trainer.onEvent = { event in
            if case .progress = event { ends.append((now(), group.communicationSeconds)) }
        }
        _ = try trainer.run(resume: false)
        // The first step (from the start of the run) warms up: loading into caches, AdamW's moments.
        let timed = ends.dropFirst()
        let seconds = zip(timed.dropFirst(), timed).map { $0.time - $1.time }
        let communication = zip(timed.dropFirst(), timed).map { $0.communication - $1.communication }
        // forward + backward ≈ 3 × the forward's products (2× for the backward's two GEMMs per layer),
        // less the skipped weight gradients when the base is frozen.
        let forward = encoderFlops(model.config, batch: batch, sequence: sequence)
        var timing = ForwardTiming(batch: batch, sequence: sequence, iterations: iterations, seconds: seconds,
                                   flops: adapters == nil ? 3 * forward : 2 * forward)
        if group.isDistributed { timing.communicationSeconds = communication }
        return timing
    }
}
