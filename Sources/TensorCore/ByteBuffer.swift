// Byte storage behind tensors: either a read-only memory map of a file (zero-copy) or memory we own.
// Tensors hold a `ByteView` (buffer + range), so many tensors can share one buffer — tied weights stay
// one buffer, and a mapped file stays mapped while any tensor still points into it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A block of bytes that lives as long as any view into it.
package final class ByteBuffer: @unchecked Sendable {
    package let baseAddress: UnsafeRawPointer
    package let count: Int
    private enum Owner { case mapped(length: Int), owned, empty }
    private let owner: Owner

    /// Copies nothing: maps `path` read-only. An empty file gives an empty buffer.
    package init(mappingFileAt path: String) throws(SystemError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError.lastError("cannot open") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemError.lastError("cannot stat") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw SystemError(message: "not a regular file") }
        let length = Int(info.st_size)
        if length == 0 {
            baseAddress = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64))
            count = 0
            owner = .owned
            return
        }
        guard let address = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else {
            throw SystemError.lastError("cannot map")
        }
        baseAddress = UnsafeRawPointer(address)
        count = length
        owner = .mapped(length: length)
    }

    /// Takes ownership of `count` bytes allocated with `UnsafeMutableRawPointer.allocate`.
    package init(adopting pointer: UnsafeMutableRawPointer, count: Int) {
        baseAddress = UnsafeRawPointer(pointer)
        self.count = count
        owner = .owned
    }

    /// Fresh zeroed memory, 64-byte aligned.
    package convenience init(zeroedCount count: Int) {
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
        self.init(adopting: pointer, count: count)
    }

    /// A copy of `bytes`.
    package convenience init(copying bytes: UnsafeRawBufferPointer) {
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        if let base = bytes.baseAddress, bytes.count > 0 { pointer.copyMemory(from: base, byteCount: bytes.count) }
        self.init(adopting: pointer, count: bytes.count)
    }

    package convenience init(copying bytes: [UInt8]) {
        self.init(zeroedCount: bytes.count)
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress, source.count > 0 {
                UnsafeMutableRawPointer(mutating: baseAddress).copyMemory(from: base, byteCount: source.count)
            }
        }
    }

    package var isMapped: Bool { if case .mapped = owner { return true } else { return false } }

    /// Writable access, for owned buffers only (a mapped file is read-only).
    package var mutableBaseAddress: UnsafeMutableRawPointer {
        precondition(!isMapped, "a memory-mapped buffer is read-only")
        return UnsafeMutableRawPointer(mutating: baseAddress)
    }

    deinit {
        switch owner {
        case .mapped(let length): munmap(UnsafeMutableRawPointer(mutating: baseAddress), length)
        case .owned, .empty: UnsafeMutableRawPointer(mutating: baseAddress).deallocate()
        }
    }
}

/// A byte range inside a `ByteBuffer`.
package struct ByteView: @unchecked Sendable {
    package let buffer: ByteBuffer
    package let offset: Int
    package let count: Int

    package init(buffer: ByteBuffer, offset: Int = 0, count: Int? = nil) {
        let length = count ?? (buffer.count - offset)
        precondition(offset >= 0 && length >= 0 && offset + length <= buffer.count, "view outside its buffer")
        self.buffer = buffer
        self.offset = offset
        self.count = length
    }

    package var baseAddress: UnsafeRawPointer { buffer.baseAddress + offset }
    package var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: baseAddress, count: count) }

    /// Lets the kernel drop this view's pages of a mapped file from the process's memory (the whole pages
    /// inside the view; its neighbours' bytes are untouched). Reading the view again reads the file again,
    /// so this is safe at any time; a loader calls it once a tensor is copied, so that the mapped checkpoint and
    /// the model's copy are not both resident at the peak. Does nothing for memory the buffer owns.
    package func releasePages() {
        guard buffer.isMapped, count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: baseAddress) + page - 1) / page * page
        let end = (Int(bitPattern: baseAddress) + count) / page * page
        guard end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(pointer, end - start, Int32(MADV_DONTNEED))
    }

    /// True when both views cover exactly the same bytes of the same buffer.
    package func isSameStorage(as other: ByteView) -> Bool {
        buffer === other.buffer && offset == other.offset && count == other.count
    }

    /// True when the two views share at least one byte of the same buffer.
    package func overlaps(_ other: ByteView) -> Bool {
        buffer === other.buffer && count > 0 && other.count > 0
            && offset < other.offset + other.count && other.offset < offset + count
    }
}

/// An OS-level failure (open, mmap, write …) with errno's text.
package struct SystemError: Error, CustomStringConvertible, Sendable {
    package let message: String
    package init(message: String) { self.message = message }
    package static func lastError(_ action: String) -> SystemError {
        SystemError(message: "\(action): \(String(cString: strerror(errno)))")
    }
    package var description: String { message }
}
