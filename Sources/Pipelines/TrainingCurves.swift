// `training_curves.svg`: training loss and evaluation metrics over optimizer steps, as a self-contained
// SVG (two panels: losses on the left, accuracy / F1 on the right).

import Training

package enum TrainingCurves {
    package struct Series {
        package let name: String
        package let color: String
        package let points: [(x: Double, y: Double)]
        package let dashed: Bool
    }

    package static func svg(history: [TrainingLogEntry], title: String) -> String {
        let trainLoss = history.compactMap { e -> (Double, Double)? in e.loss.map { (Double(e.step), $0) } }
        let evalLoss = history.compactMap { e -> (Double, Double)? in e.evalLoss.map { (Double(e.step), $0) } }
        let accuracy = history.compactMap { e -> (Double, Double)? in e.evalAccuracy.map { (Double(e.step), $0) } }
        let f1 = history.compactMap { e -> (Double, Double)? in e.evalF1.map { (Double(e.step), $0) } }
        let width = 960.0, height = 400.0
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        out += "<text x=\"\(width / 2)\" y=\"20\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>\n"
        out += panel(x: 60, y: 40, width: 380, height: 300, title: "loss", series: [
            Series(name: "training loss", color: "#1f77b4", points: trainLoss, dashed: false),
            Series(name: "eval loss", color: "#d62728", points: evalLoss, dashed: true)], fixedRange: nil)
        out += panel(x: 540, y: 40, width: 380, height: 300, title: "eval metrics", series: [
            Series(name: "accuracy", color: "#2ca02c", points: accuracy, dashed: false),
            Series(name: "macro F1", color: "#9467bd", points: f1, dashed: true)], fixedRange: accuracy.isEmpty && f1.isEmpty ? nil : (0, 1))
        out += "</svg>\n"
        return out
    }

    static func panel(x: Double, y: Double, width: Double, height: Double, title: String, series: [Series],
                      fixedRange: (Double, Double)?) -> String {
        let all = series.flatMap(\.points)
        var out = "<g>\n<text x=\"\(x + width / 2)\" y=\"\(y - 6)\" text-anchor=\"middle\">\(title)</text>\n"
        out += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(width)\" height=\"\(height)\" fill=\"none\" stroke=\"#888\"/>\n"
        guard !all.isEmpty else { return out + "<text x=\"\(x + width / 2)\" y=\"\(y + height / 2)\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n</g>\n" }
        let minX = all.map(\.x).min()!, maxX = max(all.map(\.x).max()!, minX + 1)
        var (minY, maxY) = fixedRange ?? (all.map(\.y).min()!, all.map(\.y).max()!)
        if maxY - minY < 1e-9 { minY -= 0.5; maxY += 0.5 }
        func px(_ v: Double) -> Double { x + (v - minX) / (maxX - minX) * width }
        func py(_ v: Double) -> Double { y + height - (v - minY) / (maxY - minY) * height }
        for i in 0...4 {
            let value = minY + (maxY - minY) * Double(i) / 4
            out += "<line x1=\"\(x)\" x2=\"\(x + width)\" y1=\"\(py(value))\" y2=\"\(py(value))\" stroke=\"#eee\"/>\n"
            out += "<text x=\"\(x - 4)\" y=\"\(py(value) + 4)\" text-anchor=\"end\">\(short(value))</text>\n"
            let step = minX + (maxX - minX) * Double(i) / 4
            out += "<text x=\"\(px(step))\" y=\"\(y + height + 16)\" text-anchor=\"middle\">\(Int(step.rounded()))</text>\n"
        }
        out += "<text x=\"\(x + width / 2)\" y=\"\(y + height + 32)\" text-anchor=\"middle\">optimizer step</text>\n"
        for (index, s) in series.enumerated() where !s.points.isEmpty {
            let path = s.points.map { "\(px($0.x)),\(py($0.y))" }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"6 3\"" : "") points=\"\(path)\"/>\n"
            if s.points.count < 40 {
                for point in s.points { out += "<circle cx=\"\(px(point.x))\" cy=\"\(py(point.y))\" r=\"3\" fill=\"\(s.color)\"/>\n" }
            }
            let ly = y + 14 + Double(index) * 16
            out += "<line x1=\"\(x + width - 130)\" x2=\"\(x + width - 110)\" y1=\"\(ly - 4)\" y2=\"\(ly - 4)\" stroke=\"\(s.color)\" stroke-width=\"2\"/>\n"
            out += "<text x=\"\(x + width - 104)\" y=\"\(ly)\">\(s.name)</text>\n"
        }
        return out + "</g>\n"
    }

    static func short(_ value: Double) -> String {
        let rounded = (value * 1000).rounded() / 1000
        return "\(rounded)"
    }

    static func escape(_ text: String) -> String {
        text.replacing("&", with: "&amp;").replacing("<", with: "&lt;").replacing(">", with: "&gt;")
    }
}
