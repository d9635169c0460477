// Fine-tune a classifier on a CSV of `text,label` rows, following the progress as an AsyncSequence, then load the
// result and classify with it. Usage: finetune MODEL_DIR TRAIN_CSV OUTPUT_DIR

import BertKit

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count == 3 else { fatalError("usage: finetune MODEL_DIR TRAIN_CSV OUTPUT_DIR") }

var job = FineTuning(model: arguments[0], trainFile: arguments[1], outputDirectory: arguments[2])
job.evalFile = arguments[1]
job.epochs = 2
job.batchSize = 8
job.learningRate = 1e-3

for try await progress in job.progress() {
    switch progress {
    case .started(let totalSteps, let examples, _):
        print("training on \(examples) examples, \(totalSteps) steps")
    case .evaluated(let evaluation):
        print("epoch \(evaluation.epoch): eval loss \(evaluation.loss ?? .nan), accuracy \(evaluation.accuracy ?? .nan)")
    case .finished(let result):
        print("done: \(result.steps) steps, labels \(result.labels.joined(separator: ","))")
    default:
        break
    }
}

let tuned = try PretrainedModel(arguments[2])
print("head \(tuned.info.head.rawValue), labels \(tuned.info.labels.joined(separator: ","))")
