// Reading HDF5 in a child process. libhdf5 is C with a long record of crashes on malformed files: measured on
// this project's genuine tf_model.h5 files, 27 of 4,500 corruptions (bytes flipped, zeroed, spliced, truncated;
// Tools/corrupt_check.py) made Debian's libhdf5 1.10.8 crash (SIGSEGV in H5Aread's variable-length string
// conversion) or loop past 10 s, where safetensors and PyTorch files gave 0 of 1,500. Validating every structure
// libhdf5 reads before it reads them would mean re-implementing its parser, so the `bertkit` command reads HDF5
// files in a child process instead: the child (`bertkit internal-read-hdf5 FILE OUT`) reads the file with libhdf5
// and hands the tensors back as a safetensors file in a private temporary folder; a crash or a hang (past a
// deadline that grows with the file's size) becomes one error naming the file. libhdf5's own printouts stay in
// the child. A library user reads in-process unless they opt in with `CheckpointReader.hdf5Reading`.

import TensorCore
import Safetensors
import HDF5
#if canImport(Glibc)
import Glibc
#endif

/// Where `CheckpointReader` runs libhdf5.
package enum HDF5Reading: Sendable {
    /// In this process (a damaged file can crash or hang it).
    case inProcess
    /// In a child: `executable internal-read-hdf5 FILE OUT` (the bertkit binary).
    case childProcess(executable: String)
}

package enum HDF5IsolationError: Error, CustomStringConvertible, Equatable {
    case crashed(signal: String)
    case timedOut(seconds: Double)
    case childFailed(String)
    case cannotStart(String)

    package var description: String {
        switch self {
        case .crashed(let signal):
            return "libhdf5 crashed reading this file (\(signal)): it is damaged, or not an HDF5 file libhdf5 can read"
        case .timedOut(let seconds):
            return "libhdf5 did not finish reading this file within \(Int(seconds.rounded())) s (damaged files can make it "
                + "loop); set BERTKIT_HDF5_TIMEOUT to more seconds if the file is sound and large"
        case .childFailed(let message): return message
        case .cannotStart(let reason): return "cannot start the HDF5 reader: \(reason)"
        }
    }
}

