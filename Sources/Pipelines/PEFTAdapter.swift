// PEFT adapter folders: `adapter_config.json` + `adapter_model.safetensors`, read and written as PEFT
// 0.21.2 does (Docs/specs/hf_conventions.md §6), so `PeftModel.from_pretrained(base, folder)` restores a
// bertkit adapter — classifier included — and bertkit runs adapters PEFT trained.

import TensorCore
import Safetensors
import Bert

package enum PEFTAdapterError: Error, CustomStringConvertible {
    case notLoRA(String)
    case unsupported(key: String, value: String)
    case missingKey(String)

    package var description: String {
        switch self {
        case .notLoRA(let type): return "peft_type is '\(type)'; only LORA adapters are supported"
        case .unsupported(let key, let value): return "'\(key)' = \(value) is not supported (bertkit implements plain LoRA)"
        case .missingKey(let key): return "adapter_config.json has no '\(key)'"
        }
    }
}

package struct PEFTAdapterConfig: Sendable {
    package var lora = LoRAConfig()
    package var taskType = "SEQ_CLS"
    package var baseModelNameOrPath: String? = nil

    package init() {}

    /// The modules PEFT trains in full for a task (its `_set_trainable` defaults).
    package static func defaultModulesToSave(for head: BertHead) -> [String] {
        switch head {
        case .sequenceClassification, .tokenClassification: return ["classifier", "score"]
        case .questionAnswering: return ["qa_outputs"]
        case .maskedLM, .base: return []
        }
    }

    package init(json: JSONValue) throws {
        func value(_ key: String) -> JSONValue? {
            guard let item = json[key], !item.isNull else { return Optional<JSONValue>.none }
            return item
        }
        if let type = value("peft_type")?.stringValue, type != "LORA" { throw PEFTAdapterError.notLoRA(type) }
        guard let rank = value("r")?.intValue else { throw PEFTAdapterError.missingKey("r") }
        lora.rank = rank
        lora.alpha = Float(value("lora_alpha")?.doubleValue ?? 8)
        lora.dropout = Float(value("lora_dropout")?.doubleValue ?? 0)
        lora.useRSLoRA = value("use_rslora")?.boolValue ?? false
        switch value("target_modules") {
        case .string(let pattern)?: lora.targets = .regex(pattern)
        case .array(let names)?: lora.targets = .names(names.compactMap(\.stringValue))
        case .null?: lora.targets = .modelDefault   // PEFT's default for the model type
        default: throw PEFTAdapterError.missingKey("target_modules")
        }
        lora.modulesToSave = value("modules_to_save")?.arrayValue?.compactMap(\.stringValue) ?? []
        taskType = value("task_type")?.stringValue ?? taskType
        baseModelNameOrPath = value("base_model_name_or_path")?.stringValue
        // Variants that change the math: refuse rather than compute something else.
        if value("use_dora")?.boolValue == true { throw PEFTAdapterError.unsupported(key: "use_dora", value: "true") }
        if let bias = value("bias")?.stringValue, bias != "none" { throw PEFTAdapterError.unsupported(key: "bias", value: bias) }
        if value("fan_in_fan_out")?.boolValue == true { throw PEFTAdapterError.unsupported(key: "fan_in_fan_out", value: "true") }
        for key in ["rank_pattern", "alpha_pattern"] {
            if let object = value(key)?.objectValue, !object.members.isEmpty {
                throw PEFTAdapterError.unsupported(key: key, value: JSONWriter.compact(.object(object)))
            }
        }
        for key in ["layers_to_transform", "layer_replication", "exclude_modules", "target_parameters"] {
            if let item = value(key) { throw PEFTAdapterError.unsupported(key: key, value: JSONWriter.compact(item)) }
        }
        if value("lora_bias")?.boolValue == true { throw PEFTAdapterError.unsupported(key: "lora_bias", value: "true") }
    }

    /// adapter_config.json exactly as PEFT 0.21.2 writes it: every key, sorted, indent 2, no final newline.
    package var jsonText: String {
        let targets: JSONValue
        switch lora.targets {
        case .names(let names): targets = .array(names.map { .string($0) })
        case .regex(let pattern): targets = .string(pattern)
        case .modelDefault: targets = .null   // PEFT resolves it from the model type on load
        }
        let object = JSONObject([
            ("alora_invocation_tokens", nil), ("alpha_pattern", .object(JSONObject())), ("arrow_config", nil),
            ("auto_mapping", nil), ("base_model_name_or_path", baseModelNameOrPath.map { .string($0) } ?? nil),
            ("bias", "none"), ("corda_config", nil), ("ensure_weight_tying", false), ("eva_config", nil),
            ("exclude_modules", nil), ("fan_in_fan_out", false), ("inference_mode", true), ("init_lora_weights", true),
            ("kasa_config", nil), ("layer_replication", nil), ("layers_pattern", nil), ("layers_to_transform", nil),
            ("loftq_config", .object(JSONObject())), ("lora_alpha", jsonNumber(lora.alpha)), ("lora_bias", false),
            ("lora_dropout", .double(Double(lora.dropout.description) ?? 0)), ("lora_ga_config", nil), ("megatron_config", nil),
            ("megatron_core", "megatron.core"), ("modules_to_save", lora.modulesToSave.isEmpty ? nil : .array(lora.modulesToSave.map { .string($0) })),
            ("monteclora_config", nil), ("peft_type", "LORA"), ("peft_version", "0.21.2"), ("qalora_group_size", 16),
            ("r", .int(lora.rank)), ("rank_pattern", .object(JSONObject())), ("revision", nil), ("target_modules", targets),
            ("target_parameters", nil), ("task_type", .string(taskType)), ("trainable_token_indices", nil), ("use_bdlora", nil),
            ("use_dora", false), ("use_qalora", false), ("use_rslora", .bool(lora.useRSLoRA)), ("velora_config", nil),
        ])
        return JSONWriter.pretty(.object(object))
    }

    private func jsonNumber(_ value: Float) -> JSONValue {
        value == value.rounded() && abs(value) < 1e9 ? .int(Int(value)) : .double(Double(value.description) ?? Double(value))
    }
}

package enum PEFTAdapter {
    package static func readConfig(folder: String) throws -> PEFTAdapterConfig {
        let path = folder + "/adapter_config.json"
        return try withFileContext(path) { try PEFTAdapterConfig(json: JSONReader.parse(try readFileBytes(path))) }
    }

    /// Reads an adapter folder and attaches it to `model` (its saved modules are loaded into the model).
    package static func load(folder: String, into model: BertModel) throws -> LoRAAdapters {
        let config = try readConfig(folder: folder)
        let adapters = try withFileContext(folder + "/adapter_config.json") { try LoRAAdapters(model: model, config: config.lora) }
        let weights = folder + "/adapter_model.safetensors"
        try withFileContext(weights) { try adapters.loadPEFT(try SafetensorsReader.read(path: weights), into: model) }
        return adapters
    }

    /// Writes `adapter_config.json` and `adapter_model.safetensors` into `folder`.
    package static func write(_ adapters: LoRAAdapters, model: BertModel, baseModel: String?, folder: String) throws {
        var config = PEFTAdapterConfig()
        config.lora = adapters.config
        config.taskType = model.head.peftTaskType
        config.baseModelNameOrPath = baseModel
        try AtomicFileWriter.write(config.jsonText, to: folder + "/adapter_config.json")
        try SafetensorsWriter.write(adapters.peftStateDict(model: model), to: folder + "/adapter_model.safetensors")
    }
}
