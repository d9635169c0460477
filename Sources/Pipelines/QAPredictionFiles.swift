// The files run_qa.py writes after post-processing, each written atomically: `predictions.json` (id → answer),
// `nbest_predictions.json` (id → candidates with text, probability, start_logit, end_logit) and, for SQuAD 2.0,
// `null_odds.json` (id → null score minus the best span's score — the real values, where run_qa.py's metric call
// passes 0.0 as every no-answer probability).

import TensorCore
import Tasks

package enum QAPredictionFiles {
    package static func write(_ predictions: QAPredictions, to folder: String) throws {
        try makeDirectory(folder)
        let answers = JSONObject(predictions.answers.map { ($0.id, JSONValue.string($0.text)) })
        try AtomicFileWriter.write(JSONWriter.pretty(.object(answers), sortKeys: false, ensureASCII: false) + "\n", to: folder + "/predictions.json")
        let nBest = JSONObject(predictions.nBest.map { id, candidates in
            (id, JSONValue.array(candidates.map { c in
                .object(JSONObject([("start_logit", .double(Double(c.startLogit))), ("end_logit", .double(Double(c.endLogit))),
                                    ("text", .string(c.text)), ("probability", .double(Double(c.probability)))]))
            }))
        })
        try AtomicFileWriter.write(JSONWriter.pretty(.object(nBest), sortKeys: false, ensureASCII: false) + "\n", to: folder + "/nbest_predictions.json")
        if !predictions.nullOdds.isEmpty {
            let odds = JSONObject(predictions.nullOdds.map { ($0.id, JSONValue.double(Double($0.odds))) })
            try AtomicFileWriter.write(JSONWriter.pretty(.object(odds), sortKeys: false, ensureASCII: false) + "\n", to: folder + "/null_odds.json")
        }
    }
}
