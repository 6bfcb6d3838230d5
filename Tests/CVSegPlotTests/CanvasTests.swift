import Testing
import CVSegCore
@testable import CVSegPlot

@Suite struct CanvasTests {
    let red = PlotColor(255, 0, 0)

    /// Every pixel of `canvas` that is not white.
    func inked(_ canvas: Canvas) -> Set<PixelPoint> {
        var out: Set<PixelPoint> = []
        for y in 0 ..< canvas.height {
            for x in 0 ..< canvas.width where canvas.color(x: x, y: y) != .white { out.insert(PixelPoint(x: x, y: y)) }
        }
        return out
    }

    func points(_ list: [(Int, Int)]) -> Set<PixelPoint> { Set(list.map { PixelPoint(x: $0.0, y: $0.1) }) }

    @Test func backgroundAndImageLayout() {
        let canvas = Canvas(width: 3, height: 2, background: PlotColor(1, 2, 3))
        let image = canvas.image
        #expect(image.layout == .rgb && image.width == 3 && image.height == 2)
        #expect(image.samples == [UInt8](repeating: 0, count: 6).flatMap { _ in [1, 2, 3] as [UInt8] })
    }

    @Test func setPixelWritesRowMajorRGB() {
        var canvas = Canvas(width: 4, height: 3)
        canvas.setPixel(x: 2, y: 1, color: PlotColor(10, 20, 30))
        let i = (1 * 4 + 2) * 3
        #expect(Array(canvas.samples[i ..< i + 3]) == [10, 20, 30])
        #expect(canvas.image[2, 1, 1] == 20)
        #expect(inked(canvas) == points([(2, 1)]))
    }

    @Test func filledRectangleCoversExactlyItsPixels() {
        var canvas = Canvas(width: 10, height: 8)
        canvas.fillRect(PixelRect(x: 2, y: 3, width: 4, height: 2), color: red)
        #expect(inked(canvas) == points([(2, 3), (3, 3), (4, 3), (5, 3), (2, 4), (3, 4), (4, 4), (5, 4)]))
        #expect(canvas.color(x: 2, y: 3) == red)
    }

    @Test func rectangleOutlineIsTheBorderOnly() {
        var canvas = Canvas(width: 10, height: 10)
        canvas.strokeRect(PixelRect(x: 1, y: 2, width: 5, height: 4), color: red)
        let ink = inked(canvas)
        #expect(ink.count == 2 * 5 + 2 * 4 - 4)
        #expect(ink.contains(PixelPoint(x: 1, y: 2)) && ink.contains(PixelPoint(x: 5, y: 5)))
        #expect(!ink.contains(PixelPoint(x: 3, y: 3)))  // inside stays empty
    }

    @Test func diagonalLinePixels() {
        var canvas = Canvas(width: 8, height: 8)
        canvas.drawLine(from: PixelPoint(x: 0, y: 0), to: PixelPoint(x: 5, y: 5), color: red)
        #expect(inked(canvas) == points((0...5).map { ($0, $0) }))
    }

    @Test func shallowLineRoundsHalvesUpAndIgnoresDirection() {
        // y = x / 2 rounded, halves up: 0, 1, 1, 2, 2, 3, 3.
        let expected = points([(0, 0), (1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (6, 3)])
        var forward = Canvas(width: 8, height: 5), backward = Canvas(width: 8, height: 5)
        forward.drawLine(from: PixelPoint(x: 0, y: 0), to: PixelPoint(x: 6, y: 3), color: red)
        backward.drawLine(from: PixelPoint(x: 6, y: 3), to: PixelPoint(x: 0, y: 0), color: red)
        #expect(inked(forward) == expected)
        #expect(forward == backward)
    }

    @Test func steepLineHasOnePixelPerRow() {
        var canvas = Canvas(width: 5, height: 10)
        canvas.drawLine(from: PixelPoint(x: 1, y: 0), to: PixelPoint(x: 3, y: 9), color: red)
        let ink = inked(canvas)
        #expect(ink.count == 10)
        #expect(Set(ink.map(\.y)) == Set(0...9))
    }

    @Test func thickLineCoversTheBrush() {
        var canvas = Canvas(width: 12, height: 9)
        canvas.drawLine(from: PixelPoint(x: 2, y: 4), to: PixelPoint(x: 8, y: 4), color: red, thickness: 3)
        // A 3-pixel brush is a full 3x3 square: rows 3...5, columns 1...9.
        #expect(inked(canvas) == points((1...9).flatMap { x in (3...5).map { (x, $0) } }))
        #expect(Canvas.brush(4).count == 12)  // 4x4 minus the corners
    }

    @Test func polylineJoinsItsPoints() {
        var canvas = Canvas(width: 6, height: 6)
        canvas.drawPolyline([PixelPoint(x: 0, y: 0), PixelPoint(x: 4, y: 0), PixelPoint(x: 4, y: 3)], color: red)
        #expect(inked(canvas) == points([(0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (4, 1), (4, 2), (4, 3)]))
    }

    @Test func drawingOffTheCanvasIsClipped() {
        var canvas = Canvas(width: 6, height: 4)
        canvas.setPixel(x: -1, y: 0, color: red)
        canvas.setPixel(x: 6, y: 3, color: red)
        canvas.fillRect(PixelRect(x: -5, y: -5, width: 7, height: 6), color: red)  // covers (0...1, 0)
        canvas.drawLine(from: PixelPoint(x: -10, y: 3), to: PixelPoint(x: 20, y: 3), color: red)
        canvas.drawLine(from: PixelPoint(x: -Canvas.coordinateLimit, y: -5), to: PixelPoint(x: Canvas.coordinateLimit, y: -5),
                        color: red, thickness: 3)  // far off and above: only walks the visible span
        canvas.drawText("ABC", at: PixelPoint(x: 4, y: -20), color: red, scale: 2)
        #expect(inked(canvas) == points([(0, 0), (1, 0)] + (0..<6).map { ($0, 3) }))
    }

    @Test func clipRectangleLeavesTheOutsideUntouched() {
        var canvas = Canvas(width: 10, height: 10)
        canvas.clip = PixelRect(x: 2, y: 2, width: 3, height: 3)
        canvas.fillRect(canvas.bounds, color: red)
        canvas.drawLine(from: PixelPoint(x: 0, y: 0), to: PixelPoint(x: 9, y: 9), color: .black, thickness: 2)
        let ink = inked(canvas)
        #expect(ink == points((2...4).flatMap { x in (2...4).map { (x, $0) } }))
    }
}
