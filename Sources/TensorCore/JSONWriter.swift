// JSON text in the two dialects the files we write must match byte for byte:
//  - `compact`: serde_json's compact output (safetensors headers): no spaces, non-ASCII raw,
//    control characters as `\u00xx`.
//  - `pretty`: Python's `json.dumps(value, indent=2, sort_keys=…, ensure_ascii=…)`, which
//    transformers uses for config.json, index files and tokenizer configs.

package enum JSONWriter {
    package static func compact(_ value: JSONValue) -> String {
        var out = ""
        writeCompact(value, into: &out)
        return out
    }

    package static func pretty(_ value: JSONValue, sortKeys: Bool = true, ensureASCII: Bool = true) -> String {
        var out = ""
        writePretty(value, indent: 0, sortKeys: sortKeys, ensureASCII: ensureASCII, into: &out)
        return out
    }

    /// Python's `repr(float)` spelling, which Swift's shortest round-trip description matches for
    /// finite values ("0.02", "1e-12", "2e-05", "1.0").
    package static func formatDouble(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        return value.description
    }

    /// A JSON string literal, escaped as serde_json (ensureASCII false) or Python (true) does.
    package static func quote(_ string: String, ensureASCII: Bool = false) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || (ensureASCII && scalar.value > 0x7E) {
                    if scalar.value > 0xFFFF {
                        let v = scalar.value - 0x10000
                        out += hex4(0xD800 + (v >> 10)) + hex4(0xDC00 + (v & 0x3FF))
                    } else {
                        out += hex4(scalar.value)
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
    }

    private static func writeCompact(_ value: JSONValue, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += n.text
        case .string(let s): out += quote(s)
        case .array(let elements):
            out += "["
            for (i, element) in elements.enumerated() {
                if i > 0 { out += "," }
                writeCompact(element, into: &out)
            }
            out += "]"
        case .object(let object):
            out += "{"
            for (i, member) in object.members.enumerated() {
                if i > 0 { out += "," }
                out += quote(member.key)
                out += ":"
                writeCompact(member.value, into: &out)
            }
            out += "}"
        }
    }

    private static func writePretty(_ value: JSONValue, indent: Int, sortKeys: Bool, ensureASCII: Bool,
                                    into out: inout String) {
        let inner = String(repeating: " ", count: indent + 2)
        switch value {
        case .array(let elements) where !elements.isEmpty:
            out += "[\n"
            for (i, element) in elements.enumerated() {
                out += inner
                writePretty(element, indent: indent + 2, sortKeys: sortKeys, ensureASCII: ensureASCII, into: &out)
                out += i + 1 < elements.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        case .object(let object) where !object.members.isEmpty:
            out += "{\n"
            let members = sortKeys ? object.members.sorted { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) } : object.members
            for (i, member) in members.enumerated() {
                out += inner + quote(member.key, ensureASCII: ensureASCII) + ": "
                writePretty(member.value, indent: indent + 2, sortKeys: sortKeys, ensureASCII: ensureASCII, into: &out)
                out += i + 1 < members.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        case .string(let s): out += quote(s, ensureASCII: ensureASCII)
        default: writeCompact(value, into: &out)
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
                     ExpressibleByArrayLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral {
    package init(stringLiteral value: String) { self = .string(value) }
    package init(integerLiteral value: Int) { self = .number(JSONNumber(value)) }
    package init(booleanLiteral value: Bool) { self = .bool(value) }
    package init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    package init(nilLiteral: ()) { self = .null }
    package init(floatLiteral value: Double) { self = .number(JSONNumber(value)) }
    package static func int(_ value: Int) -> JSONValue { .number(JSONNumber(value)) }
    package static func double(_ value: Double) -> JSONValue { .number(JSONNumber(value)) }
}
