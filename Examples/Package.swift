// swift-tools-version:6.0
// BertKit's examples: a package of its own that depends on BertKit by path, as a user's package would by URL, so
// that it sees only BertKit's public API. Tools/check-library builds and runs them (in Tools/test), and checks that the
// README shows Classify's snippet as it is.
import PackageDescription

let package = Package(
    name: "BertKitExamples",
    dependencies: [
        .package(name: "BertKit", path: ".."),
    ],
    targets: [
        .executableTarget(name: "classify", dependencies: [.product(name: "BertKit", package: "BertKit")], path: "Classify"),
        .executableTarget(name: "finetune", dependencies: [.product(name: "BertKit", package: "BertKit")], path: "FineTune"),
        .executableTarget(name: "inspect", dependencies: [.product(name: "BertKit", package: "BertKit")], path: "Inspect"),
    ]
)
