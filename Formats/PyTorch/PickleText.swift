// The protocol-0 text forms of strings: STRING's quoted Python literal and UNICODE's
// raw-unicode-escape (CPython `Lib/pickle.py` `load_string` / `load_unicode`). Never emitted by torch;
// decoded so that old or hand-made pickles fail only when they are actually wrong.

enum PickleText {
    /// `'abc\n'` or `"abc"` with Python escapes → raw bytes; nil when not a quoted literal.
    static func unquote(_ line: [UInt8]) -> [UInt8]? {
        guard line.count >= 2, let quote = line.first, quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\""),
              line.last == quote else { return nil }
        let body = line[1..<(line.count - 1)]
        var out: [UInt8] = []
        var i = body.startIndex
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: return byte - 0x30
            case 0x61...0x66: return byte - 0x61 + 10
            case 0x41...0x46: return byte - 0x41 + 10
            default: return nil
            }
        }
        while i < body.endIndex {
            let byte = body[i]
            i += 1
            guard byte == UInt8(ascii: "\\") else { out.append(byte); continue }
            guard i < body.endIndex else { return nil }
            let escape = body[i]
            i += 1
            switch escape {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "a"): out.append(0x07)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "v"): out.append(0x0B)
            case 0x0A: break
            case UInt8(ascii: "x"):
                guard i + 1 < body.endIndex, let high = hex(body[i]), let low = hex(body[i + 1]) else { return nil }
                out.append(high << 4 | low)
                i += 2
            case 0x30...0x37:
                var value = Int(escape - 0x30)
                var digits = 1
                while digits < 3, i < body.endIndex, (0x30...0x37).contains(body[i]) {
                    value = value * 8 + Int(body[i] - 0x30)
                    i += 1
                    digits += 1
                }
                out.append(UInt8(truncatingIfNeeded: value))
            default: out.append(escape)   // \\, \', \" and unknown escapes keep the character
            }
        }
        return out
    }

    /// raw-unicode-escape: bytes are Latin-1 code points except `\uXXXX` and `\UXXXXXXXX`.
    static func rawUnicodeEscape(_ line: [UInt8]) -> String? {
        var scalars = String.UnicodeScalarView()
        var i = 0
        while i < line.count {
            let byte = line[i]
            if byte == UInt8(ascii: "\\"), i + 1 < line.count, line[i + 1] == UInt8(ascii: "u") || line[i + 1] == UInt8(ascii: "U") {
                let width = line[i + 1] == UInt8(ascii: "u") ? 4 : 8
                guard i + 2 + width <= line.count,
                      let text = String(validating: line[(i + 2)..<(i + 2 + width)], as: UTF8.self),
                      let value = UInt32(text, radix: 16), let scalar = Unicode.Scalar(value) else { return nil }
                scalars.append(scalar)
                i += 2 + width
            } else {
                scalars.append(Unicode.Scalar(byte))
                i += 1
            }
        }
        return String(scalars)
    }
}
