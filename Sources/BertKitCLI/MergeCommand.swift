// `bertkit merge`: a LoRA adapter folded into its base model, written as a model directory.

import ArgumentParser
import BertKit

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "merge",
                                                    abstract: "Fold a LoRA adapter into its base model (W + s·B·A), as PEFT's merge_and_unload.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Output model directory.") var output: String
    @Option(help: "Also write pytorch_model.bin (pytorch) or tf_model.h5 (hdf5).") var saveFormat: [ExtraWeightsFormat] = []

    func validate() throws {
        guard modelOptions.adapter != nil else { throw ValidationError("merge needs --adapter") }
        if modelOptions.allowRandomInit { throw ValidationError("merge does not take --allow-random-init (it merges into trained weights)") }
    }

    func run() throws {
        try modelOptions.threading.apply()
        let summary = try Checkpoint.mergeAdapter(modelOptions.adapter!, into: modelOptions.model, toDirectory: output, head: modelOptions.head,
                                                  alsoWriting: saveFormat.map(\.conversionFormat),
                                                  listingEveryName: modelOptions.verbose)
        for line in summary.notes { Console.warning(line) }
        Console.info("wrote \(output) (\(summary.description))")
    }
}
