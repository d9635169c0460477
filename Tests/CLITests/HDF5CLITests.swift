// `bertkit inspect` / `convert` with HDF5 (issue 4): genuine TensorFlow tf_model.h5 files convert to
// the documented PyTorch state dict byte for byte, safetensors convert back to the genuine files,
// round trips are bit-identical, and damaged input gives one `error:` line, exit 1, nothing from
// libhdf5 and no output file.

import Foundation
import Testing
import TestSupport

@Suite struct HDF5CLITests {
    static func fixture(_ relative: String) -> String { Fixtures.path("hdf5/" + relative) }
    static func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    static let genuine: [(h5: String, safetensors: String)] = [
        ("tf-h5/tf_bert_model/tf_model.h5", "mapped/tf_bert_model.safetensors"),
        ("tf-h5/tf_bert_for_sequence_classification/tf_model.h5", "mapped/tf_bert_for_sequence_classification.safetensors"),
        ("tf-h5/tf_bert_for_sequence_classification_12l/tf_model.h5", "mapped/tf_bert_for_sequence_classification_12l.safetensors"),
        ("tf-h5/legacy_h5py2/tf_bert_for_sequence_classification/tf_model.h5", "mapped/tf_bert_for_sequence_classification.safetensors"),
        ("tf-h5/legacy_h5py2/tf_bert_for_sequence_classification_12l/tf_model.h5", "mapped/tf_bert_for_sequence_classification_12l.safetensors"),
        ("tf_bert_for_masked_lm/tf_model.h5", "mapped/tf_bert_for_masked_lm.safetensors"),
        ("keras_chunked/tf_model.h5", "mapped/keras_chunked.safetensors"),
    ]

