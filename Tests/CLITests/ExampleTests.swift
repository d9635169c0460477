// The library example of the README (issue 21): Examples/Classify is built with the package, so it compiles against
// today's API; run on a fine-tuned fixture it gives `bertkit predict`'s labels, and the README shows exactly its
// lines between the `// README begin` / `// README end` markers.

import Foundation
import Testing
import TestSupport

@Suite struct ExampleTests {
    static var exampleExecutable: String {
        URL(fileURLWithPath: Bertkit.executable).deletingLastPathComponent().appendingPathComponent("bertkit-example-classify").path
    }

    static func snippet(of source: String) -> [String] {
        let lines = source.components(separatedBy: "\n")
        guard let begin = lines.firstIndex(of: "// README begin"), let end = lines.firstIndex(of: "// README end") else { return [] }
        return Array(lines[(begin + 1)..<end])
    }

    @Test func theExampleClassifiesAsPredictDoes() throws {
        let model = Fixtures.path("bert/tiny-seqcls")
        let texts = ["a gripping, funny film", "a dull and lifeless plot", "ok"]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.exampleExecutable)
        process.arguments = [model] + texts
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        let predicted = try Bertkit.run(["predict", "--model", model, "--json", "--"] + texts)
        let json = try JSONSerialization.jsonObject(with: Data(predicted.stdout.utf8)) as! [String: Any]
        let labels = (json["predictions"] as! [[String: Any]]).map { $0["label"] as! String }
        #expect(lines.count == texts.count)
        #expect(lines.map { String($0.split(separator: " ")[0]) } == labels, "\(lines) vs \(labels)")
        for (line, text) in zip(lines, texts) { #expect(line.hasSuffix(" " + text)) }
    }

    @Test func theReadmeShowsTheExample() throws {
        let root = Fixtures.packageRoot
        let example = Self.snippet(of: try String(contentsOfFile: root + "/Examples/Classify/main.swift", encoding: .utf8))
        let readme = try String(contentsOfFile: root + "/README.md", encoding: .utf8)
        #expect(example.count >= 4)
        #expect(readme.contains(example.joined(separator: "\n")), "README.md must show Examples/Classify's snippet as it is")
    }
}
