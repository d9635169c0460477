// The strict JSON reader and the two writer dialects.

import Testing
import TensorCore

@Suite struct JSONTests {
    @Test func parsesNestedValuesKeepingOrderAndDuplicates() throws {
        let value = try JSONReader.parse(#" {"b": [1, -2.5e3, true, null], "a": {"x": "y"}, "b": "again"} "#)
        let object = try #require(value.objectValue)
        #expect(object.keys == ["b", "a", "b"])
        #expect(object["b"] == .string("again"))
        #expect(object.members[0].value.arrayValue?[1].doubleValue == -2500)
        #expect(object.members[0].value.arrayValue?[0].intValue == 1)
        #expect(object.members[0].value.arrayValue?[1].intValue == nil)
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try JSONReader.parse(#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00""#)
        #expect(value.stringValue == "a\"b\\c/d\n\té😀")
    }

    @Test(arguments: [
        "", "{", "{\"a\" 1}", "[1,]", "{\"a\":1,}", "01", "1.", "-", "\"abc", "\"a\u{01}b\"", "\"\\x\"",
        "\"\\ud800\"", "\"\\udc00x\"", "tru", "{} {}", "{}\u{0}", "[1 2]", "nul",
    ])
    func rejectsMalformedText(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONReader.parse(text) }
    }

    @Test func limitsNestingDepth() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParseError.self) { try JSONReader.parse(deep) }
    }

    @Test func compactDialectEscapesLikeSerde() {
        #expect(JSONWriter.quote("é\"\\\n\t\u{01}\u{7F}") == "\"é\\\"\\\\\\n\\t\\u0001\u{7F}\"")
    }

    @Test func prettyDialectMatchesPythonJsonDumps() {
        // json.dumps({"b": [1, 2.5e-05], "a": {}, "c": [], "é": "☃"}, indent=2, sort_keys=True)
        let value: JSONValue = .object(JSONObject([("b", [1, 2.5e-05]), ("a", .object(JSONObject())), ("c", []), ("é", "☃")]))
        let expected = "{\n  \"a\": {},\n  \"b\": [\n    1,\n    2.5e-05\n  ],\n  \"c\": [],\n  \"\\u00e9\": \"\\u2603\"\n}"
        #expect(JSONWriter.pretty(value) == expected)
    }

    @Test func roundTripsThroughCompactText() throws {
        let value: JSONValue = .object(JSONObject([("k", ["x", 1, 0.5, true, nil]), ("é", "\u{1F600}\n")]))
        #expect(try JSONReader.parse(JSONWriter.compact(value)) == value)
    }
}
