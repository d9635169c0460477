// The README's "Use it from Swift" example: classify texts with a fine-tuned model directory, as
// `bertkit predict --model DIR -- TEXT…` does. Tools/check-library runs it and compares its labels with the CLI's.
// Usage: classify MODEL_DIR TEXT...

import BertKit

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 2 else { fatalError("usage: classify MODEL_DIR TEXT...") }
let directory = arguments[0], texts = Array(arguments.dropFirst())

// README begin
let model = try PretrainedModel(directory)
for result in try model.classify(texts) {
    print(result.label, result.score, result.text)
}
// README end
