// Folder operations (create, list, remove, replace atomically), with errors that name the path.
#if canImport(Glibc)
import Glibc
#endif

package func makeDirectory(_ path: String) throws {
    if isDirectory(path) { return }
    var prefix = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/") {
        prefix += "/" + component
        if !isDirectory(prefix) && mkdir(prefix, 0o755) != 0 && errno != EEXIST {
            throw FileError(path: prefix, cause: SystemError.lastError("cannot create the folder"))
        }
    }
}

package func listDirectory(_ path: String) -> [String] {
    guard let handle = opendir(path) else { return [] }
    defer { closedir(handle) }
    var names: [String] = []
    while let entry = readdir(handle) {
        let name = withUnsafePointer(to: entry.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// The folder for temporary files: $TMPDIR when set and not empty, else /tmp.
package func temporaryRoot() -> String {
    getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
}

/// Makes a new, empty folder `<root>/<prefix>XXXXXX` (mkdtemp: a name no other process gets); nil if it cannot.
package func makeTemporaryDirectory(in root: String = temporaryRoot(), prefix: String) -> String? {
    var template = Array((root + "/" + prefix + "XXXXXX").utf8CString)
    return template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) }
}

/// Deletes a file or a folder tree (best effort).
package func removeTree(_ path: String) {
    if isDirectory(path) {
        for name in listDirectory(path) { removeTree(path + "/" + name) }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// Fills a temporary sibling folder with `body`, then renames it onto `path` (replacing an old one):
/// a crash leaves either the old folder or the new one, never half of it.
package func writeAtomicFolder(_ path: String, _ body: (String) throws -> Void) throws {
    let temporary = path + ".tmp-\(getpid())"
    removeTree(temporary)
    try makeDirectory(temporary)
    do {
        try body(temporary)
        if isDirectory(path) {
            let old = path + ".old-\(getpid())"
            guard rename(path, old) == 0 else { throw FileError(path: path, cause: SystemError.lastError("cannot replace")) }
            removeTree(old)
        }
        guard rename(temporary, path) == 0 else { throw FileError(path: path, cause: SystemError.lastError("cannot rename into place")) }
    } catch {
        removeTree(temporary)
        throw error
    }
}

package func appendLine(_ line: String, to path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return }
    defer { close(fd) }
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}

/// The machine's physical memory: the bound for sizes a file or config declares (no single allocation that a
/// file asks for may exceed it; the reader refuses instead of being killed).
package enum SystemMemory {
    package static var physicalBytes: Int { Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE))) }

    /// "3.2 GB"
    package static func describe(_ bytes: Double) -> String { String((bytes / 1e8).rounded() / 10) + " GB" }
}
