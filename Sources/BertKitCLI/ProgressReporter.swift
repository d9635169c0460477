// Training progress on stderr, from the library's TrainingProgress reports.

import BertKit
import Foundation
import TensorCore   // MonotonicClock

/// Training progress on stderr: a redrawn bar on a terminal, plain log lines otherwise.
final class ProgressReporter {
    let interactive: Bool
    /// What the F1 of an evaluation is: macro-F1 over classes, or entity F1.
    let f1Name: String
    private var lastDraw = 0.0
    private var drawn = false

    init(interactive: Bool, f1Name: String = "macro-F1") {
        self.interactive = interactive
        self.f1Name = f1Name
    }

    func handle(_ event: TrainingProgress) {
        switch event {
        case .started(let total, let examples, let resumedAt):
            Console.info("training: \(examples) examples, \(total) optimizer steps" + (resumedAt.map { ", resumed at step \($0)" } ?? ""))
        case .step(let step, let total, let epoch, let loss, let lr, let rate):
            guard interactive else { return }
            let now = MonotonicClock.seconds()
            if now - lastDraw < 0.2 && step < total { return }
            lastDraw = now
            let width = 24, filled = total > 0 ? width * step / total : 0
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            Console.write(2, String(format: "\r[%@] step %d/%d  epoch %.2f  loss %.4f  lr %.2e  %.1f ex/s\u{1B}[K",
                                    bar, step, total, epoch, loss, lr, rate))
            drawn = true
        case .logged(let entry):
            guard !interactive else { return }
            Console.info(String(format: "step %d  epoch %.2f  loss %.4f  lr %.3e  grad_norm %.3f  %.1f ex/s", entry.step, entry.epoch,
                                entry.loss ?? .nan, entry.learningRate ?? .nan, entry.gradientNorm ?? .nan, entry.examplesPerSecond ?? .nan))
        case .evaluated(let entry):
            clearLine()
            var line = String(format: "eval at step %d (epoch %.2f): loss %.4f", entry.step, entry.epoch, entry.loss ?? .nan)
            if let accuracy = entry.accuracy { line += String(format: ", accuracy %.4f", accuracy) }
            if let f1 = entry.f1 { line += String(format: ", \(f1Name) %.4f", f1) }
            Console.info(line)
        case .checkpointSaved(let folder):
            clearLine()
            Console.info("saved \(folder)")
        case .stoppedEarly(let step):
            clearLine()
            Console.info("early stopping at step \(step)")
        case .finished:
            break
        }
    }

    func finish() { clearLine() }

    private func clearLine() {
        if drawn { Console.write(2, "\r\u{1B}[K"); drawn = false }
    }
}
