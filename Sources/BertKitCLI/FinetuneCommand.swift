// `bertkit finetune`: the reference recipe by default (BertForSequenceClassification, AdamW 2e-5, batch 16,
// 3 epochs, weight decay 0.01, evaluation every epoch), LoRA with --lora-r.

import ArgumentParser
import BertKit
import Foundation

struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune a model on labelled text (CSV, TSV or JSONL) or tagged words (CoNLL, JSONL) and export a Hugging Face directory.")

    @Option(help: "Pretrained model directory or Hub id in the local cache.") var model: String
    @Option(help: "Output directory (a Hugging Face model directory, or a PEFT adapter with --lora-r).") var output: String
    @OptionGroup(title: "Data") var data: FinetuneDataOptions
    @OptionGroup(title: "Token classification") var tokenClassification: TokenClassificationOptions
    @OptionGroup(title: "Question answering") var questionAnswering: QuestionAnsweringOptions
    @OptionGroup(title: "Masked LM") var maskedLM: MaskedLMOptions
    @OptionGroup(title: "Optimisation") var optimisation: OptimisationOptions
    @OptionGroup(title: "Schedule") var schedule: ScheduleOptions
    @OptionGroup(title: "Evaluation") var evaluation: EvaluationScheduleOptions
    @OptionGroup(title: "Checkpoints") var checkpoints: CheckpointOptions
    @OptionGroup(title: "LoRA") var lora: LoRAOptions
    @OptionGroup var threading: ThreadOptions
    @Flag(help: "Train even when no encoder weight of the checkpoint fits (a randomly initialised encoder).") var allowRandomInit = false
    @Flag(help: "List every tensor name in the load report (default: grouped, with counts).") var verbose = false

    func validate() throws {
        if evaluation.earlyStoppingPatience != nil && data.eval == nil { throw ValidationError("--early-stopping-patience needs --eval") }
        if evaluation.loadBestAtEnd && data.eval == nil { throw ValidationError("--load-best-at-end needs --eval") }
    }

    /// What the options ask for, as the library's job.
    func job() -> FineTuning {
        var job = FineTuning(model: model, trainFile: data.train, outputDirectory: output)
        data.apply(to: &job)
        tokenClassification.apply(to: &job.data)
        questionAnswering.apply(to: &job.data)
        maskedLM.apply(to: &job.data)
        optimisation.apply(to: &job)
        schedule.apply(to: &job)
        evaluation.apply(to: &job)
        checkpoints.apply(to: &job)
        lora.apply(to: &job)
        job.allowRandomInit = allowRandomInit
        return job
    }

    func run() throws {
        try threading.apply()
        // Under mpirun each process is one rank of a data-parallel run (README "Several processes and machines");
        // rank 0 prints and writes, the others only compute.
        let mpiJob = try MPIJob.join()
        try runAsRank(mpiJob) { try train(mpiJob) }
    }

    func train(_ mpiJob: MPIJob?) throws {
        var job = job()
        job.mpiJob = mpiJob
        guard mpiJob?.isLeader ?? true else {
            try job.run()
            return
        }
        if let mpiJob, mpiJob.size > 1 { Console.info("data-parallel: \(mpiJob.size) ranks, \(Threads.count) thread(s) each") }
        let task = try job.resolvedTask
        job.task = task   // inferred once: run() does not read the model and data again for it
        let progress = ProgressReporter(interactive: isatty(2) != 0,
                                        f1Name: [.tokenClassification: "entity F1", .questionAnswering: "SQuAD F1"][task] ?? "macro-F1")
        let result = try job.run { progress.handle($0) }
        progress.finish()
        for line in verbose ? result.loadWarningsListingEveryName : result.loadWarnings { Console.warning(line) }
        for note in result.notes { Console.info("note: " + note) }
        Console.info("finished: \(result.steps) steps on \(result.trainExamples) examples in \(String(format: "%.1f", result.seconds)) s"
                     + (result.stoppedEarly ? " (stopped early)" : ""))
        if let final = result.finalReport {
            var line = "evaluation (\(final.count) \(task == .tokenClassification ? "sentences" : "examples")): "
                + "loss \(String(format: "%.4f", final.loss))"
            if let maskedLM = final.maskedLM {
                line = "evaluation (\(final.count) blocks): loss \(String(format: "%.4f", final.loss)), perplexity "
                    + String(format: "%.3f, masked-token accuracy %.4f", maskedLM.perplexity, maskedLM.accuracy)
            } else if task == .questionAnswering {
                line = "evaluation (\(final.count) questions): loss \(String(format: "%.4f", final.loss))"
                    + String(format: ", exact match %.2f, F1 %.2f", final.questionAnswering?.exactMatch ?? 0, final.questionAnswering?.f1 ?? 0)
            } else if let entities = final.entities {
                line += String(format: ", entity precision %.4f, recall %.4f, F1 %.4f, token accuracy %.4f", entities.precision,
                               entities.recall, entities.f1, entities.tokenAccuracy)
            } else if let classification = final.classification {
                if let accuracy = classification.accuracy { line += ", accuracy \(String(format: "%.4f", accuracy))" }
                if let f1 = classification.macroF1 { line += ", macro-F1 \(String(format: "%.4f", f1))" }
            }
            Console.out(line)
        }
        if let best = result.bestStep {
            Console.info("best \(evaluation.metric.rawValue): \(result.bestMetric.map { String(format: "%.4f", $0) } ?? "-") at step \(best)")
        }
        if task != .questionAnswering && task != .maskedLM {
            Console.info("labels: \(result.labels.joined(separator: ", "))"
                         + (task == .sequenceClassification ? " (\(result.problemType.rawValue))" : ""))
        }
        Console.info("wrote \(output): \(result.outputFiles.filter { !$0.hasPrefix(".") }.joined(separator: ", "))")
    }
}
