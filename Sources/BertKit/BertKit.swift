@_exported import TensorCore
@_exported import Safetensors
@_exported import PyTorch
@_exported import HDF5
@_exported import Checkpoints
@_exported import Bert
@_exported import Pipelines
@_exported import Training