package enum IsolatedHDF5 {
    /// The child's deadline: 5 s plus 1 s per 25 MB (bert-base's 438 MB tf_model.h5 is handed over in about 0.6 s here);
    /// BERTKIT_HDF5_TIMEOUT (seconds) overrides it.
    static func deadline(forFileOfSize bytes: Int) -> Double {
        if let text = getenv("BERTKIT_HDF5_TIMEOUT").map({ String(cString: $0) }), let seconds = Double(text), seconds > 0 {
            return seconds
        }
        return 5 + Double(bytes) / 25e6
    }

    /// Reads `path` through `executable internal-read-hdf5`.
    package static func read(path: String, executable: String) throws -> HDF5Checkpoint.Contents {
        try withFileContext(path) {
            // The hand-over file lives in memory (/dev/shm) where there is one: no disk write, and the parent maps its pages.
            let scratch = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : temporaryRoot()
            guard let folder = makeTemporaryDirectory(in: scratch, prefix: "bertkit-hdf5-") else {
                throw HDF5IsolationError.cannotStart("cannot make a temporary folder")
            }
            let output = folder + "/tensors.safetensors"
            defer { removeTree(folder) }   // with whatever a child killed mid-write left in it
            var info = stat()
            let size = stat(path, &info) == 0 ? Int(info.st_size) : 0
            let (status, report) = try run(executable, ["internal-read-hdf5", path, output], deadline: deadline(forFileOfSize: size))
            switch status {
            case .exited(0):
                let json = try JSONReader.parse(report)
                let unique = try SafetensorsReader.read(path: output)   // mapped: unlinking it later keeps the mapping
                var store = TensorStore()
                for name in json["order"]?.arrayValue?.compactMap(\.stringValue) ?? unique.names {
                    let source = json["shared"]?[name]?.stringValue ?? name
                    guard let tensor = unique[source] else {
                        throw HDF5IsolationError.childFailed("the HDF5 reader handed back no tensor '\(source)'")
                    }
                    store[name] = tensor
                }
                store.metadata = unique.metadata
                let layout = HDF5Checkpoint.Layout(rawValue: json["layout"]?.stringValue ?? "") ?? .plain
                return HDF5Checkpoint.Contents(layout: layout, store: store,
                                               notes: json["notes"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            case .exited:
                let message = (try? JSONReader.parse(report))?["error"]?.stringValue ?? "the HDF5 reader failed"
                // The child names the file as the in-process reader would; keep its words, name it once.
                let prefix = path + ": "
                throw FileError(path: path, cause: HDF5IsolationError.childFailed(
                    message.hasPrefix(prefix) ? String(message.dropFirst(prefix.count)) : message))
            case .signalled(let signal):
                throw HDF5IsolationError.crashed(signal: signalName(signal))
            case .timedOut(let seconds):
                throw HDF5IsolationError.timedOut(seconds: seconds)
            }
        }
    }

    enum Status { case exited(Int32), signalled(Int32), timedOut(Double) }

    /// Runs the child with stdin and stderr on /dev/null and stdout on a pipe; kills it at the deadline.
    static func run(_ executable: String, _ arguments: [String], deadline: Double) throws -> (Status, String) {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw HDF5IsolationError.cannotStart("pipe: \(String(cString: strerror(errno)))") }
        for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }   // dup2 onto the child's stdout clears it there
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, executable, &actions, nil, argv, environ)
        close(pipeEnds[1])
        guard spawned == 0 else {
            close(pipeEnds[0])
            throw HDF5IsolationError.cannotStart("\(executable): \(String(cString: strerror(spawned)))")
        }
        // Read the report while waiting (it lists every tensor name, which can pass a pipe's 64 KiB), so the child
        // never blocks on a full pipe.
        let flags = fcntl(pipeEnds[0], F_GETFL)
        _ = fcntl(pipeEnds[0], F_SETFL, flags | O_NONBLOCK)
        var report: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let start = MonotonicClock.seconds()
        var status: Int32 = 0
        defer { close(pipeEnds[0]) }
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(pipeEnds[0], $0.baseAddress, $0.count) }
            if n > 0 { report.append(contentsOf: buffer[0..<n]) }
            let done = waitpid(child, &status, WNOHANG)
            if done == child { break }
            if done < 0 && errno != EINTR { throw HDF5IsolationError.cannotStart("waitpid: \(String(cString: strerror(errno)))") }
            if MonotonicClock.seconds() - start > deadline {
                kill(child, SIGKILL)
                while waitpid(child, &status, 0) < 0 && errno == EINTR {}
                return (.timedOut(deadline), "")
            }
            if n <= 0 { usleep(2000) }
        }
        while true {   // what is left in the pipe
            let n = buffer.withUnsafeMutableBytes { Glibc.read(pipeEnds[0], $0.baseAddress, $0.count) }
            if n <= 0 { break }
            report.append(contentsOf: buffer[0..<n])
        }
        let text = String(decoding: report, as: UTF8.self)
        // WIFEXITED / WTERMSIG, spelled out (the C macros do not import).
        if status & 0x7F == 0 { return (.exited((status >> 8) & 0xFF), text) }
        return (.signalled(status & 0x7F), text)
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGSEGV: return "SIGSEGV"
        case SIGBUS: return "SIGBUS"
        case SIGABRT: return "SIGABRT"
        case SIGFPE: return "SIGFPE"
        case SIGILL: return "SIGILL"
        case SIGKILL: return "SIGKILL"
        default: return "signal \(signal)"
        }
    }

    /// The child's side: reads `path` in this process and writes the tensors to `output` (safetensors, the
    /// file's string metadata kept); returns the one-line JSON report for the parent.
    package static func serve(path: String, output: String) -> (report: String, status: Int32) {
        do {
            let contents = try HDF5Checkpoint.read(path: path)
            // Tensors sharing one storage (a Keras masked LM's tied decoder) go over once, and are shared again on
            // the other side: conversion drops such duplicates as transformers does, so the sharing must survive.
            let (unique, shared) = TiedWeights.removeSharedDuplicates(contents.store)
            try SafetensorsWriter.write(unique, to: output, metadata: contents.store.metadata, durable: false)
            return (JSONWriter.compact(.object(JSONObject([
                ("layout", .string(contents.layout.rawValue)), ("notes", .array(contents.notes.map { .string($0) })),
                ("order", .array(contents.store.names.map { .string($0) })),
                ("shared", .object(JSONObject(shared.map { ($0.dropped, .string($0.kept)) })))]))), 0)
        } catch {
            return (JSONWriter.compact(.object(JSONObject([("error", .string("\(error)"))]))), 1)
        }
    }
}
