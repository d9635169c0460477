// A fixed-size, 64-byte-aligned float array with a stable address: parameters, gradients, AdamW moments
// and activations each live in one of these, so kernels work on raw pointers without copies.

public final class FloatBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { pointer.deallocate() }

    public subscript(offset: Int) -> UnsafeMutablePointer<Float> { pointer + offset }

    public func zero() { pointer.update(repeating: 0, count: count) }

    public func copy(from other: FloatBuffer) {
        precondition(other.count == count)
        pointer.update(from: other.pointer, count: count)
    }

    public func array(offset: Int = 0, count: Int? = nil) -> [Float] {
        Array(UnsafeBufferPointer(start: pointer + offset, count: count ?? (self.count - offset)))
    }
}
