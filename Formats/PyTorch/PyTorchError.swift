// Everything that can be wrong with a PyTorch checkpoint (zip or legacy), each case carrying the
// record, tensor or opcode and the numbers involved. The file path is attached by the caller
// (`FileError`), so messages read `error: FILE: what is wrong`.

import TensorCore

package enum PyTorchError: Error, CustomStringConvertible, Equatable {
    // The pickle machine.
    case forbiddenGlobal(String)
    case unknownOpcode(byte: UInt8, offset: Int)
    case unsupportedOpcode(name: String, offset: Int, reason: String)
    case pickleTruncated(opcode: String, offset: Int)
    case pickleWithoutStop(length: Int)
    case invalidOperand(opcode: String, offset: Int, reason: String)
    case stackUnderflow(opcode: String, offset: Int)
    case noMark(opcode: String, offset: Int)
    case memoMissing(index: Int, offset: Int)
    case memoIndexTooLarge(index: Int, limit: Int, offset: Int)
    case limitExceeded(what: String, limit: Int, offset: Int)
    case nestedTooDeep(limit: Int, offset: Int)
    case notCallable(opcode: String, target: String, offset: Int)
    case badCall(function: String, reason: String, offset: Int)
    case badBuild(target: String, offset: Int)
    case badPersistentID(reason: String, offset: Int)
    case wrongType(opcode: String, expected: String, found: String, offset: Int)

    // The zip container.
    case notZip(reason: String)
    case zipCorrupt(reason: String)
    case recordOutOfBounds(record: String, end: Int, fileSize: Int)
    case unsupportedCompression(record: String, method: Int)
    case encryptedRecord(record: String)
    case inflateFailed(record: String, reason: String)
    case crcMismatch(record: String, expected: UInt32, actual: UInt32)
    case entryOutsideFolder(name: String)
    case severalTopFolders(first: String, second: String)
    case duplicateRecord(name: String)
    case missingRecord(name: String)
    case missingStorageRecord(key: String, record: String)
    case badVersionRecord(String)
    case badByteOrder(String)

    // The legacy stream.
    case badMagicNumber(found: String)
    case badProtocolVersion(found: String)
    case legacyUnknownStorage(key: String)
    case legacyTruncated(key: String, needed: Int, available: Int)
    case legacyCountMismatch(key: String, declared: Int, stored: Int)
    case legacyMissingStorage(key: String)

    // Storages and tensors.
    case storageSizeMismatch(key: String, record: String, dtype: String, elements: Int, expectedBytes: Int, actualBytes: Int)
    case tensorOutsideStorage(tensor: String, key: String, neededBytes: Int, storageBytes: Int)
    case invalidTensor(tensor: String, reason: String)
    case unsupportedDType(tensor: String, dtype: String)

    // Finding the state dict.
    case notAStateDict(found: String)
    case noTensors
    case ambiguousStateDict(candidates: [String])
    case invalidKey(found: String)

    // Writing.
    case cannotWriteDType(tensor: String, dtype: String)

    package var description: String {
        switch self {
        case .forbiddenGlobal(let name):
            return "pickle asks for global '\(name)'; only tensor rebuild helpers are allowed"
        case .unknownOpcode(let byte, let offset):
            return "unknown pickle opcode 0x\(String(byte, radix: 16)) at byte \(offset) of the pickle"
        case .unsupportedOpcode(let name, let offset, let reason):
            return "pickle opcode \(name) at byte \(offset) is not supported: \(reason)"
        case .pickleTruncated(let opcode, let offset):
            return "pickle ends inside \(opcode) at byte \(offset) (truncated)"
        case .pickleWithoutStop(let length):
            return "pickle of \(length) bytes ends without STOP (truncated)"
        case .invalidOperand(let opcode, let offset, let reason):
            return "\(opcode) at byte \(offset) of the pickle: \(reason)"
        case .stackUnderflow(let opcode, let offset):
            return "\(opcode) at byte \(offset) of the pickle needs more values than the stack holds"
        case .noMark(let opcode, let offset):
            return "\(opcode) at byte \(offset) of the pickle has no MARK to close"
        case .memoMissing(let index, let offset):
            return "pickle fetches memo entry \(index) at byte \(offset), which was never stored"
        case .memoIndexTooLarge(let index, let limit, let offset):
            return "pickle stores memo entry \(index) at byte \(offset), beyond the memo limit of \(limit) entries"
        case .limitExceeded(let what, let limit, let offset):
            return "pickle exceeds the limit of \(limit) \(what) at byte \(offset)"
        case .nestedTooDeep(let limit, let offset):
            return "pickle nests containers deeper than \(limit) levels (at byte \(offset))"
        case .notCallable(let opcode, let target, let offset):
            return "\(opcode) at byte \(offset) of the pickle calls \(target), which cannot be called"
        case .badCall(let function, let reason, let offset):
            return "\(function) at byte \(offset) of the pickle: \(reason)"
        case .badBuild(let target, let offset):
            return "BUILD at byte \(offset) of the pickle sets state on \(target), which is not supported"
        case .badPersistentID(let reason, let offset):
            return "persistent id at byte \(offset) of the pickle: \(reason)"
        case .wrongType(let opcode, let expected, let found, let offset):
            return "\(opcode) at byte \(offset) of the pickle needs \(expected), found \(found)"
        case .notZip(let reason):
            return "not a zip archive: \(reason)"
        case .zipCorrupt(let reason):
            return "corrupt zip archive: \(reason)"
        case .recordOutOfBounds(let record, let end, let fileSize):
            return "record '\(record)' ends at byte \(end) but the file has \(fileSize) bytes (truncated)"
        case .unsupportedCompression(let record, let method):
            return "record '\(record)' uses zip compression method \(method); only stored (0) and deflated (8) are supported"
        case .encryptedRecord(let record):
            return "record '\(record)' is encrypted"
        case .inflateFailed(let record, let reason):
            return "record '\(record)' cannot be decompressed: \(reason)"
        case .crcMismatch(let record, let expected, let actual):
            return "record '\(record)' has CRC-32 \(CRC32.hex(actual)) but the archive says \(CRC32.hex(expected))"
        case .entryOutsideFolder(let name):
            return "archive entry '\(name)' is not inside a folder (a torch archive keeps every record in one top folder)"
        case .severalTopFolders(let first, let second):
            return "archive has records in two top folders, '\(first)' and '\(second)'"
        case .duplicateRecord(let name):
            return "archive holds record '\(name)' twice"
        case .missingRecord(let name):
            return "archive has no '\(name)' record"
        case .missingStorageRecord(let key, let record):
            return "storage '\(key)' has no record '\(record)' in the archive"
        case .badVersionRecord(let text):
            return "record 'version' holds \(text), not a format version from 1 to 10"
        case .badByteOrder(let text):
            return "record 'byteorder' holds \(text), not 'little' or 'big'"
        case .badMagicNumber(let found):
            return "not a PyTorch checkpoint: the first pickle holds \(found), not the legacy magic number 0x1950a86a20f9469cfc6c"
        case .badProtocolVersion(let found):
            return "legacy checkpoint has protocol version \(found), expected 1001"
        case .legacyUnknownStorage(let key):
            return "legacy storage list names storage '\(key)', which the pickle never mentions"
        case .legacyTruncated(let key, let needed, let available):
            return "legacy storage '\(key)' needs \(needed) bytes but only \(available) remain (truncated)"
        case .legacyCountMismatch(let key, let declared, let stored):
            return "legacy storage '\(key)' declares \(declared) elements but the file stores \(stored)"
        case .legacyMissingStorage(let key):
            return "storage '\(key)' is used by a tensor but missing from the legacy storage list"
        case .storageSizeMismatch(let key, let record, let dtype, let elements, let expected, let actual):
            return "storage '\(key)' declares \(elements) \(dtype) elements (\(expected) bytes) but record '\(record)' has \(actual) bytes"
        case .tensorOutsideStorage(let tensor, let key, let needed, let storageBytes):
            return "tensor '\(tensor)' needs \(needed) bytes of storage '\(key)', which has only \(storageBytes)"
        case .invalidTensor(let tensor, let reason):
            return "tensor '\(tensor)': \(reason)"
        case .unsupportedDType(let tensor, let dtype):
            return "tensor '\(tensor)' has dtype torch.\(dtype), which BertKit cannot hold"
        case .notAStateDict(let found):
            return "the checkpoint holds \(found), not a dict of tensors"
        case .noTensors:
            return "the checkpoint holds no tensors"
        case .ambiguousStateDict(let candidates):
            return "the checkpoint holds several dicts of tensors (\(candidates.map { "'\($0)'" }.joined(separator: ", "))) and none is named like a state dict"
        case .invalidKey(let found):
            return "state dict key is \(found), not a str"
        case .cannotWriteDType(let tensor, let dtype):
            return "tensor '\(tensor)' is \(dtype), which a PyTorch checkpoint cannot hold"
        }
    }
}
