// Every file BertKit writes goes through here: bytes go to a temporary file in the destination's
// folder, which is fsynced and renamed over the destination only when complete. A failed or abandoned
// write removes the temporary file, so a crash or an error never leaves a half-written output.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

package final class AtomicFileWriter {
    package let destination: String
    package let temporaryPath: String
    private var fd: Int32
    private var buffer: UnsafeMutableRawPointer
    private var buffered = 0
    private let bufferSize = 1 << 20
    private var finished = false
    package private(set) var bytesWritten = 0

    /// Whether `commit` syncs the file and its folder to disk (off only for scratch files that never outlive the run).
    private let durable: Bool

    package init(destination: String, durable: Bool = true) throws(SystemError) {
        self.destination = destination
        self.durable = durable
        let slash = destination.lastIndex(of: "/")
        let folder = slash.map { String(destination[...$0]) } ?? ""
        let name = slash.map { String(destination[destination.index(after: $0)...]) } ?? destination
        temporaryPath = folder + "." + name + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError.lastError("cannot create a temporary file next to \(destination)") }
        buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 64)
    }

    deinit {
        if !finished { abandon() }
        buffer.deallocate()
    }

    package func write(_ bytes: UnsafeRawBufferPointer) throws(SystemError) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if buffered + bytes.count <= bufferSize {
            (buffer + buffered).copyMemory(from: base, byteCount: bytes.count)
            buffered += bytes.count
        } else {
            try flush()
            if bytes.count >= bufferSize { try writeAll(base, bytes.count) }
            else { buffer.copyMemory(from: base, byteCount: bytes.count); buffered = bytes.count }
        }
        bytesWritten += bytes.count
    }

    package func write(_ bytes: [UInt8]) throws(SystemError) {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(SystemError) in try write(raw) } }
        try result.get()
    }

    package func write(_ text: String) throws(SystemError) { try write(Array(text.utf8)) }

    package func writeZeros(_ count: Int) throws(SystemError) {
        try write([UInt8](repeating: 0, count: count))
    }

    /// Makes the file durable and visible under its final name.
    package func commit() throws(SystemError) {
        precondition(!finished, "commit called twice")
        do throws(SystemError) {
            try flush()
            guard !durable || fsync(fd) == 0 else { throw SystemError.lastError("cannot sync \(destination)") }
            guard close(fd) == 0 else { fd = -1; throw SystemError.lastError("cannot close \(destination)") }
            fd = -1
            guard rename(temporaryPath, destination) == 0 else { throw SystemError.lastError("cannot rename onto \(destination)") }
            finished = true
            if durable { syncFolder() }
        } catch {
            abandon()
            throw error
        }
    }

    /// Drops everything written so far.
    package func abandon() {
        guard !finished else { return }
        finished = true
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporaryPath)
    }

    private func flush() throws(SystemError) {
        if buffered > 0 { try writeAll(buffer, buffered) }
        buffered = 0
    }

    private func writeAll(_ start: UnsafeRawPointer, _ count: Int) throws(SystemError) {
        var done = 0
        while done < count {
            let n = Glibc.write(fd, start + done, count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError.lastError("cannot write \(destination)")
            }
            done += n
        }
    }

    private func syncFolder() {
        let slash = destination.lastIndex(of: "/")
        let folder = slash.map { String(destination[..<$0]) } ?? "."
        let dirFD = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 { fsync(dirFD); close(dirFD) }
    }

    /// Writes `bytes` to `path` atomically.
    package static func write(_ bytes: [UInt8], to path: String) throws(SystemError) {
        let writer = try AtomicFileWriter(destination: path)
        try writer.write(bytes)
        try writer.commit()
    }

    package static func write(_ text: String, to path: String) throws(SystemError) {
        try write(Array(text.utf8), to: path)
    }
}

/// An error about one file: the path is attached once, at the API boundary, to whatever went wrong
/// inside (a codec error, a system error …). Prints as `PATH: cause`.
package struct FileError: Error, CustomStringConvertible {
    package let path: String
    package let cause: any Error
    package init(path: String, cause: any Error) {
        self.path = path
        self.cause = cause
    }
    package var description: String { "\(path): \(cause)" }
}

/// Runs `body`, attaching `path` to any error it throws (once: an error that already names a file
/// passes through unchanged).
package func withFileContext<T>(_ path: String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as FileError { throw error } catch { throw FileError(path: path, cause: error) }
}

/// Reads a whole (small) file.
package func readFileBytes(_ path: String) throws(SystemError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw SystemError.lastError("cannot open") }
    defer { close(fd) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw SystemError.lastError("cannot read")
        }
        if n == 0 { break }
        result.append(contentsOf: chunk[0..<n])
    }
    return result
}

package func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

/// `path` without trailing slashes ("out///" → "out"; "/" stays "/"): how a folder named with a slash is opened.
package func trimmingTrailingSlashes(_ path: String) -> String {
    var trimmed = path
    while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
    return trimmed
}

package func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
}
