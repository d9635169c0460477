// swift-tools-version:6.0
// BertKit: move BERT checkpoints between safetensors, PyTorch and HDF5, and run / fine-tune them in Swift.
import PackageDescription

let package = Package(
    name: "BertKit",
    products: [
        .library(name: "BertKit", targets: ["BertKit"]),
        .executable(name: "bertkit", targets: ["BertKitCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // `swift package generate-documentation --target BertKit` (a plugin only: nothing of it is linked).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        // C libraries, found through pkg-config (Debian: libopenblas-dev, libhdf5-dev, zlib1g-dev).
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),

        // Hot elementwise kernels, built for baseline x86-64 and x86-64-v3 (function multi-versioning).
        .target(name: "CKernels", path: "Sources/CKernels"),

        // Open MPI for data-parallel fine-tuning, loaded with dlopen only under a launcher (nothing to install otherwise).
        .target(name: "CMPI", path: "Sources/CMPI"),

        // Format-neutral tensors, dtypes, JSON and atomic files.
        .target(name: "TensorCore", dependencies: ["CZlib"], path: "Sources/TensorCore"),

        // What bertkit knows of transformers' model classes: the BERT classes and heads, legacy key renamings.
        .target(name: "ModelCatalog", dependencies: ["TensorCore"], path: "Sources/ModelCatalog"),

        // One target per checkpoint format.
        .target(name: "Safetensors", dependencies: ["TensorCore"], path: "Formats/Safetensors",
                exclude: ["SPEC.md"]),
        // PyTorch: zip and legacy checkpoints through a pickle machine that executes nothing.
        .target(name: "PyTorch", dependencies: ["TensorCore", "CZlib"], path: "Formats/PyTorch",
                exclude: ["SPEC.md"]),

        // GGUF: llama.cpp's format, read and written as its converter writes a BERT.
        .target(name: "GGUF", dependencies: ["TensorCore"], path: "Formats/GGUF", exclude: ["SPEC.md"]),

        // ONNX: models as protobuf, through swift-protobuf's generated code for an onnx.proto subset (Generated/).
        .target(name: "ONNX", dependencies: ["TensorCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                path: "Formats/ONNX", exclude: ["SPEC.md", "onnx-subset.proto"]),

        // HDF5: a thin layer over libhdf5, Keras `tf_model.h5` and a plain tensor layout.
        .target(name: "HDF5", dependencies: ["TensorCore", "ModelCatalog", "CHDF5"], path: "Formats/HDF5",
                exclude: ["SPEC.md"]),

        // Format detection, model directories and the Hugging Face cache.
        .target(name: "Checkpoints", dependencies: ["TensorCore", "ModelCatalog", "Safetensors", "PyTorch", "HDF5", "GGUF", "ONNX"],
                path: "Sources/Checkpoints"),

        // WordPiece tokenizer identical to Hugging Face's BertTokenizer.
        .target(name: "Tokenizer", dependencies: ["TensorCore"], path: "Sources/Tokenizer"),

        // The BERT: parameters, forward and backward over OpenBLAS.
        .target(name: "Bert", dependencies: ["TensorCore", "ModelCatalog", "CBLAS", "CKernels"], path: "Sources/Bert"),

        // Fine-tuning: AdamW, schedule, clipping, the training loop.
        .target(name: "Training", dependencies: ["TensorCore", "Safetensors", "Bert", "CMPI"], path: "Sources/Training"),

        // The task seam: one type per fine-tuning task — its data, labels, alignment, metrics, predictions.
        .target(name: "Tasks", dependencies: ["TensorCore", "Tokenizer", "Bert", "Training"], path: "Sources/Tasks"),

        // Model directories, inference and parity: what the CLI's model commands call.
        .target(name: "Pipelines", dependencies: ["TensorCore", "Safetensors", "GGUF", "ONNX", "Checkpoints", "Tokenizer", "Bert", "Training", "Tasks"],
                path: "Sources/Pipelines"),

        // The library's public API (issue 21): the only `public` declarations of the package, documented with DocC
        // (BertKit.docc). Everything else is `package`: usable by this package's targets, invisible to its users.
        .target(name: "BertKit", dependencies: ["TensorCore", "ModelCatalog", "Checkpoints", "Tokenizer", "Bert", "Training", "Tasks", "Pipelines", "Safetensors", "HDF5"],
                path: "Sources/BertKit"),
        // The implementation modules in one import, for the CLI and the tests (not a product).
        .target(name: "BertKitInternals", dependencies: ["TensorCore", "ModelCatalog", "Safetensors", "PyTorch", "HDF5", "GGUF", "ONNX", "Checkpoints", "Tokenizer", "Bert", "Training", "Tasks", "Pipelines"],
                path: "Sources/BertKitInternals"),

        .executableTarget(name: "BertKitCLI",
                          dependencies: ["BertKit", "BertKitInternals",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/BertKitCLI"),

        // Fuzzing (Tests/Fuzz/README.md): the targets, the libFuzzer entry point / replay driver that Tools/fuzz builds, and the
        // suite that replays Fixtures/fuzz.
        .target(name: "FuzzTargets", dependencies: ["TensorCore", "Safetensors", "PyTorch", "HDF5", "GGUF", "Checkpoints", "Tokenizer", "Bert", "Training", "Tasks", "Pipelines"],
                path: "Tests/Fuzz/Targets"),
        .executableTarget(name: "bertkit-fuzz", dependencies: ["FuzzTargets", "TensorCore"], path: "Tests/Fuzz/Driver"),

        .target(name: "TestSupport", dependencies: ["TensorCore"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"]),
        .testTarget(name: "SafetensorsTests", dependencies: ["Safetensors", "TestSupport"]),
        .testTarget(name: "PyTorchTests", dependencies: ["PyTorch", "TestSupport"]),
        .testTarget(name: "ONNXTests", dependencies: ["ONNX", "TensorCore", "TestSupport"]),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF", "TensorCore", "TestSupport"]),
        .testTarget(name: "HDF5Tests", dependencies: ["HDF5", "ModelCatalog", "Safetensors", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["BertKitCLI", "BertKitInternals", "BertKit", "TestSupport"]),
        .testTarget(name: "BertTests", dependencies: ["Bert", "CKernels", "Safetensors", "Checkpoints", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Bert", "Safetensors", "TestSupport"]),
        .testTarget(name: "TasksTests", dependencies: ["Tasks", "Training", "Tokenizer", "Bert", "TensorCore", "TestSupport"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints", "ModelCatalog", "TensorCore", "TestSupport"]),
        .testTarget(name: "PipelinesTests", dependencies: ["Pipelines", "Bert", "Checkpoints", "Safetensors", "TensorCore", "TestSupport"]),
        .testTarget(name: "FuzzRegressionTests", dependencies: ["FuzzTargets", "TestSupport"]),
        .testTarget(name: "BertKitTests", dependencies: ["BertKit", "TestSupport"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "TensorCore", "TestSupport"]),
    ]
)
