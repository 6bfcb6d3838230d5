import CVSegCore
import CVSegPlot

/// Charts with hand-made data, shared by the tests and written as PNGs by `ExampleFileTests`.
enum ExamplePlots {
    /// Three precision–recall curves of different shapes, 51 points each (recall 0, 0.02, ..., 1).
    static var precisionRecall: LineChart {
        let recall = (0...50).map { Double($0) / 50 }
        let shapes: [(String, (Double) -> Double)] = [
            ("person (AP 0.81)", { r in 1 - 0.7 * r * r * r * r }),
            ("car (AP 0.67)", { r in 0.95 - 0.55 * r * r }),
            ("bicycle (AP 0.42)", { r in 0.9 * (1 - r) + 0.05 * r }),
        ]
        return LineChart.precisionRecall(title: "Precision-recall, VOC 2007 test", series: shapes.map { name, f in
            LineSeries(name: name, x: recall, y: recall.map(f))
        })
    }

    /// Recall against the number of proposals per image, 1 to 10000, on a log x axis.
    static var proposalRecall: LineChart {
        let proposals: [Double] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]
        let methods: [(String, Double)] = [("RPN", 30), ("Selective search", 300), ("Edge boxes", 120)]
        return LineChart.proposalRecall(title: "Recall at IoU 0.7", series: methods.map { name, half in
            LineSeries(name: name, x: proposals, y: proposals.map { $0 / ($0 + half) })
        })
    }

    /// A 5-class confusion matrix with mostly correct predictions.
    static var confusion5: HeatMap {
        let names = ["background", "person", "car", "bicycle", "dog"]
        let counts = [
            9120, 210, 95, 40, 35,
            180, 2310, 12, 60, 38,
            90, 8, 1450, 41, 3,
            70, 95, 30, 610, 5,
            45, 52, 2, 4, 880,
        ]
        return HeatMap(counts: counts, classNames: names, title: "Confusion matrix, 5 classes")
    }

    /// A 30-class confusion matrix, with some long class names and one class never present.
    static var confusion30: HeatMap {
        let names = ["background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
                     "chair", "cow", "dining table", "dog", "horse", "motorbike", "person", "potted plant",
                     "sheep", "sofa", "train", "tv monitor", "traffic light", "fire hydrant", "stop sign",
                     "parking meter", "bench", "umbrella", "handbag", "suitcase", "refrigerator with freezer"]
        let n = names.count
        var counts = [Int](repeating: 0, count: n * n)
        // A deterministic pattern: a strong diagonal, confusion with the next two classes.
        for r in 0 ..< n where r != 23 {
            counts[r * n + r] = 200 + 37 * ((r * 7) % 11)
            counts[r * n + (r + 1) % n] = 10 + (r * 13) % 60
            counts[r * n + (r + 2) % n] = (r * 5) % 25
            counts[r * n] += 15
        }
        return HeatMap(counts: counts, classNames: names, title: "Confusion matrix, 30 classes")
    }
}
