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
    ],
    targets: [
        // C libraries, found through pkg-config (Debian: libopenblas-dev, libhdf5-dev, zlib1g-dev).
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),

        // Format-neutral tensors, dtypes, JSON and atomic files.
        .target(name: "TensorCore", dependencies: ["CZlib"], path: "Sources/TensorCore"),

        // One target per checkpoint format.
        .target(name: "Safetensors", dependencies: ["TensorCore"], path: "Formats/Safetensors",
                exclude: ["SPEC.md"]),

        // Format detection, model directories and the Hugging Face cache.
        .target(name: "Checkpoints", dependencies: ["TensorCore", "Safetensors"],
                path: "Sources/Checkpoints"),

        // WordPiece tokenizer identical to Hugging Face's BertTokenizer (issue 5).
        .target(name: "Tokenizer", dependencies: ["TensorCore"], path: "Sources/Tokenizer"),

        // The umbrella library: re-exports only.
        .target(name: "BertKit", dependencies: ["TensorCore", "Safetensors", "Checkpoints", "Tokenizer"],
                path: "Sources/BertKit"),

        .executableTarget(name: "BertKitCLI",
                          dependencies: ["BertKit",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Sources/BertKitCLI"),

        .target(name: "TestSupport", dependencies: ["TensorCore"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"]),
        .testTarget(name: "SafetensorsTests", dependencies: ["Safetensors", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["BertKitCLI", "TestSupport"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "TensorCore", "TestSupport"]),
    ]
)
