// CRC-32 (zlib's polynomial) over tensor bytes: the checksum `inspect --checksum` prints, and the one
// zip records carry.

import CZlib
import Dispatch

package enum CRC32 {
    /// Continues `crc` over `bytes` (start with 0).
    package static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var value = UInt(crc)
        var offset = 0
        // zlib takes a 32-bit length; feed large buffers in 1 GiB pieces.
        while offset < bytes.count {
            let length = min(bytes.count - offset, 1 << 30)
            value = CZlib.crc32(value, bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self), UInt32(length))
            offset += length
        }
        return UInt32(truncatingIfNeeded: value)
    }

    package static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 { update(0, bytes) }

    /// The checksum of each tensor's bytes, computed on all cores (one tensor per task).
    package static func checksums(of tensors: [Tensor]) -> [UInt32] {
        var results = [UInt32](repeating: 0, count: tensors.count)
        results.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out
            DispatchQueue.concurrentPerform(iterations: tensors.count) { i in out[i] = checksum(tensors[i].data.bytes) }
        }
        return results
    }

    /// Eight lower-case hex digits.
    package static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}
