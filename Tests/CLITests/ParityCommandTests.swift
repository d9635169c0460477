// `bertkit parity` on the tiny fixtures: passes on transformers' own outputs, and fails (exit 2) when one
// reference value is moved by 0.05 — the check can fail.

import Testing
import Foundation
import BertKitInternals
import TestSupport

@Suite struct ParityCommandTests {
    @Test(arguments: ["tiny-base", "tiny-seqcls", "tiny-tokcls", "tiny-qa", "tiny-mlm", "tiny-bert-base-uncased-layout"])
    func passesOnTransformersOutputs(_ fixture: String) throws {
        let directory = Fixtures.path("bert/" + fixture)
        let result = try Bertkit.run(["parity", "--model", directory, "--reference", directory + "/reference.safetensors",
                                      "--atol", "1e-5", "--json"])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        #expect(json["ok"] as? Bool == true)
        #expect(!(json["outputs"] as! [String: Any]).isEmpty)
    }

    /// Each head's weights as a PyTorch zip and legacy pickle (config.json + pytorch_model.bin only), checked
    /// against the head's transformers reference.
    @Test(arguments: ["tiny-base", "tiny-seqcls", "tiny-tokcls", "tiny-qa", "tiny-mlm"], ["pytorch-zip", "pytorch-legacy"])
    func passesWithPyTorchWeights(_ fixture: String, _ format: String) throws {
        let directory = Fixtures.path("bert/\(fixture)-\(format)")
        let result = try Bertkit.run(["parity", "--model", directory, "--reference", Fixtures.path("bert/\(fixture)/reference.safetensors"),
                                      "--atol", "1e-5", "--json"])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
    }

    /// A checkpoint tensor that does not fit the config fails the load, as from_pretrained raises without
    /// ignore_mismatched_sizes: one error line naming every mis-shaped key, exit 1.
    @Test func misShapedCheckpointIsAnError() throws {
        let folder = TemporaryDirectory()
        try FileManager.default.copyItem(atPath: Fixtures.path("bert/tiny-seqcls/model.safetensors"), toPath: folder.file("model.safetensors"))
        try FileManager.default.copyItem(atPath: Fixtures.path("bert/shape-mismatch/labels.config.json"), toPath: folder.file("config.json"))
        let result = try Bertkit.run(["parity", "--model", folder.path, "--reference", Fixtures.path("bert/tiny-seqcls/reference.safetensors")])
        #expect(result.status == 1, "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.hasPrefix("error: \(folder.file("model.safetensors")): ") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("'classifier.weight' has shape [3, 32] in the checkpoint but [2, 32] in the model"), "\(result.stderr)")
        #expect(result.stderr.contains("'classifier.bias' has shape [3] in the checkpoint but [2] in the model"), "\(result.stderr)")
    }

