// Keras tf_model.h5: the genuine TensorFlow files (and the h5py-2 variants, the 12-layer file, a
// masked-LM file and a chunked-attribute file) read as the documented transformers 4.x mapping gives
// (Fixtures/hdf5/mapped/*, computed with h5py), and the writer reproduces the genuine files byte for byte.

import Foundation
import Testing
import HDF5
import ModelCatalog
import Safetensors
import TensorCore
import TestSupport

@Suite struct KerasReaderTests {
    static let tied: Set<String> = ["cls.predictions.decoder.weight", "cls.predictions.decoder.bias"]

    @Test(arguments: H5Fixtures.genuine.map { $0.folder })
    func readsTheDocumentedStateDict(_ folder: String) throws {
        let expected = try H5Fixtures.store(H5Fixtures.genuine.first { $0.folder == folder }!.mapped)
        let contents = try HDF5Checkpoint.read(path: H5Fixtures.path(folder + "/tf_model.h5"))
        #expect(contents.layout == .keras)
        expectSameTensors(contents.store, expected, allowExtra: Self.tied)
        #expect(contents.store.count == expected.count + (expected.contains("cls.predictions.bias") ? 2 : 0))
        #expect(contents.store.metadata["backend"] == "tensorflow")
    }

    /// Reading a whole file opens and closes every attribute, group and dataset it touches: afterwards libhdf5
    /// holds only the file the test itself opened (Keras files, h5py-2 strings, the masked-LM file, a plain layout).
    @Test(arguments: ["tf-h5/tf_bert_for_sequence_classification/tf_model.h5", "tf-h5/legacy_h5py2/tf_bert_for_sequence_classification/tf_model.h5",
                      "tf_bert_for_masked_lm/tf_model.h5", "plain"])
    func readingLeavesNoHandleOpen(_ fixture: String) throws {
        // libhdf5 shares one file object between every open of the same path, and its count covers them all:
        // other tests reading the fixture at the same time would be counted, so the test reads a private copy.
        let out = TemporaryDirectory()
        let path = out.file("private.h5")
        if fixture == "plain" {
            try PlainHDF5.write(try H5Fixtures.store(H5Fixtures.genuine[0].mapped), to: path, metadata: ["format": "pt"])
        } else {
            try FileManager.default.copyItem(atPath: H5Fixtures.path(fixture), toPath: path)
        }
        let file = try HDF5File.open(path)
        #expect(file.openObjectCount == 1)
        let group = try file.root()   // the count sees an open object
        #expect(file.openObjectCount == 2)
        try group.close()
        let contents = try HDF5Checkpoint.read(file: file, mapping: try ByteBuffer(mappingFileAt: path))
        #expect(!contents.store.names.isEmpty)
        #expect(contents.layout == (fixture == "plain" ? .plain : .keras))
        #expect(file.openObjectCount == 1, "\(file.openObjectCount) objects left open after reading \(fixture)")
    }

    @Test func baseModelLosesTheBertPrefix() throws {
        let contents = try HDF5Checkpoint.read(path: H5Fixtures.path("tf-h5/tf_bert_model/tf_model.h5"))
        #expect(contents.store.contains("embeddings.word_embeddings.weight"))
        #expect(contents.store.contains("pooler.dense.weight"))
        #expect(!contents.store.names.contains { $0.hasPrefix("bert.") })
        #expect(contents.notes.first?.contains("'bert.' removed") == true)
    }

    @Test func maskedLMDecoderIsTiedToTheEmbeddings() throws {
        let contents = try HDF5Checkpoint.read(path: H5Fixtures.path("tf_bert_for_masked_lm/tf_model.h5"))
        let store = contents.store
        let words = try #require(store["bert.embeddings.word_embeddings.weight"])
        let decoder = try #require(store["cls.predictions.decoder.weight"])
        #expect(decoder.data.isSameStorage(as: words.data))
        #expect(try #require(store["cls.predictions.decoder.bias"]).data.isSameStorage(as: try #require(store["cls.predictions.bias"]).data))
        #expect(contents.notes.contains { $0.contains("5 duplicate weight copies") })
        #expect(!store.contains("bert.pooler.dense.weight"))
    }

