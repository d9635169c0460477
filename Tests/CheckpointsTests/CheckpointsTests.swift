// The Checkpoints module called directly (the CLI tests reach it through the binary): format detection by
// content, one reader for every format, conversion between them, and transformers' legacy key renamings.

import Testing
import Foundation
import Checkpoints
import ModelCatalog
import TensorCore
import TestSupport

@Suite struct CheckpointDetectionTests {
    @Test(arguments: [
        ("bert/tiny-seqcls/model.safetensors", CheckpointFormat.safetensors),
        ("bert/tiny-seqcls-pytorch-zip/pytorch_model.bin", .pytorchZip),
        ("bert/tiny-seqcls-pytorch-legacy/pytorch_model.bin", .pytorchLegacy),
        ("hdf5/tf-h5/tf_bert_model/tf_model.h5", .hdf5),
    ])
    func formatComesFromTheBytes(_ fixture: String, _ expected: CheckpointFormat) throws {
        // Copied under a misleading name: the extension must not matter.
        let folder = TemporaryDirectory()
        let copy = folder.file("weights.txt")
        try FileManager.default.copyItem(atPath: Fixtures.path(fixture), toPath: copy)
        #expect(try CheckpointDetector.detect(path: copy) == expected)
    }

    @Test func everyFormatOfOneModelReadsToTheSameTensors() throws {
        let reference = try CheckpointReader.load(path: Fixtures.path("bert/tiny-seqcls/model.safetensors")).store
        for variant in ["tiny-seqcls-pytorch-zip", "tiny-seqcls-pytorch-legacy"] {
            let loaded = try CheckpointReader.load(path: Fixtures.path("bert/\(variant)/pytorch_model.bin")).store
            for (name, tensor) in reference.entries {
                #expect(loaded[name].map { $0.isBitwiseEqual(to: tensor) } == true, "\(variant): \(name)")
            }
        }
    }

    @Test func unreadableFilesAreNamedErrors() throws {
        let folder = TemporaryDirectory()
        let path = folder.file("model.bin")
        try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: (any Error).self) { try CheckpointReader.load(path: path) }
        #expect(error.map { "\($0)".hasPrefix(path + ": ") } == true, "\(String(describing: error))")
    }
}

@Suite struct ConversionTests {
    /// safetensors → PyTorch zip → HDF5 (Keras) → safetensors gives back every tensor bit for bit.
    @Test func roundTripThroughEveryFormatIsExact() throws {
        let folder = TemporaryDirectory()
        let source = Fixtures.path("bert/tiny-seqcls")
        _ = try Conversion.convert(input: source, output: folder.file("a.bin"), options: ConversionOptions(family: .pytorch))
        var toKeras = ConversionOptions(family: .hdf5)
        toKeras.hdf5Layout = .keras
        _ = try Conversion.convert(input: folder.file("a.bin"), output: folder.file("b.h5"), options: toKeras)
        _ = try Conversion.convert(input: folder.file("b.h5"), output: folder.file("c.safetensors"), options: ConversionOptions(family: .safetensors))
        let original = try CheckpointReader.load(path: source + "/model.safetensors").store
        let back = try CheckpointReader.load(path: folder.file("c.safetensors")).store
        #expect(Set(back.names) == Set(original.names))
        for (name, tensor) in original.entries {
            #expect(back[name].map { $0.isBitwiseEqual(to: tensor) } == true, "\(name)")
        }
    }

    @Test func castingKeepsIntegersAndRoundsFloatsAsTorch() throws {
        let store = try CheckpointReader.load(path: Fixtures.path("bert/tiny-seqcls/model.safetensors")).store
        let cast = Conversion.castFloatingTensors(store, to: .bf16)
        for (name, tensor) in store.entries {
            let converted = cast[name]!
            #expect(converted.dtype == (tensor.dtype.isFloatingPoint ? .bf16 : tensor.dtype), "\(name)")
            if tensor.dtype == .f32 {
                let values = tensor.float32Values()!, rounded = converted.converted(to: .f32)!.float32Values()!
                #expect(zip(values, rounded).allSatisfy { $1.bitPattern == HalfPrecision.float32(fromBFloat16: HalfPrecision.bfloat16Bits($0)).bitPattern })
            }
        }
    }

    @Test func aFailedConversionLeavesNoOutput() throws {
        let folder = TemporaryDirectory()
        let bad = folder.file("bad.safetensors")
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: bad))
        #expect(throws: (any Error).self) {
            try Conversion.convert(input: bad, output: folder.file("out.bin"), options: ConversionOptions(family: .pytorch))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["bad.safetensors"])
    }
}

/// transformers 5.24's legacy renamings (conversion_mapping.py), with the quirks LegacyNames reproduces.
@Suite struct LegacyNamesTests {
    @Test(arguments: [
        ("bert.embeddings.LayerNorm.gamma", "bert.embeddings.LayerNorm.weight"),
        ("encoder.layer.0.output.LayerNorm.beta", "encoder.layer.0.output.LayerNorm.bias"),
        ("x.LayerNorm.gammas", "x.LayerNorm.gammas"),                          // (?!\w): a longer word is not renamed
        ("conv.weight_g", "conv.parametrizations.weight.original0"),
        ("model.language_model.model.layers.0", "model.language_model.layers.0"),
        ("a.model.language_model.model", "a.model.language_model.model"),      // anchored at the start
        ("bert.pooler.dense.weight", "bert.pooler.dense.weight"),
    ])
    func renamesAsTransformersDoes(_ key: String, _ expected: String) {
        #expect(LegacyNames.rename(key) == expected)
    }
}
