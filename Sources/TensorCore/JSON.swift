// A strict JSON reader (RFC 8259) that keeps object member order and duplicates, and keeps numbers
// as their source text. Checkpoint headers need all three: safetensors rejects `2.0` as a shape
// dimension, needs to see a repeated `__metadata__`, and we reject duplicate tensor names that
// Foundation's JSONSerialization would silently collapse.

package enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    package var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    package var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    package var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    package var objectValue: JSONObject? { if case .object(let o) = self { return o } else { return nil } }
    package var isNull: Bool { if case .null = self { return true } else { return false } }
    /// An integer written without fraction or exponent that fits `Int`.
    package var intValue: Int? { if case .number(let n) = self { return n.intValue } else { return nil } }
    /// Any number as a double.
    package var doubleValue: Double? { if case .number(let n) = self { return n.doubleValue } else { return nil } }

    /// Member lookup on objects (the last of duplicate keys, as most parsers do).
    package subscript(key: String) -> JSONValue? { objectValue?[key] }

    /// A short name of the value's kind for error messages ("a string", "an object" …).
    package var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number(let n): return n.intValue != nil ? "an integer" : "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

package struct JSONNumber: Sendable, Equatable, CustomStringConvertible {
    /// The number exactly as written.
    package let text: String
    package init(text: String) { self.text = text }
    package init(_ value: Int) { text = String(value) }
    package init(_ value: Double) { text = JSONWriter.formatDouble(value) }

    package var isInteger: Bool { !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) }
    package var intValue: Int? { isInteger ? Int(text) : nil }
    package var doubleValue: Double { Double(text) ?? .nan }
    package var description: String { text }
}