    @Test func kernelsAreTransposedAndTheRestAreViewsOfTheFile() throws {
        let contents = try HDF5Checkpoint.read(path: H5Fixtures.path("tf-h5/tf_bert_for_sequence_classification/tf_model.h5"))
        let query = try #require(contents.store["bert.encoder.layer.0.attention.self.query.weight"])
        let intermediate = try #require(contents.store["bert.encoder.layer.0.intermediate.dense.weight"])
        #expect(intermediate.shape == [37, 32])   // TF kernel [32, 37]
        #expect(!query.data.buffer.isMapped)
        #expect(try #require(contents.store["bert.embeddings.word_embeddings.weight"]).data.buffer.isMapped)
        #expect(try #require(contents.store["classifier.weight"]).shape == [2, 32])
    }

    @Test func chunkedWeightNamesAreJoined() throws {
        let root = try HDF5File.open(H5Fixtures.path("keras_chunked/tf_model.h5")).root()
        let group = try root.openGroup("bert")
        #expect(try !group.hasAttribute("weight_names") && group.hasAttribute("weight_names2"))
    }

    struct MappingCase: Sendable, CustomTestStringConvertible {
        let tf: String, rank: Int, prefix: String, pt: String, transpose: String
        var testDescription: String { "\(tf) [\(prefix)]" }
    }

    static let mappingCases: [MappingCase] = ((try? H5Fixtures.json("name_mapping.json")) as? [[String: Any]] ?? []).map {
        MappingCase(tf: $0["tf"] as! String, rank: $0["rank"] as! Int, prefix: $0["prefix"] as! String,
                    pt: $0["pt"] as! String, transpose: $0["transpose"] as! String)
    }

    @Test(arguments: mappingCases)
    func nameMappingMatchesTheReferenceRules(_ item: MappingCase) {
        let (name, transpose) = KerasNames.pytorchName(forTensorFlow: item.tf, rank: item.rank, startPrefixToRemove: item.prefix)
        #expect(name == item.pt)
        let expected: [String: KerasNames.Transpose] = ["none": .none, "simple": .simple, "conv1d": .conv1D, "conv2d": .conv2D]
        #expect(transpose == expected[item.transpose])
    }

    @Test func baseModelNames() {
        #expect(KerasNames.isBaseModelName("tf_bert_model"))
        #expect(KerasNames.isBaseModelName("tf_bert_model_1"))
        #expect(KerasNames.isBaseModelName("tf_roberta_model"))
        #expect(!KerasNames.isBaseModelName("tf_bert_for_masked_lm"))
        #expect(!KerasNames.isBaseModelName("tfgp_t2lm_head_model"))
        #expect(!KerasNames.isBaseModelName("model"))
    }
}

@Suite struct KerasWriterTests {
    @Test(arguments: ["tf-h5/tf_bert_model", "tf-h5/tf_bert_for_sequence_classification",
                      "tf-h5/tf_bert_for_sequence_classification_12l", "tf_bert_for_masked_lm"])
    func writesTheGenuineFileByteForByte(_ folder: String) throws {
        let genuine = H5Fixtures.path(folder + "/tf_model.h5")
        let mapped = try H5Fixtures.store(H5Fixtures.genuine.first { $0.folder == folder }!.mapped)
        let out = TemporaryDirectory()
        // From the PyTorch state dict (what `convert model.safetensors tf_model.h5` does) …
        let written = try KerasH5Writer.write(mapped, to: out.file("a.h5"))
        #expect(try H5Fixtures.bytes(out.file("a.h5")) == H5Fixtures.bytes(genuine))
        // … and from the file itself.
        try KerasH5Writer.write(try HDF5Checkpoint.read(path: genuine).store, to: out.file("b.h5"))
        #expect(try H5Fixtures.bytes(out.file("b.h5")) == H5Fixtures.bytes(genuine))
        #expect(out.contents == ["a.h5", "b.h5"])
        #expect(folder.hasSuffix(written.modelName) || folder.hasSuffix(written.modelName + "_12l"), "\(written)")
    }

