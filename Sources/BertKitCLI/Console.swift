// Printing for the CLI. Library code never prints; commands print through these.

#if canImport(Glibc)
import Glibc
#endif

enum Console {
    static func out(_ text: String) { write(1, text + "\n") }

    /// Whole-string write to a file descriptor (no stdio buffering to interleave wrongly).
    static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
            done += n
        }
        bytes.removeAll()
    }

    /// One line on stderr starting with `error:`.
    static func error(_ message: String) {
        let oneLine = message.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: " ")
        write(2, "error: \(oneLine)\n")
    }

    static func warning(_ message: String) {
        write(2, "warning: \(message)\n")
    }

    static func info(_ message: String) {
        write(2, message + "\n")
    }

    /// Left-aligned text columns, right-aligned numeric columns, two spaces apart.
    static func table(_ rows: [[String]], rightAligned: Set<Int> = []) -> String {
        guard let columns = rows.map(\.count).max() else { return "" }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                let padding = String(repeating: " ", count: widths[i] - cell.count)
                return rightAligned.contains(i) ? padding + cell : (i == row.count - 1 ? cell : cell + padding)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// 440_000_000 → "440.0 MB".
    static func humanBytes(_ count: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(count)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
        if unit == 0 { return "\(count) B" }
        let rounded = (value * 10).rounded() / 10
        return "\(rounded) \(units[unit])"
    }
}
