// The GGUF target: a .gguf file through the codec (header, metadata, tensor infos, F16 / Q8_0 data) and, when it
// parses, into a Hugging Face directory as `bertkit convert model.gguf DIR/` writes one (names mapped back, the
// vocabulary's phantom spaces undone, config.json and tokenizer_config.json built from the metadata).

import TensorCore
import GGUF
import Pipelines

let ggufTarget = FuzzTarget(
    name: "gguf",
    summary: "a .gguf file: header, metadata values and arrays, tensor infos, F32/F16/BF16/Q8_0 data, then a BERT's directory written from it",
    run: { bytes in
        guard let file = attempt({ try GGUFFile.parse(buffer: ByteBuffer(copying: bytes)) }) else { return }
        if let store = attempt({ try GGUFBertReader.stateDict(file) }) { touch(store) }
        let path = Scratch.write(Array(bytes), as: "model.gguf")
        _ = attempt { try GGUFModels.importModel(from: path, to: Scratch.subfolder("imported")) }
    },
    seeds: { _ in
        // A two-layer BERT of hidden size 32 with a 12-token vocabulary, laid out as `bertkit convert DIR model.gguf`
        // writes one, in each file type (the repository keeps no .gguf fixture: llama.cpp's converter needs the full
        // 30522-token vocabulary, 4 MB even at this size).
        let hidden = 32, intermediate = 64, layers = 2
        let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "\u{2581}the", "s", "\u{2581}film", "\u{2581}a", "\u{2581}!", "ा", "\u{2581}é"]
        let metadata: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string("bert")), ("general.type", .string("model")), ("general.name", .string("seed")),
            ("bert.block_count", .uint32(UInt32(layers))), ("bert.context_length", .uint32(16)),
            ("bert.embedding_length", .uint32(UInt32(hidden))), ("bert.feed_forward_length", .uint32(UInt32(intermediate))),
            ("bert.attention.head_count", .uint32(4)), ("bert.attention.layer_norm_epsilon", .float32(1e-12)),
            ("bert.attention.causal", .bool(false)), ("bert.pooling_type", .uint32(1)),
            ("bert.classifier.output_labels", .array(elementType: .string, [.string("neg"), .string("pos")])),
            ("tokenizer.ggml.token_type_count", .uint32(2)), ("tokenizer.ggml.model", .string("bert")),
            ("tokenizer.ggml.tokens", .array(elementType: .string, tokens.map { .string($0) })),
            ("tokenizer.ggml.token_type", .array(elementType: .int32, tokens.indices.map { .int32($0 < 5 ? 3 : 1) })),
            ("tokenizer.ggml.bos_token_id", .uint32(2)), ("tokenizer.ggml.seperator_token_id", .uint32(3)),
            ("tokenizer.ggml.padding_token_id", .uint32(0)), ("tokenizer.ggml.normalizer.lowercase", .bool(true)),
        ]
        var shapes: [(String, [Int], Bool)] = [("token_embd.weight", [tokens.count, hidden], true),
                                               ("position_embd.weight", [16, hidden], false), ("token_types.weight", [2, hidden], false),
                                               ("token_embd_norm.weight", [hidden], false), ("token_embd_norm.bias", [hidden], false),
                                               ("cls.output.weight", [2, hidden], true), ("cls.output.bias", [2], false)]
        for layer in 0..<layers {
            for part in ["attn_q", "attn_k", "attn_v", "attn_output"] {
                shapes += [("blk.\(layer).\(part).weight", [hidden, hidden], true), ("blk.\(layer).\(part).bias", [hidden], false)]
            }
            shapes += [("blk.\(layer).ffn_up.weight", [intermediate, hidden], true), ("blk.\(layer).ffn_up.bias", [intermediate], false),
                       ("blk.\(layer).ffn_down.weight", [hidden, intermediate], true), ("blk.\(layer).ffn_down.bias", [hidden], false)]
            for norm in ["attn_output_norm", "layer_output_norm"] {
                shapes += [("blk.\(layer).\(norm).weight", [hidden], false), ("blk.\(layer).\(norm).bias", [hidden], false)]
            }
        }
        return [GGMLType.f32, .f16, .q8_0].compactMap { matrixType in
            let tensors = shapes.enumerated().map { index, entry -> GGUFOutputTensor in
                let count = entry.1.reduce(1, *)
                let values = (0..<count).map { Float(($0 &* 7919 &+ index) % 200 - 100) / 400 }
                let type: GGMLType = entry.2 ? matrixType : .f32
                let f32 = Tensor(float32: values, shape: entry.1)
                if type != .q8_0 { return GGUFOutputTensor(name: entry.0, shape: entry.1, type: type, data: f32.converted(to: type.dtype)!.data) }
                let out = ByteBuffer(zeroedCount: count / Q8_0.blockSize * Q8_0.blockBytes)
                values.withUnsafeBufferPointer { Q8_0.quantize($0, into: out.mutableBaseAddress) }
                return GGUFOutputTensor(name: entry.0, shape: entry.1, type: type, data: ByteView(buffer: out))
            }
            guard let header = try? GGUFWriter.header(metadata: metadata, tensors: tensors) else { return nil }
            var bytes = header.bytes
            for tensor in tensors {
                bytes += Array(tensor.data.bytes)
                bytes += [UInt8](repeating: 0, count: (32 - tensor.data.count % 32) % 32)
            }
            return bytes
        }
    })
