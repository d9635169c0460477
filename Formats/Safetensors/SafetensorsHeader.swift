// Parsing and validating a safetensors header, following safetensors 0.8 `SafeTensors::read_metadata`
// (Docs/specs/safetensors.md §6) rule by rule, and stricter in one place: duplicate tensor names are
// refused instead of silently keeping the last.

import TensorCore

/// One tensor's header entry: where its bytes sit in the data section.
package struct SafetensorsEntry: Sendable, Equatable {
    package let name: String
    package let dtype: DType
    package let shape: [Int]
    /// Byte range relative to the start of the data section.
    package let begin: Int
    package let end: Int
}

package struct SafetensorsHeader: Sendable {
    /// Entries in file (offset) order.
    package let entries: [SafetensorsEntry]
    /// nil when the header had no `__metadata__` (or `null`).
    package let metadata: [String: String]?
    /// Absolute file offset of the data section (8 + header length).
    package let dataStart: Int

    package static let maximumHeaderLength: UInt64 = 100_000_000

    /// Validates `file` (the whole file's bytes) and returns its header. Nothing is handed out before
    /// every rule has been checked.
    package static func parse(file: UnsafeRawBufferPointer) throws(SafetensorsError) -> SafetensorsHeader {
        guard file.count >= 8 else { throw .fileTooSmall(size: file.count) }
        let length = file.loadUnaligned(as: UInt64.self).littleEndian
        guard length <= maximumHeaderLength else { throw .headerTooLarge(length: length) }
        guard 8 + length <= UInt64(file.count) else { throw .headerPastEnd(length: length, fileSize: file.count) }
        let headerBytes = UnsafeRawBufferPointer(rebasing: file[8..<(8 + Int(length))])
        guard String(validating: headerBytes, as: UTF8.self) != nil else { throw .headerNotUTF8 }
        let json: JSONValue
        do { json = try JSONReader.parse(headerBytes) } catch { throw .headerNotJSON(error.description) }
        guard case .object(let object) = json else { throw .headerNotObject(found: json.kindDescription) }

        var metadata: [String: String]? = nil
        var sawMetadata = false
        var seen = Set<String>()
        var entries: [SafetensorsEntry] = []
        for (key, value) in object.members {
            if key == "__metadata__" {
                guard !sawMetadata else { throw .duplicateMetadata }
                sawMetadata = true
                metadata = try parseMetadata(value)
                continue
            }
            guard seen.insert(key).inserted else { throw .duplicateTensor(name: key) }
            entries.append(try parseEntry(name: key, value))
        }

        let dataStart = 8 + Int(length)
        let dataSize = file.count - dataStart
        try checkLayout(&entries, dataSize: dataSize)
        return SafetensorsHeader(entries: entries, metadata: metadata, dataStart: dataStart)
    }

    private static func parseMetadata(_ value: JSONValue) throws(SafetensorsError) -> [String: String]? {
        if value.isNull { return nil }
        guard case .object(let object) = value else { throw .metadataNotObject(found: value.kindDescription) }
        var result: [String: String] = [:]
        for (key, item) in object.members {
            guard case .string(let text) = item else { throw .metadataValueNotString(key: key, found: item.kindDescription) }
            result[key] = text   // a repeated key inside the metadata: last wins, as in the reference
        }
        return result
    }

    private static func parseEntry(name: String, _ value: JSONValue) throws(SafetensorsError) -> SafetensorsEntry {
        guard case .object(let object) = value else { throw .entryNotObject(tensor: name, found: value.kindDescription) }
        guard let dtypeValue = object["dtype"] else { throw .missingField(tensor: name, field: "dtype") }
        guard let shapeValue = object["shape"] else { throw .missingField(tensor: name, field: "shape") }
        guard let offsetsValue = object["data_offsets"] else { throw .missingField(tensor: name, field: "data_offsets") }

        guard case .string(let dtypeText) = dtypeValue else {
            throw .unknownDType(tensor: name, dtype: JSONWriter.compact(dtypeValue))
        }
        guard let dtype = DType(rawValue: dtypeText) else { throw .unknownDType(tensor: name, dtype: dtypeText) }

        guard case .array(let dims) = shapeValue else {
            throw .invalidShape(tensor: name, reason: "expected an array, found \(shapeValue.kindDescription)")
        }
        var shape: [Int] = []
        for dim in dims {
            guard case .number(let number) = dim, number.isInteger else {
                throw .invalidShape(tensor: name, reason: "dimension \(JSONWriter.compact(dim)) is not a non-negative integer")
            }
            guard let size = Int(number.text), size >= 0 else {
                throw .invalidShape(tensor: name, reason: number.text.hasPrefix("-")
                                    ? "dimension \(number.text) is negative" : "dimension \(number.text) is too large")
            }
            shape.append(size)
        }

        guard case .array(let offsets) = offsetsValue, offsets.count == 2 else {
            throw .invalidOffsets(tensor: name, reason: "expected an array of two integers, found \(JSONWriter.compact(offsetsValue))")
        }
        var bounds: [Int] = []
        for offset in offsets {
            guard case .number(let number) = offset, number.isInteger, let value = Int(number.text), value >= 0 else {
                throw .invalidOffsets(tensor: name, reason: "\(JSONWriter.compact(offset)) is not a non-negative integer")
            }
            bounds.append(value)
        }
        guard bounds[0] <= bounds[1] else {
            throw .invalidOffsets(tensor: name, reason: "begin \(bounds[0]) is after end \(bounds[1])")
        }

        guard let elements = Shape.elementCount(shape) else { throw .sizeOverflow(tensor: name) }
        let (bits, overflow) = elements.multipliedReportingOverflow(by: dtype.bitWidth)
        guard !overflow else { throw .sizeOverflow(tensor: name) }
        guard bits % 8 == 0 else { throw .packedTensorNotWholeBytes(tensor: name, dtype: dtype.rawValue, shape: shape) }
        let expected = bits / 8
        guard bounds[1] - bounds[0] == expected else {
            throw .byteSpanMismatch(tensor: name, dtype: dtype.rawValue, shape: shape, expected: expected, actual: bounds[1] - bounds[0])
        }
        return SafetensorsEntry(name: name, dtype: dtype, shape: shape, begin: bounds[0], end: bounds[1])
    }

    /// Sorts by offsets and requires the ranges to tile [0, dataSize) exactly.
    private static func checkLayout(_ entries: inout [SafetensorsEntry], dataSize: Int) throws(SafetensorsError) {
        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var previousEnd = 0
        var previousName: String? = nil
        for entry in entries {
            if entry.begin > previousEnd { throw .gap(tensor: entry.name, begin: entry.begin, previousEnd: previousEnd) }
            if entry.begin < previousEnd {
                throw .overlap(tensor: entry.name, begin: entry.begin, previous: previousName ?? "", previousEnd: previousEnd)
            }
            if entry.end > dataSize { throw .tensorPastEnd(tensor: entry.name, end: entry.end, dataSize: dataSize) }
            previousEnd = entry.end
            previousName = entry.name
        }
        if previousEnd != dataSize { throw .trailingBytes(coveredEnd: previousEnd, dataSize: dataSize) }
    }
}
