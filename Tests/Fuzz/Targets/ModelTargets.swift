// Targets for a model directory: config.json with its weights, and a PEFT adapter folder on a fixed base model.

#if canImport(Glibc)
import Glibc
#endif
import TensorCore
import Bert
import Pipelines

/// The repository root: fixtures the targets need at run time (the PEFT base model, the tokenizer's vocabulary) are
/// read from here. `Tools/fuzz` and the Swift suite run from the root; BERTKIT_ROOT overrides.
let repositoryRoot: String = getenv("BERTKIT_ROOT").map { String(cString: $0) } ?? "."

/// The harness's own bound on a fuzzed config's size (not the library's: bertkit loads any config that fits in the
/// machine's memory): past it the input is dropped, so that libFuzzer's memory limit reports real over-allocation only.
let fuzzParameterLimit = 64e6

let configTarget = FuzzTarget(
    name: "model-dir",
    summary: "a model directory: config.json (model_type, sizes, labels) + model.safetensors, loaded into a BertModel as `bertkit` loads one",
    run: { bytes in
        let (config, weights) = splitInput(bytes)
        guard let json = attempt({ try JSONReader.parse(config) }) else { return }
        guard let parsed = attempt({ try BertConfig(json: json) }) else { return }
        guard attempt({ try parsed.checkParameterMemory(limit: fuzzParameterLimit) }) != nil else { return }
        let folder = Scratch.subfolder("model")
        Scratch.write(config, as: "model/config.json")
        Scratch.write(weights, as: "model/model.safetensors")
        blackHole(attempt { try PretrainedBert.load(folder) })
    },
    seeds: { root in
        var seeds: [[UInt8]] = []
        for name in listDirectory(root + "/Fixtures/bert") {
            let folder = root + "/Fixtures/bert/" + name
            guard let config = try? readFileBytes(folder + "/config.json") else { continue }
            guard let weights = try? readFileBytes(folder + "/model.safetensors") else { continue }
            if weights.count <= 256 << 10 { seeds.append(joinInput(config, weights)) }
        }
        for name in listDirectory(root + "/Fixtures/foreign") {
            if let config = try? readFileBytes(root + "/Fixtures/foreign/" + name + "/config.json") { seeds.append(config) }
        }
        return seeds
    })

/// The base every fuzzed adapter is attached to (a 2-layer, hidden-32 sequence classifier).
let peftBase = repositoryRoot + "/Fixtures/bert/tiny-seqcls"

let peftTarget = FuzzTarget(
    name: "peft",
    summary: "a PEFT LoRA adapter folder: adapter_config.json + adapter_model.safetensors, attached to a tiny base model",
    run: { bytes in
        let (config, weights) = splitInput(bytes)
        let folder = Scratch.subfolder("adapter")
        Scratch.write(config, as: "adapter/adapter_config.json")
        Scratch.write(weights, as: "adapter/adapter_model.safetensors")
        blackHole(attempt { try PretrainedBert.load(peftBase, head: nil, adapter: folder) })
    },
    seeds: { root in
        var seeds: [[UInt8]] = []
        func add(_ folder: String) {
            if let config = try? readFileBytes(folder + "/adapter_config.json"),
               let weights = try? readFileBytes(folder + "/adapter_model.safetensors") { seeds.append(joinInput(config, weights)) }
            for name in listDirectory(folder) where isDirectory(folder + "/" + name) { add(folder + "/" + name) }
        }
        add(root + "/Fixtures/lora")
        return seeds
    })
