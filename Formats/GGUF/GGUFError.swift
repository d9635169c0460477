// Everything that can be wrong with a GGUF file, each case carrying the key, tensor and numbers involved.
// The file path is attached by the caller (see `FileError`).

package enum GGUFError: Error, CustomStringConvertible, Equatable {
    case notGGUF(firstBytes: [UInt8])
    case unsupportedVersion(UInt32)
    case bigEndian
    case truncated(what: String, offset: Int, needed: Int, fileSize: Int)
    case countTooLarge(what: String, count: UInt64, limit: Int)
    case stringNotUTF8(what: String, offset: Int)
    case unknownValueType(key: String, type: UInt32)
    case arrayTooDeep(key: String)
    case duplicateKey(String)
    case badAlignment(found: String)
    case duplicateTensor(String)
    case tooManyDimensions(tensor: String, dimensions: UInt32)
    case dimensionTooLarge(tensor: String, dimension: UInt64)
    case sizeOverflow(tensor: String)
    case unsupportedTensorType(tensor: String, type: UInt32, name: String?)
    case rowNotWholeBlocks(tensor: String, type: String, rowLength: Int, blockSize: Int)
    case misalignedOffset(tensor: String, offset: UInt64, alignment: Int)
    case tensorPastEnd(tensor: String, end: UInt64, dataSize: Int)
    case overlap(tensor: String, previous: String)
    // A BERT's tensors
    case notBERT(architecture: String?)
    case unknownTensor(String)
    // Writing
    case emptyArray(key: String)
    case mixedArray(key: String)
    case nameTooLong(tensor: String, bytes: Int)
    case dataSizeMismatch(tensor: String, expected: Int, actual: Int)
    case nonFiniteValue(tensor: String)

    package var description: String {
        switch self {
        case .notGGUF(let bytes):
            return "not a GGUF file: it starts with \(bytes.map { String(format2: $0) }.joined(separator: " ")), not 'GGUF'"
        case .unsupportedVersion(let version):
            return "GGUF version \(version) is not supported (versions 2 and 3 are)"
        case .bigEndian:
            return "big-endian GGUF is not supported (llama.cpp's --bigendian files); convert it on the machine that made it"
        case .truncated(let what, let offset, let needed, let fileSize):
            return "\(what) at byte \(offset) needs \(needed) bytes but the file ends at byte \(fileSize) (truncated?)"
        case .countTooLarge(let what, let count, let limit):
            return "\(what) is \(count), more than \(limit) (damaged header?)"
        case .stringNotUTF8(let what, let offset):
            return "\(what) at byte \(offset) is not valid UTF-8"
        case .unknownValueType(let key, let type):
            return "metadata '\(key)' has unknown value type \(type) (GGUF types are 0-12)"
        case .arrayTooDeep(let key):
            return "metadata '\(key)' nests arrays more than 4 deep"
        case .duplicateKey(let key):
            return "metadata key '\(key)' appears twice"
        case .badAlignment(let found):
            return "general.alignment must be a power of two as uint32, found \(found)"
        case .duplicateTensor(let name):
            return "tensor '\(name)' appears twice"
        case .tooManyDimensions(let tensor, let dimensions):
            return "tensor '\(tensor)' has \(dimensions) dimensions; GGUF allows at most 4"
        case .dimensionTooLarge(let tensor, let dimension):
            return "tensor '\(tensor)' has a dimension of \(dimension)"
        case .sizeOverflow(let tensor):
            return "tensor '\(tensor)': the byte size of its shape overflows"
        case .unsupportedTensorType(let tensor, let type, let name):
            return "tensor '\(tensor)' has ggml type \(type)\(name.map { " (\($0))" } ?? ""); bertkit reads F32, F16, BF16 and Q8_0"
        case .rowNotWholeBlocks(let tensor, let type, let rowLength, let blockSize):
            return "tensor '\(tensor)': a \(type) row of \(rowLength) values is not a whole number of \(blockSize)-value blocks"
        case .misalignedOffset(let tensor, let offset, let alignment):
            return "tensor '\(tensor)' starts at data offset \(offset), not a multiple of the alignment \(alignment)"
        case .tensorPastEnd(let tensor, let end, let dataSize):
            return "tensor '\(tensor)' ends at data offset \(end) but the data section has \(dataSize) bytes (truncated?)"
        case .overlap(let tensor, let previous):
            return "tensor '\(tensor)' overlaps tensor '\(previous)'"
        case .notBERT(let architecture):
            return architecture.map { "general.architecture is '\($0)', not 'bert': bertkit reads BERT GGUF files" }
                ?? "no general.architecture: not a model GGUF file"
        case .unknownTensor(let name):
            return "tensor '\(name)' is not part of a GGUF BERT (llama.cpp's names: token_embd, blk.N.attn_q, …)"
        case .emptyArray(let key):
            return "metadata '\(key)' is an empty array, which GGUF readers refuse"
        case .mixedArray(let key):
            return "metadata '\(key)' mixes value types in one array"
        case .nameTooLong(let tensor, let bytes):
            return "tensor name '\(tensor)' is \(bytes) bytes; llama.cpp allows at most 63"
        case .dataSizeMismatch(let tensor, let expected, let actual):
            return "tensor '\(tensor)': its type and shape need \(expected) bytes but \(actual) were given"
        case .nonFiniteValue(let tensor):
            return "tensor '\(tensor)' holds NaN or infinity, which Q8_0 cannot represent"
        }
    }
}

extension String {
    /// Two hex digits.
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}