    @Test(arguments: ["tf_bert_for_sequence_classification", "tf_bert_for_sequence_classification_12l"])
    func legacyFilesRewriteAsTheirH5py3Twins(_ name: String) throws {
        let legacy = try HDF5Checkpoint.read(path: H5Fixtures.path("tf-h5/legacy_h5py2/\(name)/tf_model.h5"))
        let out = TemporaryDirectory()
        try KerasH5Writer.write(legacy.store, to: out.file("x.h5"))
        #expect(try H5Fixtures.bytes(out.file("x.h5")) == H5Fixtures.bytes(H5Fixtures.path("tf-h5/\(name)/tf_model.h5")))
    }

    @Test func tokenClassifierIsToldFromTheMissingPooler() throws {
        let store = try SafetensorsReader.read(path: H5Fixtures.path("token_classification/model.safetensors"))
        #expect(try KerasH5Writer.kerasClass(for: store) == .tokenClassification)
        let out = TemporaryDirectory()
        try KerasH5Writer.write(store, to: out.file("tf_model.h5"))
        #expect(try H5Fixtures.bytes(out.file("tf_model.h5")) == H5Fixtures.bytes(H5Fixtures.path("token_classification_tf/tf_model.h5")))
        // config.json may say otherwise: a sequence classifier saved without its pooler.
        #expect(try KerasH5Writer.kerasClass(for: store, architecture: "BertForSequenceClassification") == .sequenceClassification)
        // … but not when the tensors cannot be that class (a masked-LM head is missing).
        #expect(try KerasH5Writer.kerasClass(for: store, architecture: "BertForMaskedLM") == .tokenClassification)
    }

