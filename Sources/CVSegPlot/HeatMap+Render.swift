import CVSegCore

extension HeatMap {
    /// Class names as written: shortened to ``maxLabelLength`` characters.
    var shortNames: [String] { classNames.map { BitmapFont.truncate($0, toCharacters: maxLabelLength) } }

    /// Where the matrix, its labels and the colour bar go.
    /// - Throws: ``CVSegError/invalidArgument(_:)`` for fewer than 2 classes, a negative count,
    ///   a cell size below 8, or `maxLabelLength` below 3.
    public func layout() throws -> HeatMapLayout {
        guard classes >= 2 else { throw CVSegError.invalidArgument("a heat map needs at least 2 classes, not \(classes)") }
        if let i = counts.firstIndex(where: { $0 < 0 }) {
            throw CVSegError.invalidArgument(
                "count \(counts[i]) at row \(i / classes), column \(i % classes) is negative")
        }
        guard maxLabelLength >= 3 else { throw CVSegError.invalidArgument("maxLabelLength must be at least 3, not \(maxLabelLength)") }
        let cell = cellSize ?? HeatMap.automaticCellSize(classes: classes)
        guard cell >= 8 else { throw CVSegError.invalidArgument("cells of \(cell) pixels are too small to draw (8 at least)") }
        let m = HeatMap.margin, gap = HeatMap.gap
        let labelScale = cell >= 40 ? 2 : 1
        let labelWidth = shortNames.map { BitmapFont.textWidth($0, scale: labelScale) - labelScale }.max() ?? 0
        let capLabel = BitmapFont.capHeight * labelScale
        let side = classes * cell
        let barLabels = colorBarAxis(height: side).ticks.map { BitmapFont.textWidth($0.label, scale: labelScale) - labelScale }.max() ?? 0
        let titleHeight = title.isEmpty ? 0 : BitmapFont.lineHeight * HeatMap.titleScale + 2 * gap
        // Content box, before centring on a canvas of at least the minimum size.
        let left = m + (yLabel.isEmpty ? 0 : capLabel + 2 * gap) + labelWidth + gap
        let contentWidth = left + side + 3 * gap + HeatMap.colorBarWidth + HeatMap.barLabelOffset(labelScale) + barLabels + m
        let top = m + titleHeight
        let contentHeight = top + side + gap + labelWidth + (xLabel.isEmpty ? 0 : 2 * gap + capLabel) + m
        let titleWidth = BitmapFont.textWidth(title, scale: HeatMap.titleScale) + 2 * m
        let width = max(HeatMap.minimumSize.width, contentWidth, titleWidth)
        let height = max(HeatMap.minimumSize.height, contentHeight)
        let dx = (width - contentWidth) / 2, dy = (height - contentHeight) / 2
        let grid = PixelRect(x: dx + left, y: dy + top, width: side, height: side)
        let bar = PixelRect(x: grid.maxX + 3 * gap, y: grid.y, width: HeatMap.colorBarWidth, height: side)
        return HeatMapLayout(canvasWidth: width, canvasHeight: height, grid: grid, cellSize: cell, classes: classes,
                             colorBar: bar, labelScale: labelScale, valueScale: valueScale(cell: cell))
    }

    /// The largest scale (2, then 1) at which every cell's text fits with 2 pixels to spare on
    /// each side; nil when even scale 1 does not fit.
    private func valueScale(cell: Int) -> Int? {
        var longest = 0
        for r in 0 ..< classes { for c in 0 ..< classes { longest = max(longest, cellText(row: r, column: c).count) } }
        for s in [2, 1] where longest * BitmapFont.advance * s - s + 4 <= cell && BitmapFont.capHeight * s + 4 <= cell {
            return s
        }
        return nil
    }

    /// The colour bar's axis: 0...1 for fractions, 0...largest count for counts.
    private func colorBarAxis(height: Int) -> AxisScale {
        let upper = values == .rowFractions ? 1 : Double(max(counts.max() ?? 1, 1))
        return .linear(lower: 0, upper: upper, targetTickCount: max(2, min(10, height / 60)))
    }

    /// Draws the heat map.
    /// - Throws: as ``layout()``.
    public func render() throws -> Canvas {
        let layout = try layout()
        var canvas = Canvas(width: layout.canvasWidth, height: layout.canvasHeight, background: .white)
        drawCells(&canvas, layout)
        drawClassNames(&canvas, layout)
        drawColorBar(&canvas, layout)
        drawTitles(&canvas, layout)
        return canvas
    }

