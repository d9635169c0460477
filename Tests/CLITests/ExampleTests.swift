// The library example of the README (issue 21): the README shows exactly the lines of Examples/Classify between the
// `// README begin` / `// README end` markers. Tools/check-library builds that example in a package outside the
// repository (so against the public API only) and checks that it classifies as `bertkit predict` does.

import Foundation
import Testing
import TestSupport

@Suite struct ExampleTests {
    static func snippet(of source: String) -> [String] {
        let lines = source.components(separatedBy: "\n")
        guard let begin = lines.firstIndex(of: "// README begin"), let end = lines.firstIndex(of: "// README end") else { return [] }
        return Array(lines[(begin + 1)..<end])
    }

    @Test func theReadmeShowsTheExample() throws {
        let root = Fixtures.packageRoot
        let example = Self.snippet(of: try String(contentsOfFile: root + "/Examples/Classify/main.swift", encoding: .utf8))
        let readme = try String(contentsOfFile: root + "/README.md", encoding: .utf8)
        #expect(example.count >= 4)
        #expect(readme.contains(example.joined(separator: "\n")), "README.md must show Examples/Classify's snippet as it is")
    }
}
