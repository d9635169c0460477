// Checkpoints as transformers' Trainer keeps them: `checkpoint-<step>/` folders written atomically, rotated to
// `save_total_limit` with the newest and the best protected, and restored exactly on `resume`.

import TensorCore
import Safetensors
import Bert

extension Trainer {
    /// `checkpoint-<step>/`: the model directory plus `optimizer.safetensors` and `trainer_state.json`,
    /// written into a temporary folder and renamed into place.
    func saveCheckpoint() throws {
        guard group.isLeader else { return }
        let folder = outputDirectory + "/checkpoint-\(state.globalStep)"
        try writeAtomicFolder(folder) { temporary in
            try self.exportModel(self.model, temporary)
            var moments = TensorStore()
            let count = self.optimizer.m.count
            moments["exp_avg"] = Tensor(dtype: .f32, shape: [count], copying: UnsafeRawBufferPointer(start: self.optimizer.m.pointer, count: count * 4))
            moments["exp_avg_sq"] = Tensor(dtype: .f32, shape: [count], copying: UnsafeRawBufferPointer(start: self.optimizer.v.pointer, count: count * 4))
            try SafetensorsWriter.write(moments, to: temporary + "/optimizer.safetensors",
                                        metadata: ["step": String(self.optimizer.step), "format": "bertkit-adamw"])
            try AtomicFileWriter.write(JSONWriter.pretty(self.state.json) + "\n", to: temporary + "/trainer_state.json")
        }
        onEvent(.checkpointSaved(folder))
        try pruneCheckpoints()
    }

    /// transformers 5.24's `rotate_checkpoints`: the newest and the best checkpoint are protected, the oldest
    /// others are deleted until `limit` remain (never fewer than the protected ones, so a limit of 1 keeps 2
    /// while the best is not the newest).
    func pruneCheckpoints() throws {
        guard let limit = options.saveTotalLimit, limit > 0 else { return }
        let steps = checkpointSteps()
        guard let newest = steps.last else { return }
        let protected = Set([newest] + (state.bestStep.map { steps.contains($0) ? [$0] : [] } ?? []))
        var remaining = steps.count
        for step in steps where remaining > max(limit, protected.count) && !protected.contains(step) {
            removeTree(outputDirectory + "/checkpoint-\(step)")
            remaining -= 1
        }
    }

    func checkpointSteps() -> [Int] {
        listDirectory(outputDirectory).compactMap { name -> Int? in
            guard name.hasPrefix("checkpoint-") else { return nil }
            return Int(name.dropFirst("checkpoint-".count))
        }.filter { fileExists(outputDirectory + "/checkpoint-\($0)/trainer_state.json") }.sorted()
    }

    func restoreLatestCheckpoint() throws {
        guard let step = checkpointSteps().last else { throw TrainerError.noCheckpoint(outputDirectory) }
        let folder = outputDirectory + "/checkpoint-\(step)"
        let saved = try withFileContext(folder + "/trainer_state.json") { try TrainerState(json: JSONReader.parse(try readFileBytes(folder + "/trainer_state.json"))) }
        guard saved.fingerprint == fingerprint else {
            throw TrainerError.resumeMismatch("the checkpoint was made with [\(saved.fingerprint)], this run is [\(fingerprint)]")
        }
        state = saved
        try restoreTrainedWeights(from: folder)
        let moments = try SafetensorsReader.read(path: folder + "/optimizer.safetensors")
        guard let m = moments["exp_avg"]?.float32Values(), let v = moments["exp_avg_sq"]?.float32Values(),
              m.count == optimizer.m.count, let step = moments.metadata["step"].flatMap(Int.init) else {
            throw TrainerError.badCheckpoint("\(folder)/optimizer.safetensors does not fit this model")
        }
        optimizer.restore(step: step, m: m, v: v)
    }

    /// The trained weights of a checkpoint or of the best model: a model directory's `model.safetensors`,
    /// or a PEFT adapter's `adapter_model.safetensors`.
    func restoreTrainedWeights(from folder: String) throws {
        if let adapters {
            let path = folder + "/adapter_model.safetensors"
            try withFileContext(path) { try adapters.loadPEFT(try SafetensorsReader.read(path: path), into: model) }
        } else {
            let path = folder + "/model.safetensors"
            let report = try withFileContext(path) { try BertCheckpointMapping.load(try SafetensorsReader.read(path: path), into: model) }
            guard report.missing.isEmpty else { throw TrainerError.badCheckpoint("\(folder) lacks \(report.missing.joined(separator: ", "))") }
        }
    }

    func writeParameters(into folder: String) throws {
        if let adapters {
            try SafetensorsWriter.write(adapters.peftStateDict(model: model), to: folder + "/adapter_model.safetensors")
        } else {
            try SafetensorsWriter.write(model.stateDict(), to: folder + "/model.safetensors")
        }
    }
}

extension EarlyStopping {
    mutating func restore(counter value: Int) {
        self = EarlyStopping(patience: patience, threshold: threshold, counter: value)
    }
}
