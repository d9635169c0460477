// Memory for buffers whose size a file decides (inflated records, copied-out views): allocated with
// malloc so that an impossible request fails as an error instead of trapping, and adopted by a
// `ByteBuffer` (whose deallocation is free()).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import TensorCore

enum PyTorchMemory {
    static func allocate(_ count: Int) -> ByteBuffer? {
        guard count >= 0, let pointer = malloc(max(count, 1)) else { return nil }
        return ByteBuffer(adopting: pointer, count: count)
    }
}
