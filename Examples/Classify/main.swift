// The README's "Use it from Swift" example, built by the test suite (Tests/CLITests/ExampleTests.swift runs it and
// checks that the README shows exactly the lines between the markers): classify texts with a fine-tuned model
// directory, as `bertkit predict --model DIR -- TEXT…` does.
// Usage: bertkit-example-classify MODEL_DIR TEXT...

import BertKit

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 2 else { fatalError("usage: bertkit-example-classify MODEL_DIR TEXT...") }
let directory = arguments[0], texts = Array(arguments.dropFirst())

// README begin
let model = try PretrainedBert.load(directory)
let classifier = TextInference(model: model.model, tokenizer: try model.tokenizer())
for prediction in try classifier.predict(texts) {
    print(prediction.label, prediction.probabilities.map(\.probability).max()!, prediction.text)
}
// README end
