// A fixed-size, 64-byte-aligned float array with a stable address: parameters, gradients, AdamW moments
// and activations each live in one of these, so kernels work on raw pointers without copies.

#if canImport(Glibc)
import Glibc
#endif

package final class FloatBuffer: @unchecked Sendable {
    package let pointer: UnsafeMutablePointer<Float>
    package let count: Int
    private let mappedBytes: Int?

    /// Large buffers (1 MiB and more) are anonymous memory maps: zero without being written, so a page costs
    /// memory only once something writes it — parameters that a low-precision model keeps packed elsewhere
    /// (PackedWeights.swift) are never resident.
    package init(count: Int) {
        self.count = count
        let bytes = max(count, 1) * 4
        if bytes >= 1 << 20, let address = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
           address != MAP_FAILED {
            pointer = address.bindMemory(to: Float.self, capacity: max(count, 1))
            mappedBytes = bytes
            return
        }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
        mappedBytes = nil
    }

    deinit {
        if let mappedBytes { munmap(pointer, mappedBytes) } else { pointer.deallocate() }
    }

    package subscript(offset: Int) -> UnsafeMutablePointer<Float> { pointer + offset }

    package func zero() { pointer.update(repeating: 0, count: count) }

    package func copy(from other: FloatBuffer) {
        precondition(other.count == count)
        pointer.update(from: other.pointer, count: count)
    }

    package func array(offset: Int = 0, count: Int? = nil) -> [Float] {
        Array(UnsafeBufferPointer(start: pointer + offset, count: count ?? (self.count - offset)))
    }
}

/// Lays regions out one after another in a flat float buffer. A workspace describes its regions once, in one
/// function that takes them from a carver: over a counting carver that function gives the size, over a
/// buffer it gives the pointers — so the size and the carving cannot drift apart.
struct BufferCarver {
    private let base: UnsafeMutablePointer<Float>?
    /// Floats taken so far.
    private(set) var count = 0

    /// Carves `buffer` from its start.
    init(_ buffer: FloatBuffer) { base = buffer.pointer }

    /// Only counts: the pointers it hands out are placeholders, never to be read or written.
    static var counting: BufferCarver { BufferCarver(base: nil) }
    private init(base: UnsafeMutablePointer<Float>?) { self.base = base }

    mutating func take(_ n: Int) -> UnsafeMutablePointer<Float> {
        defer { count += n }
        return base.map { $0 + count } ?? UnsafeMutablePointer(bitPattern: MemoryLayout<Float>.alignment)!
    }
}
