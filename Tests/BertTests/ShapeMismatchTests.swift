// Checkpoint tensors whose shape does not fit the config (Fixtures/bert/shape-mismatch, made by
// make_bert_fixtures.py with transformers 5.24): loading fails naming every mis-shaped key, as
// from_pretrained raises; with re-initialisation (ignore_mismatched_sizes=True) the load report lists the
// same mismatched, missing and unexpected keys as transformers' output_loading_info.

import Testing
import Foundation
import TensorCore
import Safetensors
import Bert
import TestSupport

@Suite struct ShapeMismatchTests {
    struct Case {
        let config: BertConfig
        let head: BertHead
        let store: TensorStore
        let mismatched: [BertShapeMismatch]
        let missing: [String]
        let unexpected: [String]
    }

    static func load(_ name: String) throws -> Case {
        let all = try #require(try Fixtures.json("bert/shape-mismatch/transformers.json") as? [String: [String: Any]])
        let item = try #require(all[name], "no case '\(name)' in transformers.json")
        let configFile = try #require(item["config"] as? String), weights = try #require(item["weights"] as? String)
        let className = try #require(item["class"] as? String)
        let rows = try #require(item["mismatched_keys"] as? [[Any]])
        let mismatched = try rows.map { row in
            BertShapeMismatch(name: try #require(row[0] as? String), checkpoint: try #require(row[1] as? [Int]),
                              model: try #require(row[2] as? [Int]))
        }
        return Case(config: try BertConfig(json: JSONReader.parse(try readFileBytes(Fixtures.path("bert/shape-mismatch/" + configFile)))),
                    head: try #require(BertHead(architecture: className)),
                    store: try SafetensorsReader.read(path: Fixtures.path("bert/" + weights)),
                    mismatched: mismatched, missing: try #require(item["missing_keys"] as? [String]),
                    unexpected: try #require(item["unexpected_keys"] as? [String]))
    }

    static let cases = ["labels", "positions", "vocabulary"]

    @Test func everyRecordedCaseIsTested() throws {
        let all = try #require(try Fixtures.json("bert/shape-mismatch/transformers.json") as? [String: Any])
        #expect(all.keys.sorted() == Self.cases)
    }

    @Test(arguments: cases)
    func misShapedTensorsFailTheLoadNamingEveryOne(_ name: String) throws {
        let item = try Self.load(name)
        #expect(!item.mismatched.isEmpty)
        do {
            _ = try BertCheckpointMapping.load(item.store, into: BertModel(config: item.config, head: item.head))
            Issue.record("a mis-shaped checkpoint loaded")
        } catch BertLoadError.shapeMismatch(let found) {
            #expect(found.sorted { $0.name < $1.name } == item.mismatched)
            let message = String(describing: BertLoadError.shapeMismatch(found))
            for key in item.mismatched {
                #expect(message.contains("'\(key.name)' has shape \(Shape.describe(key.checkpoint)) in the checkpoint but \(Shape.describe(key.model))"),
                        "\(message)")
            }
        }
    }

    @Test(arguments: cases)
    func reinitialisingReportsWhatTransformersReports(_ name: String) throws {
        let item = try Self.load(name)
        let model = BertModel(config: item.config, head: item.head)
        let report = try BertCheckpointMapping.load(item.store, into: model, reinitialiseMismatched: true)
        #expect(report.mismatched.sorted { $0.name < $1.name } == item.mismatched)
        #expect(report.missing.sorted() == item.missing)
        #expect(report.unexpected.sorted() == item.unexpected)
        // Re-initialised as transformers initialises a new parameter: normal(0, 0.02) weights, zero biases.
        for key in item.mismatched {
            let values = try #require(model.values(of: key.name))
            #expect(values.count == key.model.reduce(1, *))
            if key.name.hasSuffix("bias") {
                #expect(values.allSatisfy { $0 == 0 }, "\(key.name)")
            } else {
                let mean = values.reduce(0, +) / Float(values.count)
                let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(values.count)).squareRoot()
                #expect(abs(std - 0.02) < 0.006, "\(key.name): std \(std)")
            }
        }
    }
}
