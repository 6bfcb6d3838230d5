import Testing
import CVSegCore
@testable import CVSegPlot

@Suite struct HeatMapTests {
    // Row fractions: 50/55 = 0.91, 20/30 = 0.67, 9/12 = 0.75 on the diagonal.
    let counts = [50, 3, 2,
                  4, 20, 6,
                  1, 2, 9]

    /// A pixel in the cell's corner, clear of the centred value text.
    func corner(_ canvas: Canvas, _ layout: HeatMapLayout, _ r: Int, _ c: Int) -> PlotColor {
        let rect = layout.cellRect(row: r, column: c)
        return canvas.color(x: rect.x + 1, y: rect.y + 1)!
    }

    @Test func largestValueIsTheDarkestCell() throws {
        let map = HeatMap(counts: counts, classNames: ["a", "b", "c"])
        let layout = try map.layout()
        let canvas = try map.render()
        var darkest = (luma: Int.max, row: -1, column: -1)
        for r in 0 ..< 3 {
            for c in 0 ..< 3 {
                let color = corner(canvas, layout, r, c)
                #expect(color == BlueColorMap.color(map.value(row: r, column: c)))
                if color.luma < darkest.luma { darkest = (color.luma, r, c) }
            }
        }
        #expect(darkest.row == 0 && darkest.column == 0)
        #expect(abs(map.value(row: 0, column: 0) - 50.0 / 55) < 1e-12)
    }

    @Test func countsAreColouredByTheLargestCount() throws {
        let map = HeatMap(counts: counts, classNames: ["a", "b", "c"], values: .counts)
        let layout = try map.layout()
        let canvas = try map.render()
        #expect(corner(canvas, layout, 0, 0) == PlotColor(8, 48, 107))  // the map's end
        #expect(corner(canvas, layout, 2, 0) == BlueColorMap.color(1.0 / 50))
    }

    @Test func colourMapRunsFromWhiteToDarkBlue() {
        #expect(BlueColorMap.color(0) == .white)
        #expect(BlueColorMap.color(0.5) == PlotColor(107, 174, 214))
        #expect(BlueColorMap.color(1) == PlotColor(8, 48, 107))
        let lumas = (0...20).map { BlueColorMap.color(Double($0) / 20).luma }
        #expect(zip(lumas, lumas.dropFirst()).allSatisfy { $0 > $1 })
    }

    @Test func valuesAreWrittenWhenCellsAreLarge() throws {
        let big = try HeatMap(counts: counts, classNames: ["a", "b", "c"]).layout()
        #expect(big.cellSize == 96 && big.valueScale == 2)
        let map = HeatMap(counts: counts, classNames: ["a", "b", "c"])
        #expect(map.cellText(row: 0, column: 0) == "0.91" && map.cellText(row: 1, column: 2) == "0.20")
        let canvas = try map.render()
        // The darkest cell's text is white, somewhere in the cell's middle.
        let rect = big.cellRect(row: 0, column: 0)
        var white = 0
        for y in rect.y + 30 ..< rect.maxY - 30 { for x in rect.x ..< rect.maxX where canvas.color(x: x, y: y) == .white { white += 1 } }
        #expect(white > 50)
    }

    @Test func emptyRowsAreGrayNotZero() throws {
        let map = HeatMap(counts: [5, 1, 0, 0], classNames: ["seen", "never"])
        #expect(map.value(row: 1, column: 0).isNaN && map.cellText(row: 1, column: 1) == "-")
        let layout = try map.layout()
        let canvas = try map.render()
        #expect(corner(canvas, layout, 1, 0) == HeatMap.undefinedColor)
    }

    @Test(arguments: [2, 5, 12, 30, 40])
    func canvasGrowsWithTheClassCount(classes: Int) throws {
        let names = (0 ..< classes).map { "class number \($0)" }
        let map = HeatMap(counts: [Int](repeating: 1, count: classes * classes), classNames: names)
        let layout = try map.layout()
        #expect(layout.cellSize >= 16 && layout.cellSize >= BitmapFont.lineHeight * layout.labelScale)
        #expect(layout.canvasWidth >= 640 && layout.canvasHeight >= 480)
        #expect(layout.grid.x > 0 && layout.grid.y > 0)
        #expect(layout.colorBar.maxX < layout.canvasWidth && layout.grid.maxY < layout.canvasHeight)
        let canvas = try map.render()
        #expect(canvas.width == layout.canvasWidth && canvas.height == layout.canvasHeight)
    }

    @Test func invalidMatricesThrow() {
        #expect(throws: CVSegError.self) { try HeatMap(counts: [1], classNames: ["only"]).layout() }
        #expect(throws: CVSegError.self) { try HeatMap(counts: [1, -1, 0, 2], classNames: ["a", "b"]).layout() }
        #expect(throws: CVSegError.self) { try HeatMap(counts: [1, 0, 0, 1], classNames: ["a", "b"], cellSize: 4).layout() }
    }

    @Test func drawingTwiceGivesTheSamePixels() throws {
        #expect(try ExamplePlots.confusion30.render() == ExamplePlots.confusion30.render())
    }
}
