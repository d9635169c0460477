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

    /// Writes `bytes` to `name` in the scratch folder (or a sub-folder path) and returns the path. Through
    /// `AtomicFileWriter` like every file bertkit writes, unsynced: a reader never sees a half-written input.
    @discardableResult
    static func write(_ bytes: [UInt8], as name: String) -> String {
        let path = folder + "/" + name
        do throws(SystemError) {
            let output = try AtomicFileWriter(destination: path, durable: false)
            try output.write(bytes)
            try output.commit()
        } catch {
            fatalError("bertkit-fuzz: cannot write \(path): \(error)")
        }
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
