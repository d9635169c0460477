// `--adapter` on the commands that take a model: an adapter trained by PEFT (Fixtures/lora/peft_trained, made by
// Tools/fixtures/make_lora_fixtures.py) checked with `parity`, and continued with `finetune --adapter`.

import Testing
import Foundation
import Safetensors
import TestSupport

@Suite struct AdapterCommandTests {
    static let base = Fixtures.path("bert/tiny-seqcls")
    static let adapter = Fixtures.path("lora/peft_trained")

    /// PEFT's logits with its adapter: within 1e-5 with `--adapter`, and a failed check (exit 2) without it,
    /// so the adapter is what makes the difference.
    @Test func parityWithAPEFTAdapter() throws {
        let reference = Self.adapter + "/reference.safetensors"
        let with = try Bertkit.run(["parity", "--model", Self.base, "--adapter", Self.adapter, "--reference", reference,
                                    "--atol", "1e-5", "--json"])
        #expect(with.status == 0, "\(with.stdout) \(with.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(with.stdout.utf8)) as! [String: Any]
        #expect((json["outputs"] as? [String: Any])?["logits"] != nil, "\(with.stdout)")
        let without = try Bertkit.run(["parity", "--model", Self.base, "--reference", reference, "--atol", "1e-5"])
        #expect(without.status == 2, "\(without.stdout) \(without.stderr)")
    }

    /// Continuing PEFT's adapter trains its LoRA matrices and classifier further and writes a PEFT folder with
    /// the same keys; labels that do not fit its classifier are refused before training.
    @Test func finetuneContinuesAPEFTAdapter() throws {
        let sandbox = try FinetuneSandbox()
        let output = sandbox.folder.file("continued")
        let result = try sandbox.finetune(output: output, ["--train", sandbox.train, "--adapter", Self.adapter, "--epochs", "1",
                                                           "--lr", "1e-2", "--save-every", "never"])
        #expect(result.status == 0, "\(result.stderr)")
        let before = try SafetensorsReader.read(path: Self.adapter + "/adapter_model.safetensors")
        let after = try SafetensorsReader.read(path: output + "/adapter_model.safetensors")
        #expect(Set(after.names) == Set(before.names))
        for name in before.names {
            #expect(after[name]?.shape == before[name]?.shape, "\(name)")
            #expect(after[name].map { !$0.isBitwiseEqual(to: before[name]!) } == true, "\(name) was not trained")
        }
        let predicted = try Bertkit.run(["predict", "--model", Self.base, "--adapter", output, "--", "a fine film"])
        #expect(predicted.status == 0, "\(predicted.stderr)")

        let mismatch = try sandbox.finetune(output: sandbox.folder.file("mismatch"),
                                            ["--train", sandbox.train, "--adapter", Self.adapter, "--labels", "neg,neu,pos,odd"])
        #expect(mismatch.status == 1)
        #expect(mismatch.stderr.hasPrefix("error: ") && mismatch.stderr.contains("3 outputs") && mismatch.stderr.contains("4 labels"),
                "\(mismatch.stderr)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.folder.file("mismatch")))
    }
}
