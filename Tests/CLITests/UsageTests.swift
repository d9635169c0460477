// Help and usage errors: help prints and exits 0; a usage or validation error is one `error:` line and exit 1,
// like every other failure.

import Testing
import Foundation
import TestSupport

@Suite struct UsageTests {
    @Test(arguments: [["--help"], ["convert", "--help"], ["fill-mask", "--help"], ["help", "finetune"]])
    func helpPrintsUsageAndExitsZero(_ arguments: [String]) throws {
        let result = try Bertkit.run(arguments)
        #expect(result.status == 0, "\(arguments): \(result.stderr)")
        #expect(result.stdout.contains("USAGE:"), "\(arguments): \(result.stdout)")
        #expect(!result.stderr.contains("error:"))
    }

    @Test(arguments: [["convert"], ["inspect", "a", "b"], ["convert", "a", "b", "--dtype", "f8"], ["frobnicate"]])
    func usageErrorsAreOneErrorLine(_ arguments: [String]) throws {
        let result = try Bertkit.run(arguments)
        #expect(result.status == 1, "\(arguments): \(result.status)")
        #expect(result.stderr.hasPrefix("error: ") && result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
        #expect(result.stdout.isEmpty)
    }
}

/// `bertkit benchmark touch`: the codec benchmarks' in-process timing of opening a file and reading every tensor.
@Suite struct BenchmarkTouchTests {
    @Test(arguments: ["safetensors/tiny_bert.safetensors", "pytorch/tiny_bert_mlm.bin", "hdf5/tf-h5/tf_bert_model/tf_model.h5"])
    func touchReadsEveryTensor(_ fixture: String) throws {
        let touch = try Bertkit.run(["benchmark", "touch", Fixtures.path(fixture)])
        #expect(touch.status == 0, "\(touch.stderr)")
        let timing = try JSONSerialization.jsonObject(with: Data(touch.stdout.utf8)) as! [String: Any]
        let inspect = try JSONSerialization.jsonObject(with: Data(try Bertkit.run(["inspect", "--json", Fixtures.path(fixture)]).stdout.utf8)) as! [String: Any]
        #expect(timing["tensors"] as? Int == (inspect["tensors"] as! [Any]).count)
        #expect((timing["seconds"] as? Double).map { $0 > 0 } == true)
        #expect((timing["bytes"] as? Int).map { $0 > 0 } == true)
    }
}

/// `bertkit benchmark train-step`: the Trainer's own steps, timed; nothing left behind in its temporary folder (a
/// TMPDIR of the test's own, so that nothing else writes there).
@Suite struct BenchmarkTrainStepTests {
    @Test(arguments: [["--precision", "fp32"], ["--precision", "bf16", "--lora-r", "2"]])
    func trainStepTimesTheRequestedStepsAndLeavesNothing(_ extra: [String]) throws {
        let temporary = TemporaryDirectory()
        let result = try Bertkit.run(["benchmark", "train-step", "--model", Fixtures.path("bert/tiny-seqcls"), "--batch", "4",
                                      "--sequence", "16", "--iterations", "3", "--threads", "1"] + extra,
                                     environment: ["TMPDIR": temporary.path])
        #expect(result.status == 0, "\(result.stderr)")
        let timing = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        let seconds = try #require(timing["seconds"] as? [Double])
        #expect(seconds.count == 3 && seconds.allSatisfy { $0 > 0 }, "\(timing)")
        #expect(timing["precision"] as? String == extra[1] && timing["batch"] as? Int == 4)
        #expect(temporary.contents.isEmpty, "\(temporary.contents)")
    }

    @Test(arguments: [["train-step", "--iterations", "0"], ["train-step", "--batch", "0"], ["forward", "--sequence", "0"],
                      ["train-step", "--precision", "int8"]])
    func badSizesAreOneErrorLine(_ arguments: [String]) throws {
        let result = try Bertkit.run(["benchmark"] + arguments + ["--model", Fixtures.path("bert/tiny-seqcls")])
        #expect(result.status == 1 && result.stderr.hasPrefix("error: ") && result.stderr.split(separator: "\n").count == 1,
                "\(arguments): \(result.stderr)")
    }
}
