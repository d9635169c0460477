@_exported import TensorCore
@_exported import Safetensors
@_exported import PyTorch
@_exported import Checkpoints
