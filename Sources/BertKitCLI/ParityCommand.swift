// `bertkit parity`: compare bertkit's outputs with a reference file written by transformers.

import ArgumentParser
import BertKit
import Foundation
import TensorCore   // printing only: JSONWriter, Shape.describe

struct ParityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parity",
        abstract: "Check the model's outputs against a reference file written by transformers (Tools/make_reference.py).",
        discussion: "Exit status: 0 when every output is within tolerance, 2 when one is not, 1 on errors.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var precisionOptions: InferenceOptions

    @Option(help: "Safetensors file with input_ids, attention_mask, token_type_ids and expected outputs.")
    var reference: String

    @Option(help: "Absolute tolerance.")
    var atol: Double = 1e-4

    @Option(help: "Relative tolerance.")
    var rtol: Double = 0

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        if atol < 0 || rtol < 0 { throw ValidationError("tolerances must not be negative") }
    }

    func run() throws {
        let model = try modelOptions.load(quiet: json, precision: precisionOptions.precision)
        let result = try model.checkParity(reference: reference, absoluteTolerance: atol, relativeTolerance: rtol)
        if json {
            var outputs = JSONObject()
            for c in result.outputs {
                outputs.set(c.name, .object(JSONObject([
                    ("max_abs_diff", .double(c.maxAbsoluteDifference.isFinite ? c.maxAbsoluteDifference : Double.greatestFiniteMagnitude)),
                    ("max_rel_diff", .double(c.maxRelativeDifference.isFinite ? c.maxRelativeDifference : Double.greatestFiniteMagnitude)),
                    ("where", .array(c.worstIndex.map { .int($0) })),
                    ("ok", .bool(c.withinTolerance))])))
            }
            Console.out(JSONWriter.pretty(.object(JSONObject([("ok", .bool(result.passed)), ("outputs", .object(outputs))])),
                                          sortKeys: false, ensureASCII: false))
        } else {
            var rows = [["output", "shape", "max abs diff", "max rel diff", "at", "bertkit", "reference", ""]]
            for c in result.outputs {
                rows.append([c.name, Shape.describe(c.shape), format(c.maxAbsoluteDifference), format(c.maxRelativeDifference),
                             Shape.describe(c.worstIndex), "\(c.value)", "\(c.referenceValue)", c.withinTolerance ? "ok" : "FAIL"])
            }
            Console.out(Console.table(rows))
            Console.out(result.passed ? "parity: ok (atol \(atol), rtol \(rtol))" : "parity: FAILED (atol \(atol), rtol \(rtol))")
        }
        if !result.passed { throw ExitCode(2) }
    }

    private func format(_ value: Double) -> String {
        value.isFinite ? String(format: "%.3g", value) : "inf"
    }
}
