// Locating golden files and running the built `bertkit` binary from tests.

import Foundation

public enum Fixtures {
    /// The package root, found from this file's location (Tests/TestSupport/Fixtures.swift).
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// Absolute path of `relative` under `Fixtures/`.
    public static func path(_ relative: String) -> String { packageRoot + "/Fixtures/" + relative }

    /// The contents of a fixture file.
    public static func data(_ relative: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path(relative))) }

    /// A parsed JSON fixture.
    public static func json(_ relative: String) throws -> Any {
        try JSONSerialization.jsonObject(with: try data(relative), options: [.fragmentsAllowed])
    }

    /// Where `Tools/` caches fetched data (the same rule as Tools/common.sh).
    public static var cacheDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let cache = env["BERTKIT_CACHE"] { return cache }
        let base = env["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")
        return base + "/bertkit"
    }
}

/// A fresh empty directory, removed when the value is deinitialised.
public final class TemporaryDirectory {
    public let path: String
    public init() {
        path = NSTemporaryDirectory() + "bertkit-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    public func file(_ name: String) -> String { path + "/" + name }
    /// Names in the directory, sorted (to prove nothing was left behind).
    public var contents: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
}

public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    public let seconds: Double
}

public enum Bertkit {
    /// The `bertkit` executable built next to the test bundle.
    public static var executable: String {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folder = testBinary.deletingLastPathComponent()
        // The test binary sits in `<build>/BertKitPackageTests.xctest` (a file on Linux).
        if folder.lastPathComponent.hasSuffix(".xctest") { folder.deleteLastPathComponent() }
        return folder.appendingPathComponent("bertkit").path
    }

    /// Runs `bertkit ARGS` and collects its output.
    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
        try runProcess(executable, arguments, environment: environment)
    }
}

/// Runs a program to completion, capturing stdout and stderr.
public func runProcess(_ program: String, _ arguments: [String], environment: [String: String] = [:],
                       currentDirectory: String? = nil) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    process.environment = env
    if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
    let outPipe = Pipe(), errPipe = Pipe()
    process.standardOutput = outPipe
    process.standardError = errPipe
    let start = Date()
    try process.run()
    // Read both pipes at once so a chatty child cannot block on a full pipe. On threads of their own: Dispatch's
    // global queue has one worker per core here, and another test's long-running child would hold them, keeping
    // this one's output (and its time) waiting after it has exited.
    let reader = PipeReader(outPipe.fileHandleForReading), errorReader = PipeReader(errPipe.fileHandleForReading)
    process.waitUntilExit()
    let seconds = Date().timeIntervalSince(start)
    return CommandResult(status: process.terminationStatus,
                         stdout: String(decoding: reader.data(), as: UTF8.self),
                         stderr: String(decoding: errorReader.data(), as: UTF8.self),
                         seconds: seconds)
}

/// Reads a file handle to its end on a thread of its own.
final class PipeReader: @unchecked Sendable {
    private var collected = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread { [self] in
            collected = handle.readDataToEndOfFile()
            done.signal()
        }.start()
    }

    /// Everything the handle gave, once it is closed at the other end.
    func data() -> Data {
        done.wait()
        return collected
    }
}

/// CPU time the calling thread has used, in seconds: unlike wall time, not lengthened by other tests sharing the cores.
public func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