    /// The published bert-base-uncased has only a legacy pytorch_model.bin: the same folder without the
    /// safetensors file must load from the pickle, with its gamma/beta names.
    @Test func bertBaseUncasedLayoutFromTheLegacyPickle() throws {
        let source = Fixtures.path("bert/tiny-bert-base-uncased-layout")
        let folder = TemporaryDirectory()
        for name in ["config.json", "pytorch_model.bin", "vocab.txt", "tokenizer_config.json"] {
            try FileManager.default.copyItem(atPath: source + "/" + name, toPath: folder.file(name))
        }
        let result = try Bertkit.run(["parity", "--model", folder.path, "--reference", source + "/reference.safetensors", "--atol", "1e-5"])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("were not used when initializing BertForMaskedLM (4 tensors): bert.pooler.dense.{bias,weight}, cls.seq_relationship.{bias,weight}")
                && !result.stderr.contains("newly initialized"), "\(result.stderr)")
    }

    @Test(arguments: [("tiny-seqcls", "logits"), ("tiny-qa", "end_logits"), ("tiny-base", "pooler_output")])
    func failsWhenOneValueIsPerturbed(_ fixture: String, _ output: String) throws {
        let directory = Fixtures.path("bert/" + fixture)
        var reference = try SafetensorsReader.read(path: directory + "/reference.safetensors")
        var values = reference[output]!.float32Values()!
        values[values.count / 2] += 0.05
        reference[output] = Tensor(float32: values, shape: reference[output]!.shape)
        let folder = TemporaryDirectory()
        try SafetensorsWriter.write(reference, to: folder.file("perturbed.safetensors"))
        let result = try Bertkit.run(["parity", "--model", directory, "--reference", folder.file("perturbed.safetensors"), "--json"])
        #expect(result.status == 2, "\(result.stdout) \(result.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        let outputs = json["outputs"] as! [String: [String: Any]]
        #expect(json["ok"] as? Bool == false)
        #expect(outputs[output]?["ok"] as? Bool == false)
        #expect(abs((outputs[output]?["max_abs_diff"] as? Double ?? 0) - 0.05) < 1e-3)
    }

    @Test func errorsExitOne() throws {
        let missing = try Bertkit.run(["parity", "--model", Fixtures.path("bert/tiny-seqcls"), "--reference", "/nonexistent.safetensors"])
        #expect(missing.status == 1 && missing.stderr.hasPrefix("error: /nonexistent.safetensors"))
        let notCached = try Bertkit.run(["parity", "--model", "no-such-org/no-such-model", "--reference", "x"],
                                        environment: ["HF_HUB_CACHE": "/nonexistent-cache"])
        #expect(notCached.status == 1 && notCached.stderr.contains("/nonexistent-cache/models--no-such-org--no-such-model"), "\(notCached.stderr)")
        // A masked-LM reference against a classifier: the outputs do not fit.
        let wrong = try Bertkit.run(["parity", "--model", Fixtures.path("bert/tiny-seqcls"),
                                     "--reference", Fixtures.path("bert/tiny-qa/reference.safetensors")])
        #expect(wrong.status == 1 && wrong.stderr.hasPrefix("error: "), "\(wrong.stderr)")
    }

    /// A cache laid out as huggingface_hub lays it out under `hub`: blobs, relative symlinks, refs/main
    /// without newline.
    static func makeHubCache(_ hub: String) throws {
        let repo = hub + "/models--tiny-org--tiny-seqcls"
        let commit = String(repeating: "a1", count: 20)
        let snapshot = repo + "/snapshots/" + commit
        try FileManager.default.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: repo + "/blobs", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: repo + "/refs", withIntermediateDirectories: true)
        for (i, name) in ["config.json", "model.safetensors"].enumerated() {
            try FileManager.default.copyItem(atPath: Fixtures.path("bert/tiny-seqcls/" + name), toPath: repo + "/blobs/blob\(i)")
            try FileManager.default.createSymbolicLink(atPath: snapshot + "/" + name, withDestinationPath: "../../blobs/blob\(i)")
        }
        try commit.write(toFile: repo + "/refs/main", atomically: true, encoding: .utf8)
    }

    /// Every Hugging Face cache variable unset (empty), then `set`: the lookup sees only what the test gives.
    static func hubEnvironment(_ set: [String: String]) -> [String: String] {
        var environment = ["HF_HUB_CACHE": "", "HUGGINGFACE_HUB_CACHE": "", "HF_HOME": "", "XDG_CACHE_HOME": "", "HOME": "/nonexistent-home"]
        for (key, value) in set { environment[key] = value }
        return environment
    }

    static func parityOnHubId(_ environment: [String: String]) throws -> CommandResult {
        try Bertkit.run(["parity", "--model", "tiny-org/tiny-seqcls", "--reference", Fixtures.path("bert/tiny-seqcls/reference.safetensors")],
                        environment: hubEnvironment(environment))
    }

    /// HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub:
    /// each place is found when it holds the model, and an earlier variable wins over a later one.
    @Test func resolvesHubIdsInTheCache() throws {
        let root = TemporaryDirectory()
        let places: [(variable: String, value: String, hub: String)] = [
            ("HF_HUB_CACHE", root.path + "/hub-cache", root.path + "/hub-cache"),
            ("HF_HOME", root.path + "/hf-home", root.path + "/hf-home/hub"),
            ("XDG_CACHE_HOME", root.path + "/xdg", root.path + "/xdg/huggingface/hub"),
            ("HOME", root.path + "/home", root.path + "/home/.cache/huggingface/hub"),
        ]
        for place in places {
            try Self.makeHubCache(place.hub)
            let found = try Self.parityOnHubId([place.variable: place.value])
            #expect(found.status == 0, "\(place.variable): \(found.stderr)")
        }
        // An earlier variable pointing at a cache without the model wins: the error says where it looked.
        let empty = root.path + "/empty"
        for (index, place) in places.enumerated().dropLast() {
            let later = places[(index + 1)...]
            var environment = Dictionary(uniqueKeysWithValues: later.map { ($0.variable, $0.value) })
            environment[place.variable] = empty
            let hub = place.variable == "HF_HUB_CACHE" ? empty : place.variable == "HF_HOME" ? empty + "/hub" : empty + "/huggingface/hub"
            let missed = try Self.parityOnHubId(environment)
            #expect(missed.status == 1 && missed.stderr.contains(hub + "/models--tiny-org--tiny-seqcls/refs/main"),
                    "\(place.variable): \(missed.stderr)")
        }
    }
}