    /// From the colour bar's right edge to its labels: frame, 3-pixel tick, then a gap.
    static func barLabelOffset(_ scale: Int) -> Int { 4 + 3 * scale }

    /// Colour of cells whose row has no ground truth (fractions undefined).
    static let undefinedColor = PlotColor(210, 210, 210)

    private func drawCells(_ canvas: inout Canvas, _ layout: HeatMapLayout) {
        for r in 0 ..< classes {
            for c in 0 ..< classes {
                let rect = layout.cellRect(row: r, column: c)
                let t = colorFraction(row: r, column: c)
                let fill = t.isNaN ? HeatMap.undefinedColor : BlueColorMap.color(t)
                canvas.fillRect(rect, color: fill)
                guard let s = layout.valueScale else { continue }
                let center = PixelPoint(x: rect.x + (rect.width - 1) / 2, y: rect.y + (rect.height - 1) / 2)
                canvas.drawText(cellText(row: r, column: c), anchor: center, alignment: .center,
                                color: fill.luma < 128 ? .white : .black, scale: s)
            }
        }
        canvas.strokeRect(layout.grid.insetBy(-1), color: .darkGray)
    }

    private func drawClassNames(_ canvas: inout Canvas, _ layout: HeatMapLayout) {
        let s = layout.labelScale, grid = layout.grid, cell = layout.cellSize
        for (i, name) in shortNames.enumerated() {
            let mid = i * cell + (cell - 1) / 2
            canvas.drawText(name, anchor: PixelPoint(x: grid.x - HeatMap.gap - 1, y: grid.y + mid),
                            alignment: .right, color: .black, scale: s)
            // Upward below the column, its last character next to the matrix.
            canvas.drawText(name, at: PixelPoint(x: grid.x + mid - (BitmapFont.capHeight * s - 1) / 2,
                                                 y: grid.maxY + HeatMap.gap - s),
                            color: .black, scale: s, direction: .upward)
        }
    }

    private func drawColorBar(_ canvas: inout Canvas, _ layout: HeatMapLayout) {
        let bar = layout.colorBar
        for y in bar.y ..< bar.maxY {
            let t = 1 - Double(y - bar.y) / Double(bar.height - 1)
            canvas.fillRect(PixelRect(x: bar.x, y: y, width: bar.width, height: 1), color: BlueColorMap.color(t))
        }
        canvas.strokeRect(bar.insetBy(-1), color: .darkGray)
        let axis = colorBarAxis(height: bar.height)
        for tick in axis.ticks {
            let y = bar.maxY - 1 - Int((axis.fraction(tick.value)! * Double(bar.height - 1)).rounded())
            canvas.fillRect(PixelRect(x: bar.maxX + 1, y: y, width: 3, height: 1), color: .darkGray)
            canvas.drawText(tick.label, anchor: PixelPoint(x: bar.maxX + HeatMap.barLabelOffset(layout.labelScale), y: y),
                            alignment: .left, color: .darkGray, scale: layout.labelScale)
        }
    }

    private func drawTitles(_ canvas: inout Canvas, _ layout: HeatMapLayout) {
        let grid = layout.grid, s = layout.labelScale
        let capLabel = BitmapFont.capHeight * s
        let centerX = grid.x + (grid.width - 1) / 2
        if !title.isEmpty {
            // Centred on the matrix, moved inward if that would cut it at a canvas edge.
            let titleScale = HeatMap.titleScale
            let half = (BitmapFont.textWidth(title, scale: titleScale) - titleScale) / 2
            let x = min(max(centerX, half + HeatMap.margin), layout.canvasWidth - 1 - half - HeatMap.margin)
            let capTitle = BitmapFont.capHeight * titleScale
            canvas.drawText(title, anchor: PixelPoint(x: x, y: grid.y - 2 * HeatMap.gap - capTitle / 2),
                            alignment: .center, color: .black, scale: titleScale)
        }
        let labelWidth = shortNames.map { BitmapFont.textWidth($0, scale: s) - s }.max() ?? 0
        if !xLabel.isEmpty {
            let y = grid.maxY + HeatMap.gap + labelWidth + 2 * HeatMap.gap + capLabel / 2
            canvas.drawText(xLabel, anchor: PixelPoint(x: centerX, y: y), alignment: .center, color: .black, scale: s)
        }
        if !yLabel.isEmpty {
            let x = grid.x - HeatMap.gap - labelWidth - 2 * HeatMap.gap - capLabel / 2
            canvas.drawUpwardText(yLabel, center: PixelPoint(x: x, y: grid.y + (grid.height - 1) / 2), color: .black, scale: s)
        }
    }
}