    @Test(arguments: genuine.map(\.h5))
    func tfModelConvertsToTheDocumentedStateDictByteForByte(_ h5: String) throws {
        let expected = Self.fixture(Self.genuine.first { $0.h5 == h5 }!.safetensors)
        let folder = TemporaryDirectory()
        let result = try Bertkit.run(["convert", Self.fixture(h5), folder.file("model.safetensors")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Self.bytes(folder.file("model.safetensors")) == Self.bytes(expected))
        #expect(folder.contents == ["model.safetensors"])
    }

    @Test(arguments: genuine.map(\.h5))
    func inspectReportsKerasLayoutWithTheMappedNames(_ h5: String) throws {
        let expected = Self.fixture(Self.genuine.first { $0.h5 == h5 }!.safetensors)
        let mine = try Bertkit.run(["inspect", "--json", Self.fixture(h5)])
        let reference = try Bertkit.run(["inspect", "--json", expected])
        #expect(mine.status == 0 && reference.status == 0, "\(mine.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(mine.stdout.utf8)) as! [String: Any]
        let referenceJSON = try JSONSerialization.jsonObject(with: Data(reference.stdout.utf8)) as! [String: Any]
        #expect(json["format"] as? String == "keras-h5")
        let tied: Set<String> = ["cls.predictions.decoder.weight", "cls.predictions.decoder.bias"]
        let tensors = (json["tensors"] as! [[String: Any]]).filter { !tied.contains($0["name"] as! String) }
        #expect(NSArray(array: tensors).isEqual(to: referenceJSON["tensors"] as! [Any]))
        #expect((json["metadata"] as? [String: String])?["keras_version"] == "2.19.0")
    }

    @Test(arguments: [("mapped/tf_bert_model.safetensors", "tf-h5/tf_bert_model/tf_model.h5"),
                      ("mapped/tf_bert_for_sequence_classification.safetensors", "tf-h5/tf_bert_for_sequence_classification/tf_model.h5"),
                      ("mapped/tf_bert_for_sequence_classification_12l.safetensors", "tf-h5/tf_bert_for_sequence_classification_12l/tf_model.h5"),
                      ("mapped/tf_bert_for_masked_lm.safetensors", "tf_bert_for_masked_lm/tf_model.h5")])
    func safetensorsConvertToTheGenuineTFModel(_ safetensors: String, _ genuine: String) throws {
        let folder = TemporaryDirectory()
        let result = try Bertkit.run(["convert", Self.fixture(safetensors), folder.file("tf_model.h5")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("keras-h5"), "\(result.stderr)")
        #expect(try Self.bytes(folder.file("tf_model.h5")) == Self.bytes(Self.fixture(genuine)))
        #expect(folder.contents == ["tf_model.h5"])
    }

    @Test(arguments: genuine.map(\.h5))
    func roundTripIsBitIdentical(_ h5: String) throws {
        let folder = TemporaryDirectory()
        let steps = [["convert", Self.fixture(h5), folder.file("a.safetensors")],
                     ["convert", folder.file("a.safetensors"), folder.file("b.h5")],
                     ["convert", folder.file("b.h5"), folder.file("c.safetensors")],
                     ["convert", folder.file("c.safetensors"), folder.file("d.h5")]]
        for step in steps {
            let result = try Bertkit.run(step)
            #expect(result.status == 0, "\(step): \(result.stderr)")
        }
        #expect(try Self.bytes(folder.file("a.safetensors")) == Self.bytes(folder.file("c.safetensors")))
        #expect(try Self.bytes(folder.file("b.h5")) == Self.bytes(folder.file("d.h5")))
    }

    @Test func directoryConversionUsesConfigArchitectures() throws {
        let source = Self.fixture("token_classification")
        let out = TemporaryDirectory()
        let result = try Bertkit.run(["convert", source, out.path, "--to", "hdf5"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("TFBertForTokenClassification"), "\(result.stderr)")
        #expect(try Self.bytes(out.file("tf_model.h5")) == Self.bytes(Self.fixture("token_classification_tf/tf_model.h5")))

        // The same weights with a config.json naming the sequence classifier: the names allow it (a
        // classifier without its pooler), so the directory's config decides.
        let renamed = TemporaryDirectory()
        try FileManager.default.copyItem(atPath: source + "/model.safetensors", toPath: renamed.file("model.safetensors"))
        let config = try String(contentsOfFile: source + "/config.json", encoding: .utf8)
            .replacingOccurrences(of: "BertForTokenClassification", with: "BertForSequenceClassification")
        try config.write(toFile: renamed.file("config.json"), atomically: true, encoding: .utf8)
        let again = try Bertkit.run(["convert", renamed.path, renamed.file("tf_model.h5")])
        #expect(again.status == 0 && again.stderr.contains("TFBertForSequenceClassification"), "\(again.stderr)")
        let inspect = try Bertkit.run(["inspect", renamed.file("tf_model.h5")])
        #expect(inspect.stdout.contains("'tf_bert_for_sequence_classification'"), "\(inspect.stdout)")
    }

    @Test func layoutOption() throws {
        let folder = TemporaryDirectory()
        let bert = Self.fixture("mapped/tf_bert_for_sequence_classification.safetensors")
        let plain = try Bertkit.run(["convert", bert, folder.file("plain.h5"), "--layout", "plain"])
        #expect(plain.status == 0, "\(plain.stderr)")
        let inspected = try Bertkit.run(["inspect", "--json", folder.file("plain.h5")])
        let json = try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as! [String: Any]
        #expect(json["format"] as? String == "hdf5")
        #expect((json["tensors"] as! [Any]).count == 41)
        #expect(json["metadata"] as? [String: String] == ["format": "pt"])

        // Not a BERT: auto writes the plain layout and says why; --layout keras refuses.
        let other = Self.fixture("plain/state.safetensors")
        let auto = try Bertkit.run(["convert", other, folder.file("auto.h5")])
        #expect(auto.status == 0 && auto.stderr.contains("plain HDF5 layout"), "\(auto.stderr)")
        let back = try Bertkit.run(["convert", folder.file("auto.h5"), folder.file("back.safetensors")])
        #expect(back.status == 0, "\(back.stderr)")
        #expect(try Self.bytes(folder.file("back.safetensors")) == Self.bytes(other))
        let forced = try Bertkit.run(["convert", other, folder.file("forced.h5"), "--layout", "keras"])
        #expect(forced.status == 1 && forced.stderr.hasPrefix("error: \(folder.file("forced.h5")): ")
                && forced.stderr.contains("not a BERT"), "\(forced.stderr)")
        #expect(!folder.contents.contains("forced.h5"))
        let invalid = try Bertkit.run(["convert", bert, folder.file("x.h5"), "--layout", "sideways"])
        #expect(invalid.status == 1 && invalid.stderr.hasPrefix("error: ") && invalid.stderr.contains("--layout"), "\(invalid.stderr)")
    }

    @Test func plainFileWrittenByH5pyConvertsToItsStateDict() throws {
        let folder = TemporaryDirectory()
        let result = try Bertkit.run(["convert", Self.fixture("plain/state.h5"), folder.file("s.safetensors")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Self.bytes(folder.file("s.safetensors")) == Self.bytes(Self.fixture("plain/state.safetensors")))
        let plain = try Bertkit.run(["convert", Self.fixture("plain/state.safetensors"), folder.file("s.h5"), "--layout", "plain"])
        #expect(plain.status == 0)
        #expect(try Self.bytes(folder.file("s.h5")) == Self.bytes(Self.fixture("plain/state.h5")))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let file: String, fragment: String
        var testDescription: String { file }
    }

    static let malformed: [Case] = ((try? Fixtures.json("hdf5/malformed/cases.json")) as? [[String: String]] ?? [])
        .map { Case(file: $0["file"]!, fragment: $0["error_contains"]!) }

    @Test(arguments: malformed)
    func damagedFilesFailWithOneErrorLine(_ item: Case) throws {
        let input = Self.fixture("malformed/" + item.file)
        let folder = TemporaryDirectory()
        for arguments in [["inspect", input], ["convert", input, folder.file("out.safetensors")],
                          ["convert", input, folder.file("out.h5")]] {
            let result = try Bertkit.run(arguments)
            #expect(result.status == 1, "\(arguments[0]) \(item.file): status \(result.status)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("error: \(input): "), "\(result.stderr)")
            #expect(result.stderr.contains(item.fragment), "\(result.stderr)")
            #expect(!result.stderr.contains("HDF5-DIAG") && result.stdout.isEmpty)
            #expect(folder.contents.isEmpty)
        }
    }

    @Test func unwritableHDF5OutputLeavesNothing() throws {
        let result = try Bertkit.run(["convert", Self.fixture("mapped/tf_bert_model.safetensors"), "/nonexistent-dir/tf_model.h5"])
        #expect(result.status == 1 && result.stderr.hasPrefix("error: /nonexistent-dir/tf_model.h5: "), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }
}
