@_exported import TensorCore
@_exported import Safetensors
@_exported import Checkpoints
@_exported import Tokenizer