/// An object's members in source order; duplicates are kept so callers can reject them.
package struct JSONObject: Sendable, Equatable {
    package var members: [(key: String, value: JSONValue)]
    package init(_ members: [(key: String, value: JSONValue)] = []) { self.members = members }
    package subscript(key: String) -> JSONValue? { members.last(where: { $0.key == key })?.value }
    package var keys: [String] { members.map(\.key) }
    package mutating func set(_ key: String, _ value: JSONValue) {
        if let index = members.lastIndex(where: { $0.key == key }) { members[index].value = value }
        else { members.append((key, value)) }
    }
    package static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.members.count == b.members.count && zip(a.members, b.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

package struct JSONParseError: Error, CustomStringConvertible, Sendable {
    package let offset: Int
    package let reason: String
    package var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

package enum JSONReader {
    /// Parses one JSON value that spans `bytes` (JSON whitespace allowed around it).
    package static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 256) throws(JSONParseError) -> JSONValue {
        var parser = Parser(bytes: bytes, maxDepth: maxDepth)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.position != bytes.count { throw parser.error("trailing characters") }
        return value
    }

    package static func parse(_ bytes: [UInt8], maxDepth: Int = 256) throws(JSONParseError) -> JSONValue {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(JSONParseError) -> JSONValue in try parse(raw, maxDepth: maxDepth) }
        }
        return try result.get()
    }

    package static func parse(_ text: String) throws(JSONParseError) -> JSONValue { try parse(Array(text.utf8)) }

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        let maxDepth: Int
        var position = 0

        init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
            self.bytes = bytes
            self.maxDepth = maxDepth
        }

        func error(_ reason: String) -> JSONParseError { JSONParseError(offset: position, reason: reason) }

        var current: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipWhitespace() {
            while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { position += 1 }
        }

        mutating func expect(_ literal: StaticString) throws(JSONParseError) {
            let count = literal.utf8CodeUnitCount
            guard position + count <= bytes.count else { throw error("unexpected end of input") }
            for i in 0..<count where bytes[position + i] != literal.utf8Start[i] { throw error("invalid literal") }
            position += count
        }

        mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
            guard depth < maxDepth else { throw error("nested deeper than \(maxDepth) levels") }
            guard let byte = current else { throw error("unexpected end of input") }
            switch byte {
            case UInt8(ascii: "{"): return try parseObject(depth: depth)
            case UInt8(ascii: "["): return try parseArray(depth: depth)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
            default: throw error("unexpected character '\(Character(Unicode.Scalar(byte)))'")
            }
        }

        mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
            position += 1
            var members: [(key: String, value: JSONValue)] = []
            skipWhitespace()
            if current == UInt8(ascii: "}") { position += 1; return .object(JSONObject(members)) }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let key = try parseString()
                skipWhitespace()
                guard current == UInt8(ascii: ":") else { throw error("expected ':'") }
                position += 1
                skipWhitespace()
                let value = try parseValue(depth: depth + 1)
                members.append((key, value))
                skipWhitespace()
                guard let byte = current else { throw error("unexpected end of input") }
                position += 1
                if byte == UInt8(ascii: "}") { return .object(JSONObject(members)) }
                guard byte == UInt8(ascii: ",") else { position -= 1; throw error("expected ',' or '}'") }
            }
        }

        mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
            position += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if current == UInt8(ascii: "]") { position += 1; return .array(elements) }
            while true {
                skipWhitespace()
                elements.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard let byte = current else { throw error("unexpected end of input") }
                position += 1
                if byte == UInt8(ascii: "]") { return .array(elements) }
                guard byte == UInt8(ascii: ",") else { position -= 1; throw error("expected ',' or ']'") }
            }
        }

        mutating func parseNumber() throws(JSONParseError) -> JSONNumber {
            let start = position
            func isDigit(_ b: UInt8?) -> Bool { b.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
            if current == UInt8(ascii: "-") { position += 1 }
            if current == UInt8(ascii: "0") { position += 1 }
            else if isDigit(current) { while isDigit(current) { position += 1 } }
            else { throw error("invalid number") }
            if current == UInt8(ascii: ".") {
                position += 1
                guard isDigit(current) else { throw error("invalid number") }
                while isDigit(current) { position += 1 }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                position += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
                guard isDigit(current) else { throw error("invalid number") }
                while isDigit(current) { position += 1 }
            }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            return JSONNumber(text: text)
        }

        mutating func parseHex4() throws(JSONParseError) -> UInt32 {
            guard position + 4 <= bytes.count else { throw error("unexpected end of input") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let b = bytes[position]
                let digit: UInt32
                switch b {
                case 0x30...0x39: digit = UInt32(b - 0x30)
                case 0x41...0x46: digit = UInt32(b - 0x41 + 10)
                case 0x61...0x66: digit = UInt32(b - 0x61 + 10)
                default: throw error("invalid \\u escape")
                }
                value = value << 4 | digit
                position += 1
            }
            return value
        }

        mutating func parseString() throws(JSONParseError) -> String {
            position += 1   // opening quote
            var utf8: [UInt8] = []
            var runStart = position
            while true {
                guard let byte = current else { throw error("unterminated string") }
                if byte == UInt8(ascii: "\"") {
                    utf8.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<position]))
                    position += 1
                    break
                }
                if byte < 0x20 { throw error("control character in string") }
                if byte != UInt8(ascii: "\\") { position += 1; continue }
                utf8.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<position]))
                position += 1
                guard let escape = current else { throw error("unterminated string") }
                position += 1
                switch escape {
                case UInt8(ascii: "\""): utf8.append(0x22)
                case UInt8(ascii: "\\"): utf8.append(0x5C)
                case UInt8(ascii: "/"): utf8.append(0x2F)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard position + 2 <= bytes.count, bytes[position] == UInt8(ascii: "\\"),
                              bytes[position + 1] == UInt8(ascii: "u") else { throw error("lone surrogate in \\u escape") }
                        position += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw error("lone surrogate in \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw error("lone surrogate in \\u escape")
                    }
                    utf8.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
                default: throw error("invalid escape")
                }
                runStart = position
            }
            guard let string = String(validating: utf8, as: UTF8.self) else { throw error("invalid UTF-8 in string") }
            return string
        }
    }
}
