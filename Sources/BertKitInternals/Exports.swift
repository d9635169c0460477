// The implementation modules in one import, for this package's own targets (the CLI, the tests): their declarations
// are `package`, so this umbrella is invisible to a package that depends on BertKit — that sees only the public API of
// the BertKit module (Sources/BertKit).

@_exported import TensorCore
@_exported import ModelCatalog
@_exported import Safetensors
@_exported import PyTorch
@_exported import HDF5
@_exported import GGUF
@_exported import ONNX
@_exported import Checkpoints
@_exported import Bert
@_exported import Pipelines
@_exported import Training
@_exported import Tokenizer
@_exported import Tasks
