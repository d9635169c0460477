// Most readers take a path (they map the file, or name it in errors), so path-based targets write each input to a
// scratch folder first: one per process, in /dev/shm when there is one (no disk I/O at thousands of inputs a second),
// removed at exit.

#if canImport(Glibc)
import Glibc
#endif
import TensorCore

enum Scratch {
    /// The folder, made on first use.
    static let folder: String = {
        let base = isDirectory("/dev/shm") ? "/dev/shm" : "/tmp"
        let path = "\(base)/bertkit-fuzz-\(getpid())"
        removeTree(path)
        try? makeDirectory(path)
        atexit { removeTree(Scratch.folder) }
        return path
    }()

    /// Writes `bytes` to `name` in the scratch folder (or a sub-folder path) and returns the path.
    @discardableResult
    static func write(_ bytes: [UInt8], as name: String) -> String {
        let path = folder + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        precondition(fd >= 0, "bertkit-fuzz: cannot write \(path)")
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            precondition(written > 0, "bertkit-fuzz: cannot write \(path)")
            offset += written
        }
        close(fd)
        return path
    }

    /// A fresh empty sub-folder of the scratch folder.
    static func subfolder(_ name: String) -> String {
        let path = folder + "/" + name
        removeTree(path)
        try? makeDirectory(path)
        return path
    }
}
