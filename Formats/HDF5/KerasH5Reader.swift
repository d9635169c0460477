// Reads Keras-2 weight files (`Model.save_weights("….h5")`, which `TF*.save_pretrained()` writes as
// tf_model.h5) into PyTorch-named tensors, as transformers 4.x's `from_pretrained(..., from_tf=True)`
// did: names come from the `layer_names` / `weight_names` attributes (Keras'
// `load_attributes_from_hdf5_group`, chunked `name0, name1, …` included), never from the tree; each
// weight is the dataset `/<layer>/<weight name>`; names and transposes follow `KerasNames`.
// The masked-LM head's second copies of the embedding weights fold into one tensor, and the tied
// decoder is provided as views of the same bytes as the weights it is tied to.

import TensorCore

package enum KerasH5Reader {
    /// True when the root group carries Keras' `layer_names` (whole or chunked).
    package static func isKerasLayout(_ root: HDF5Group) throws -> Bool {
        try root.hasAttribute("layer_names") || root.hasAttribute("layer_names0")
    }

    /// Keras' `load_attributes_from_hdf5_group`: attribute `name`, else `name0`, `name1`, … until one
    /// is missing; nil when neither exists. Strings of any storage; zero-length attributes are `[]`.
    static func stringList(_ object: HDF5Object, _ name: String) throws -> [String]? {
        if try object.hasAttribute(name) { return try strings(object, name) }
        guard try object.hasAttribute(name + "0") else { return nil }
        var values: [String] = []
        var chunk = 0
        while try object.hasAttribute("\(name)\(chunk)") {
            values += try strings(object, "\(name)\(chunk)")
            chunk += 1
        }
        return values
    }

    private static func strings(_ object: HDF5Object, _ name: String) throws -> [String] {
        let value = try object.readAttribute(name)
        guard let list = value.stringList else {
            let found: String
            switch value {
            case .floats(_, let scalar): found = scalar ? "a float" : "floats"
            case .integers(_, let scalar): found = scalar ? "an integer" : "integers"
            case .unsupported(let type), .empty(let type): found = type.description
            case .strings: found = "strings"
            }
            throw HDF5Error.attributeNotStrings(object: object.path, name: name, found: found)
        }
        return list
    }

    /// The tensors of an open Keras weight file, PyTorch-named, plus remarks for `inspect`.
    static func read(root: HDF5Group, mapping: ByteBuffer?) throws -> (store: TensorStore, notes: [String]) {
        let layerNames = try stringList(root, "layer_names") ?? []
        // (layer, weight variable name, tensor as stored)
        var weights: [(layer: String, variable: String, tensor: Tensor)] = []
        var layersWithWeights: [String] = []
        for layer in layerNames {
            guard let kind = try root.kind(of: layer) else { throw HDF5Error.layerMissing(layer: layer) }
            guard kind == .group else { throw HDF5Error.wrongObjectKind(path: "/" + layer, expected: "group", found: kind.rawValue) }
            let group = try root.openGroup(layer)
            let names = try stringList(group, "weight_names") ?? []
            if !names.isEmpty { layersWithWeights.append(layer) }
            for name in names {
                guard try group.kind(of: name) == .dataset else { throw HDF5Error.weightMissing(layer: layer, weight: name) }
                let dataset = try group.openDataset(name)
                weights.append((layer, name, try HDF5TensorIO.read(dataset, mapping: mapping)))
                try dataset.close()
            }
            try group.close()
        }

        // A base model (TFBertModel …) maps to a PyTorch model without the `bert.` prefix.
        let modelName = weights.first.map { String($0.variable.split(separator: "/", omittingEmptySubsequences: false)[0]) } ?? ""
        let baseModel = layersWithWeights.count == 1 && KerasNames.isBaseModelName(modelName)
        let prefixToRemove = baseModel ? layersWithWeights[0] + "." : ""

        // Names first (duplicates compared as stored), then every transpose in one go.
        var mapped: [(name: String, stored: Tensor, axes: [Int]?)] = []
        var index: [String: Int] = [:]
        var source: [String: String] = [:]
        var folded = 0
        for (layer, variable, stored) in weights {
            let (name, transpose) = KerasNames.pytorchName(forTensorFlow: variable, rank: stored.shape.count,
                                                           startPrefixToRemove: prefixToRemove)
            let origin = "/\(layer)/\(variable)"
            if let existing = index[name] {
                guard mapped[existing].stored.isBitwiseEqual(to: stored) else {
                    throw HDF5Error.conflictingDuplicate(name: name, first: source[name]!, second: origin)
                }
                folded += 1
                continue
            }
            index[name] = mapped.count
            source[name] = origin
            mapped.append((name, stored, transpose.axes(rank: stored.shape.count)))
        }
        let moving = mapped.indices.filter { mapped[$0].axes != nil }
        let transposed = TensorTranspose.permuteAll(moving.map { (mapped[$0].stored, mapped[$0].axes!) })
        var store = TensorStore()
        var next = 0
        for (position, entry) in mapped.enumerated() {
            if entry.axes != nil, moving[next] == position {
                store[entry.name] = transposed[next]
                next += 1
            } else {
                store[entry.name] = entry.stored
            }
        }
        // The TF masked-LM head multiplies by the word embeddings; PyTorch has a decoder tied to them.
        if let bias = store["cls.predictions.bias"], let words = store["bert.embeddings.word_embeddings.weight"],
           store["cls.predictions.decoder.weight"] == nil {
            store["cls.predictions.decoder.weight"] = words
            store["cls.predictions.decoder.bias"] = bias
        }

        var notes = ["Keras weights of '\(modelName)', layers " + layerNames.joined(separator: ", ")
                     + "; names mapped to PyTorch as transformers 4.x does" + (baseModel ? " (base model: '\(prefixToRemove)' removed)" : "")]
        if folded > 0 { notes.append("\(folded) duplicate weight copies (identical) folded into one tensor each") }
        if store.contains("cls.predictions.decoder.weight") && source["cls.predictions.decoder.weight"] == nil {
            notes.append("cls.predictions.decoder.{weight,bias} are tied to bert.embeddings.word_embeddings.weight and cls.predictions.bias")
        }
        for key in try root.attributeNames() where key == "backend" || key == "keras_version" {
            if case .strings(let values, _) = try root.readAttribute(key), let value = values.first {
                store.metadata[key] = value
            }
        }
        return (store, notes)
    }
}
