// Loading straight into int8 or bf16 (PretrainedBert.load(precision:)): every encoder linear weight is packed
// as the checkpoint is read and never stored as fp32, and the model computes exactly what loading in fp32 and
// then packing computes — for safetensors, PyTorch zip and a bf16 checkpoint (the converting path).

import Testing
import Foundation
import BertKitInternals
import TestSupport

@Suite struct LowPrecisionLoadTests {
    @Test(arguments: ["bert/tiny-seqcls", "bert/tiny-seqcls-pytorch-zip", "bert/tiny-seqcls-bf16"])
    func packingWhileLoadingEqualsPackingAfter(fixture: String) throws {
        let directory = Fixtures.path(fixture)
        let ids = [[2, 7, 9, 11, 13, 3], [2, 17, 19, 3, 0, 0]]
        let batch = try TokenBatch(inputIds: ids, attentionMask: ids.map { $0.map { $0 == 0 ? 0 : 1 } })
        func logits(_ model: BertModel) -> [Float] {
            let ws = BertWorkspace(config: model.config, head: model.head, batch: 2, sequence: 6, keepsEveryLayer: false)
            model.forward(batch, workspace: ws)
            return Array(UnsafeBufferPointer(start: ws.logits, count: 2 * model.config.numLabels))
        }
        for precision in [Precision.int8, .bf16] {
            let packedWhileLoading = try PretrainedBert.load(directory, precision: precision).model
            let reference = try PretrainedBert.load(directory).model
            let fp32 = logits(reference)
            reference.prepare(precision: precision)
            #expect(packedWhileLoading.precision == precision)
            #expect(logits(packedWhileLoading).map(\.bitPattern) == logits(reference).map(\.bitPattern), "\(fixture) \(precision)")
            #expect(logits(reference) != fp32, "the low-precision path ran")
            for name in ["bert.encoder.layer.0.attention.self.query.weight", "bert.encoder.layer.0.attention.self.value.weight",
                         "bert.encoder.layer.1.output.dense.weight"] {
                #expect(packedWhileLoading.values(of: name)!.allSatisfy { $0 == 0 }, "\(name) is packed only, never stored")
                #expect(reference.values(of: name)!.contains { $0 != 0 })
            }
            #expect(packedWhileLoading.values(of: "bert.embeddings.word_embeddings.weight")!.contains { $0 != 0 })
        }
    }
}
