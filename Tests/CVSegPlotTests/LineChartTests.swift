import Testing
import CVSegCore
@testable import CVSegPlot

@Suite struct LineChartTests {
    let red = PlotColor(220, 20, 20)

    @Test func dataPointLandsOnItsMappedPixel() throws {
        let chart = LineChart.precisionRecall(series: [
            LineSeries(name: "diagonal", x: [0, 0.5, 1], y: [0, 0.5, 1], color: red)])
        let layout = try chart.layout()
        let area = layout.plotArea
        // (0.5, 0.5) maps to the middle of the plot area: x from its first column, y from its last row.
        let expected = PixelPoint(x: Int((Double(area.x) + 0.5 * Double(area.width - 1)).rounded()),
                                  y: Int((Double(area.maxY - 1) - 0.5 * Double(area.height - 1)).rounded()))
        #expect(layout.pixel(x: 0.5, y: 0.5) == expected)
        #expect(layout.pixel(x: 0, y: 0) == PixelPoint(x: area.x, y: area.maxY - 1))
        #expect(layout.pixel(x: 1, y: 1) == PixelPoint(x: area.maxX - 1, y: area.y))
        let canvas = try chart.render()
        #expect(canvas.color(x: expected.x, y: expected.y) == red)
        #expect(canvas.width == 640 && canvas.height == 480)
    }

    @Test func frameTicksAndGrid() throws {
        let chart = LineChart.precisionRecall(series: [])
        let layout = try chart.layout()
        let area = layout.plotArea
        #expect(layout.xAxis.ticks.map(\.label) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        #expect(layout.yAxis.ticks.map(\.label) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let canvas = try chart.render()
        #expect(canvas.color(x: area.x, y: area.y) == .darkGray)
        #expect(canvas.color(x: area.maxX - 1, y: area.maxY - 1) == .darkGray)
        // Grid line at x = 0.4 inside the area, tick mark below the frame at the same column.
        let x = layout.pixel(x: 0.4, y: 0.5)!
        #expect(canvas.color(x: x.x, y: x.y) == .lightGray)
        #expect(canvas.color(x: x.x, y: area.maxY + 2) == .darkGray)
        // Inside the area, away from grid lines, stays white.
        let blank = layout.pixel(x: 0.1, y: 0.1)!
        #expect(canvas.color(x: blank.x, y: blank.y) == .white)
    }

    @Test func undefinedValuesBreakTheLine() throws {
        let chart = LineChart.precisionRecall(series: [
            LineSeries(name: "gap", x: [0.1, 0.5, 0.9, 0.9], y: [0.1, .nan, 0.5, 0.9], color: red)])
        let layout = try chart.layout()
        let canvas = try chart.render()
        // 0.1 -> 0.9 is not joined across the NaN; the lone first point is drawn as a square.
        let middle = layout.pixel(x: 0.5, y: 0.3)!
        #expect(canvas.color(x: middle.x, y: middle.y) != red)
        let lone = layout.pixel(x: 0.1, y: 0.1)!
        for dy in -1 ... 1 { for dx in -1 ... 1 { #expect(canvas.color(x: lone.x + dx, y: lone.y + dy) == red) } }
        let joined = layout.pixel(x: 0.9, y: 0.7)!
        #expect(canvas.color(x: joined.x, y: joined.y) == red)
    }

    @Test func seriesNeverLeaveThePlotArea() throws {
        let chart = LineChart(series: [LineSeries(name: "wild", x: [0, 0.5, 1], y: [-1e12, 1e12, 0.5], color: red)],
                              xRange: 0 ... 1, yRange: 0 ... 1, legend: .hidden)
        let layout = try chart.layout()
        let canvas = try chart.render()
        var inside = 0
        for y in 0 ..< canvas.height {
            for x in 0 ..< canvas.width where canvas.color(x: x, y: y) == red {
                #expect(layout.plotArea.contains(x: x, y: y))
                inside += 1
            }
        }
        #expect(inside > layout.plotArea.height)  // the steep segments were drawn
    }

    @Test func logAxisPlacesDecadesEvenly() throws {
        let chart = ExamplePlots.proposalRecall
        let layout = try chart.layout()
        #expect(layout.xAxis.isLogarithmic && layout.xAxis.lower == 1 && layout.xAxis.upper == 10000)
        let area = layout.plotArea
        #expect(layout.pixel(x: 100, y: 0)!.x == Int((Double(area.x) + 0.5 * Double(area.width - 1)).rounded()))
        let canvas = try chart.render()
        // RPN's point at 100 proposals: recall 100 / 130.
        let p = layout.pixel(x: 100, y: 100.0 / 130)!
        #expect(canvas.color(x: p.x, y: p.y) == chart.seriesColor(0))
    }

    @Test func automaticRangesFitTheData() throws {
        let chart = LineChart(series: [LineSeries(name: "a", x: [3, 97], y: [0.12, 0.34])])
        let layout = try chart.layout()
        #expect(layout.xAxis.lower == 0 && layout.xAxis.upper == 100)
        #expect(layout.yAxis.lower <= 0.12 && layout.yAxis.upper >= 0.34)
    }

    @Test func legendAvoidsTheCurves() throws {
        // PR curves run from the top left to the bottom right; automatic placement must not hide them.
        let chart = ExamplePlots.precisionRecall
        let layout = try chart.layout()
        let canvas = try chart.render()
        for (i, s) in chart.series.enumerated() {
            for (x, y) in zip(s.x, s.y) {
                let p = layout.pixel(x: x, y: y)!
                guard layout.plotArea.insetBy(2).contains(x: p.x, y: p.y) else { continue }
                let c = canvas.color(x: p.x, y: p.y)!
                // Each point shows its own colour or a later series drawn over it.
                #expect((i ..< chart.series.count).contains { chart.seriesColor($0) == c }, "\(s.name) at \(x)")
            }
        }
    }

    @Test func invalidSettingsThrow() {
        #expect(throws: CVSegError.self) {
            try LineChart(series: [LineSeries(name: "zero", x: [0, 10], y: [0, 1])], logX: true).layout()
        }
        #expect(throws: CVSegError.self) { try LineChart(xRange: 1 ... 1).layout() }
        #expect(throws: CVSegError.self) { try LineChart(xRange: 0 ... 10, logX: true).layout() }
        #expect(throws: CVSegError.self) { try LineChart(width: 60, height: 40).layout() }
        #expect(throws: CVSegError.self) {
            try LineChart(series: [LineSeries(name: "thin", x: [0], y: [0], lineWidth: 0)]).layout()
        }
    }

    @Test func drawingTwiceGivesTheSamePixels() throws {
        #expect(try ExamplePlots.precisionRecall.render() == ExamplePlots.precisionRecall.render())
        #expect(try ExamplePlots.proposalRecall.render() == ExamplePlots.proposalRecall.render())
    }
}
