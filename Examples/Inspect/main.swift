// List a checkpoint's tensors and convert it to safetensors, with errors as BertKitError.
// Usage: inspect CHECKPOINT [OUTPUT.safetensors]

import BertKit
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
guard let path = arguments.first else { fatalError("usage: inspect CHECKPOINT [OUTPUT.safetensors]") }

do {
    let checkpoint = try Checkpoint(contentsOf: path)
    print("\(path): \(checkpoint.format.rawValue), \(checkpoint.tensors.count) tensors")
    for tensor in checkpoint.tensors.prefix(5) { print(" ", tensor.name, tensor.dtype, tensor.shape) }
    if arguments.count > 1 {
        let summary = try Checkpoint.convert(path, to: arguments[1], format: .safetensors)
        print("wrote", summary.files.joined(separator: ", "), "(\(summary.description))")
    }
} catch {
    // `error` is a BertKitError: its description names the file and what is wrong.
    print("error: \(error)")
    exit(1)
}
