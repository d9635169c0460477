@_exported import TensorCore
@_exported import Safetensors
@_exported import HDF5
@_exported import Checkpoints
