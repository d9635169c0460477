// BertKit's public API is declared in this module and nowhere else: the modules below are the implementation, their
// declarations `package` (visible to this package's targets, the CLI and the tests; invisible to a package that depends
// on BertKit). `internal import` keeps their types out of BertKit's public signatures: the compiler refuses a public
// declaration here that names one of them, so the public API cannot leak an internal type by accident.

internal import TensorCore
internal import ModelCatalog
internal import Checkpoints
internal import Tokenizer
internal import Bert
internal import Training
internal import Tasks
internal import Pipelines
internal import Safetensors
