// `bertkit finetune`: the reference recipe by default (BertForSequenceClassification, AdamW 2e-5, batch 16,
// 3 epochs, weight decay 0.01, evaluation every epoch), LoRA with --lora-r.

import ArgumentParser
import BertKitInternals
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
    @OptionGroup(title: "Evaluation") var evaluation: EvaluationOptions
    @OptionGroup(title: "Checkpoints") var checkpoints: CheckpointOptions
    @OptionGroup(title: "LoRA") var lora: LoRAOptions
    @OptionGroup var threading: ThreadOptions
    @Flag(help: "Train even when no encoder weight of the checkpoint fits (a randomly initialised encoder).") var allowRandomInit = false
    @Flag(help: "List every tensor name in the load report (default: grouped, with counts).") var verbose = false

    func validate() throws {
        if evaluation.earlyStoppingPatience != nil && data.eval == nil { throw ValidationError("--early-stopping-patience needs --eval") }
        if evaluation.loadBestAtEnd && data.eval == nil { throw ValidationError("--load-best-at-end needs --eval") }
        if let labelColumn = data.labelColumn, !TaggedSentences.isJSONLines(data.train),
           data.task == .tokenClassification || FineTuneJob.looksTagged(data.train), (Int(labelColumn) ?? 0) < 2 {
            throw ValidationError("--label-column of a CoNLL file is a 1-based column number of at least 2, not '\(labelColumn)'")
        }
    }

    /// What the options ask for, as the library's settings.
    func settings() throws -> FineTuneSettings {
        var settings = FineTuneSettings(model: model, train: data.train, output: output)
        try data.apply(to: &settings)
        tokenClassification.apply(to: &settings.taskOptions)
        questionAnswering.apply(to: &settings.taskOptions)
        maskedLM.apply(to: &settings.taskOptions)
        optimisation.apply(to: &settings.training)
        schedule.apply(to: &settings.training)
        evaluation.apply(to: &settings.training)
        checkpoints.apply(to: &settings)
        lora.apply(to: &settings)
        settings.allowRandomInit = allowRandomInit
        return settings
    }

    func run() throws {
        try threading.apply()
        // Under mpirun each process is one rank of a data-parallel run (README "Several processes and machines");
        // rank 0 prints and writes, the others only compute.
        let group = try ProcessGroup.fromEnvironment()
        try runAsRank(group) { try train(group: group) }
    }

    func train(group: ProcessGroup) throws {
        var settings = try settings()
        settings.group = group
        guard group.isLeader else {
            _ = try FineTuneJob.run(settings)
            return
        }
        if group.isDistributed { Console.info("data-parallel: \(group.size) ranks, \(Parallel.threadCount) thread(s) each") }
        let progress = ProgressReporter(interactive: isatty(2) != 0,
                                        f1Name: [.tokenClassification: "entity F1", .questionAnswering: "SQuAD F1"][settings.task] ?? "macro-F1")
        let result = try FineTuneJob.run(settings) { progress.handle($0) }
        progress.finish()
        for line in result.loadReport.lines(verbose: verbose) { Console.warning(line) }
        for note in result.notes { Console.info("note: " + note) }
        let state = result.summary.state
        Console.info("finished: \(state.globalStep) steps on \(result.trainExamples) examples in \(String(format: "%.1f", result.summary.seconds)) s"
                     + (state.stoppedEarly ? " (stopped early)" : ""))
        if let final = result.summary.finalEvaluation {
            var line = "evaluation (\(final.task.count ?? final.count) \(settings.task == .tokenClassification ? "sentences" : "examples")): "
                + "loss \(String(format: "%.4f", final.loss))"
            if settings.task == .maskedLM {
                line = "evaluation (\(final.count) blocks): loss \(String(format: "%.4f", final.loss)), perplexity "
                    + String(format: "%.3f, masked-token accuracy %.4f", Foundation.exp(final.loss), final.accuracy ?? 0)
            } else if settings.task == .questionAnswering {
                line = "evaluation (\(final.task.count ?? final.count) questions): loss \(String(format: "%.4f", final.loss))"
                    + String(format: ", exact match %.2f, F1 %.2f", final.accuracy ?? 0, final.f1 ?? 0)
            } else if settings.task == .tokenClassification {
                line += String(format: ", entity precision %.4f, recall %.4f, F1 %.4f, token accuracy %.4f", final.task.precision ?? 0,
                               final.task.recall ?? 0, final.f1 ?? 0, final.accuracy ?? 0)
            } else {
                if let accuracy = final.accuracy { line += ", accuracy \(String(format: "%.4f", accuracy))" }
                if let f1 = final.f1 { line += ", macro-F1 \(String(format: "%.4f", f1))" }
            }
            Console.out(line)
        }
        if let best = state.bestStep {
            Console.info("best \(evaluation.metric.rawValue): \(state.bestMetric.map { String(format: "%.4f", $0) } ?? "-") at step \(best)")
        }
        if settings.task != .questionAnswering && settings.task != .maskedLM {
            Console.info("labels: \(result.labels.names.joined(separator: ", "))"
                         + (settings.task == .sequenceClassification ? " (\(result.labels.problemType.rawValue))" : ""))
        }
        Console.info("wrote \(output): \(result.outputFiles.filter { !$0.hasPrefix(".") }.joined(separator: ", "))")
    }
}