    @Test func everyLayoutNameMapsBackByTheReadingRules() {
        let dimensions = BertDimensions(vocabulary: 11, hidden: 4, intermediate: 6, positions: 8, tokenTypes: 2, layers: 3, labels: 5)
        for bertClass in KerasBertClass.allCases {
            for prefix in bertClass == .model ? ["bert.", ""] : ["bert."] {
                var seen: [String: String] = [:]
                for layer in KerasBertLayout.layers(bertClass, dimensions, pytorchPrefix: prefix) {
                    for weight in layer.weights {
                        let (name, transpose) = KerasNames.pytorchName(forTensorFlow: weight.variableName, rank: weight.shape.count,
                                                                       startPrefixToRemove: prefix.isEmpty ? "bert." : "")
                        #expect(name == weight.pytorchName, "\(bertClass) \(weight.variableName)")
                        #expect((transpose == .simple) == weight.transposed, "\(weight.variableName)")
                        #expect(weight.variableName.hasPrefix(bertClass.modelName + "/"))
                        if let other = seen[name] { #expect(other == weight.variableName, "\(name) twice") }
                        seen[name] = weight.variableName
                    }
                }
            }
        }
    }

    @Test func weightNamesAreChunkedLikeKeras() throws {
        #expect(KerasH5Writer.chunkSizes(count: 10, chunks: 3) == [4, 3, 3])
        #expect(KerasH5Writer.chunkSizes(count: 2, chunks: 3) == [1, 1, 0])
        // 60 layers: 967 names of ~80 bytes, over Keras' 64512-byte limit.
        let store = Self.tinyBert(layers: 60)
        let out = TemporaryDirectory()
        try KerasH5Writer.write(store, to: out.file("big.h5"))
        let root = try HDF5File.open(out.file("big.h5")).root()
        let bert = try root.openGroup("bert")
        #expect(try !bert.hasAttribute("weight_names"))
        #expect(try bert.hasAttribute("weight_names0") && bert.hasAttribute("weight_names1") && !bert.hasAttribute("weight_names2"))
        guard case .string(let size, _, .nullPadded) = try bert.attributeInfo("weight_names1").type else {
            Issue.record("chunks must be fixed-length NULLPAD strings"); return
        }
        #expect(size == "tf_bert_model/bert/encoder/layer_._59/attention/output/LayerNorm/gamma:0".utf8.count)
        let back = try HDF5Checkpoint.read(path: out.file("big.h5")).store
        var unprefixed = TensorStore()
        for (name, tensor) in store.entries { unprefixed[String(name.dropFirst("bert.".count))] = tensor }
        expectSameTensors(back, unprefixed)
    }

    @Test func refusesWhatTensorFlowBertCannotHold() throws {
        var notBert = TensorStore()
        notBert["transformer.wte.weight"] = Tensor(float32: [1, 2], shape: [1, 2])
        #expect(throws: HDF5Error.notKerasBert(reason: "no 'bert.embeddings.word_embeddings.weight'")) {
            try KerasH5Writer.kerasClass(for: notBert)
        }
        var extra = Self.tinyBert(layers: 1)
        extra["bert.adapter.weight"] = Tensor(float32: [1], shape: [1])
        #expect(throws: HDF5Error.self) { try KerasH5Writer.kerasClass(for: extra) }

        let halves = TensorStore(Self.tinyBert(layers: 1).entries.map { ($0.name, $0.tensor.converted(to: .bf16)!) })
        #expect(throws: HDF5Error.self) { try KerasH5Writer.kerasClass(for: halves) }

        var wrongShape = Self.tinyBert(layers: 1)
        wrongShape["bert.encoder.layer.0.attention.self.query.weight"] = Tensor(float32: [Float](repeating: 0, count: 8), shape: [2, 4])
        #expect(throws: HDF5Error.kerasShapeMismatch(tensor: "bert.encoder.layer.0.attention.self.query.weight", expected: [4, 4], actual: [2, 4])) {
            try KerasH5Writer.kerasClass(for: wrongShape)
        }

