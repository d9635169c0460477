// The ONNX target: a .onnx file through swift-protobuf's parse of the ModelProto and bertkit's reading of it (opset,
// inputs and outputs, initializers from raw_data, the typed fields or external data), as `inspect` and `convert`
// read one.

import TensorCore
import ONNX
import Checkpoints
import Pipelines

let onnxTarget = FuzzTarget(
    name: "onnx",
    summary: "a .onnx file: the protobuf ModelProto, graph inputs and outputs, initializers (raw, typed fields, external data)",
    run: { bytes in
        let path = Scratch.write(Array(bytes), as: "model.onnx")
        if let file = attempt({ try ONNXFile.read(path: path) }) { touch(file.initializers) }
    },
    seeds: { root in
        // bertkit's graphs of the tiny fixture models (every head there is). External data is not seeded: its file
        // would sit outside the input the fuzzer changes (ONNXCodecTests covers that path).
        var seeds: [[UInt8]] = []
        for name in listDirectory(root + "/Fixtures/bert").sorted() where fileExists(root + "/Fixtures/bert/\(name)/config.json") {
            let path = Scratch.folder + "/seed.onnx"
            guard let model = try? PretrainedBert.load(root + "/Fixtures/bert/" + name).model,
                  let graph = try? ONNXExport.graph(model), (try? graph.write(to: path)) != nil,
                  let bytes = try? readFileBytes(path) else { continue }
            seeds.append(bytes)
        }
        return seeds
    })
