// A Hugging Face model directory: which weights file to load, in transformers' order of preference.

import TensorCore

package enum ModelDirectory {
    /// transformers' preference order: safetensors, sharded safetensors, PyTorch, sharded PyTorch, TF.
    package static let weightFileNames = [
        "model.safetensors", "model.safetensors.index.json",
        "pytorch_model.bin", "pytorch_model.bin.index.json",
        "tf_model.h5",
    ]

    package static func weightsFile(in directory: String) throws -> String {
        for name in weightFileNames where fileExists(directory + "/" + name) { return directory + "/" + name }
        throw FileError(path: directory, cause: CheckpointError.noWeightsInDirectory(directory: directory, looked: weightFileNames))
    }

    /// The first `architectures` entry of the directory's config.json, if it has one (HDF5 writing
    /// uses it to pick the TF class).
    package static func architecture(in directory: String) -> String? {
        guard let bytes = try? readFileBytes(directory + "/config.json"),
              let config = try? JSONReader.parse(bytes) else { return nil }
        return config["architectures"]?.arrayValue?.first?.stringValue
    }
}