        var untied = try H5Fixtures.store("mapped/tf_bert_for_masked_lm.safetensors")
        let words = untied["bert.embeddings.word_embeddings.weight"]!
        untied["cls.predictions.decoder.weight"] = Tensor(float32: [Float](repeating: 0.5, count: words.elementCount), shape: words.shape)
        #expect(throws: HDF5Error.untiedDecoder(tensor: "cls.predictions.decoder.weight", tiedTo: "bert.embeddings.word_embeddings.weight")) {
            try KerasH5Writer.kerasClass(for: untied)
        }
        let out = TemporaryDirectory()
        #expect(throws: (any Error).self) { try KerasH5Writer.write(untied, to: out.file("x.h5")) }
        #expect(out.contents.isEmpty)
    }

    @Test func legacyNamesAndIndexBuffersAreHandledAsTransformersDoes() throws {
        // Old checkpoints: LayerNorm `gamma`/`beta`, and the `position_ids` buffer.
        var store = TensorStore()
        for (name, tensor) in try H5Fixtures.store("mapped/tf_bert_for_sequence_classification.safetensors").entries {
            store[name.replacing("LayerNorm.weight", with: "LayerNorm.gamma").replacing("LayerNorm.bias", with: "LayerNorm.beta")] = tensor
        }
        store["bert.embeddings.position_ids"] = Tensor(int64: (0..<64).map(Int64.init), shape: [1, 64])
        #expect(store.contains("bert.embeddings.LayerNorm.gamma"))
        let out = TemporaryDirectory()
        try KerasH5Writer.write(store, to: out.file("tf_model.h5"))
        #expect(try H5Fixtures.bytes(out.file("tf_model.h5"))
                == H5Fixtures.bytes(H5Fixtures.path("tf-h5/tf_bert_for_sequence_classification/tf_model.h5")))
    }

    @Test func tiedDecoderCopiesAreAccepted() throws {
        var store = try H5Fixtures.store("mapped/tf_bert_for_masked_lm.safetensors")
        store["cls.predictions.decoder.weight"] = store["bert.embeddings.word_embeddings.weight"]
        store["cls.predictions.decoder.bias"] = store["cls.predictions.bias"]
        let out = TemporaryDirectory()
        try KerasH5Writer.write(store, to: out.file("tf_model.h5"))
        #expect(try H5Fixtures.bytes(out.file("tf_model.h5")) == H5Fixtures.bytes(H5Fixtures.path("tf_bert_for_masked_lm/tf_model.h5")))
    }

    /// A BertModel-shaped state dict (`bert.` prefix, pooler), hidden 4, with distinct values.
    static func tinyBert(layers: Int) -> TensorStore {
        var store = TensorStore()
        var counter: Float = 0
        func add(_ name: String, _ shape: [Int]) {
            let count = shape.reduce(1, *)
            store["bert." + name] = Tensor(float32: (0..<count).map { _ in counter += 0.5; return counter }, shape: shape)
        }
        add("embeddings.word_embeddings.weight", [6, 4])
        add("embeddings.token_type_embeddings.weight", [2, 4])
        add("embeddings.position_embeddings.weight", [5, 4])
        add("embeddings.LayerNorm.weight", [4])
        add("embeddings.LayerNorm.bias", [4])
        for i in 0..<layers {
            let p = "encoder.layer.\(i)."
            for part in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"] {
                add(p + part + ".weight", [4, 4])
                add(p + part + ".bias", [4])
            }
            add(p + "attention.output.LayerNorm.weight", [4]); add(p + "attention.output.LayerNorm.bias", [4])
            add(p + "intermediate.dense.weight", [3, 4]); add(p + "intermediate.dense.bias", [3])
            add(p + "output.dense.weight", [4, 3]); add(p + "output.dense.bias", [4])
            add(p + "output.LayerNorm.weight", [4]); add(p + "output.LayerNorm.bias", [4])
        }
        add("pooler.dense.weight", [4, 4])
        add("pooler.dense.bias", [4])
        return store
    }
}

@Suite struct MalformedHDF5Tests {
    struct Case: Sendable, CustomTestStringConvertible {
        let file: String, fragment: String
        var testDescription: String { file }
    }

    static let cases: [Case] = ((try? H5Fixtures.json("malformed/cases.json")) as? [[String: String]] ?? [])
        .map { Case(file: $0["file"]!, fragment: $0["error_contains"]!) }

    @Test(arguments: cases.filter { $0.file != "not_hdf5.h5" })
    func failsWithAClearErrorAndPrintsNothing(_ item: Case) throws {
        let path = H5Fixtures.path("malformed/" + item.file)
        var caught: (any Error)?
        let printed = capturingStandardError {
            do { _ = try HDF5Checkpoint.read(path: path) } catch { caught = error }
        }
        #expect(!printed.contains(libhdf5ErrorPrintout), "libhdf5 printed: \(printed)")
        let error = try #require(caught)
        #expect("\(error)".hasPrefix(path + ": "), "\(error)")
        #expect("\(error)".contains(item.fragment), "\(error)")
    }

    @Test func casesCoverTruncationCorruptionAndKerasMistakes() {
        #expect(Self.cases.count >= 12)
    }
}

/// The Keras classes the codec lays out are exactly the catalogue's classes with a TensorFlow twin.
@Suite struct KerasCatalogueTests {
    @Test func everyTensorFlowClassOfTheCatalogueHasALayout() {
        let catalogued = Set(BertClass.all.compactMap { $0.tensorFlow?.name })
        #expect(Set(KerasBertClass.allCases.map(\.rawValue)) == catalogued)
        for bertClass in KerasBertClass.allCases {
            #expect(KerasBertClass(architecture: String(bertClass.rawValue.dropFirst(2))) == bertClass)
        }
    }
}
