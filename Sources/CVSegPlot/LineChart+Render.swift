extension LineChart {
    /// Draws the chart.
    ///
    /// Order: grid, frame, series (clipped to the plot area), ticks and their labels, axis
    /// labels, title, legend. Deterministic: the same chart gives the same pixels.
    /// - Throws: as ``layout()``.
    public func render() throws -> Canvas {
        let layout = try layout()
        var canvas = Canvas(width: width, height: height, background: .white)
        let area = layout.plotArea
        if showGrid { drawGrid(&canvas, layout) }
        canvas.strokeRect(area, color: .darkGray)
        let colors = series.indices.map { seriesColor($0) }
        canvas.clip = area
        for (s, color) in zip(series, colors) { drawSeries(s, color: color, on: &canvas, layout) }
        canvas.clip = nil
        drawTicks(&canvas, layout)
        drawLabels(&canvas, layout)
        drawLegend(&canvas, layout, colors: colors)
        return canvas
    }

    /// The colour series `index` is drawn in.
    public func seriesColor(_ index: Int) -> PlotColor {
        series[index].color ?? PlotColor.seriesPalette[index % PlotColor.seriesPalette.count]
    }

    private func xPixel(_ layout: ChartLayout, _ value: Double) -> Int? {
        layout.xAxis.fraction(value).map { Int((Double(layout.plotArea.x) + $0 * Double(layout.plotArea.width - 1)).rounded()) }
    }

    private func yPixel(_ layout: ChartLayout, _ value: Double) -> Int? {
        layout.yAxis.fraction(value).map { Int((Double(layout.plotArea.maxY - 1) - $0 * Double(layout.plotArea.height - 1)).rounded()) }
    }

    private func drawGrid(_ canvas: inout Canvas, _ layout: ChartLayout) {
        let area = layout.plotArea
        func vertical(_ value: Double, _ color: PlotColor) {
            guard let x = xPixel(layout, value) else { return }
            canvas.fillRect(PixelRect(x: x, y: area.y, width: 1, height: area.height), color: color)
        }
        for v in layout.xAxis.minorTicks { vertical(v, .faintGray) }
        for t in layout.xAxis.ticks { vertical(t.value, .lightGray) }
        for t in layout.yAxis.ticks {
            guard let y = yPixel(layout, t.value) else { continue }
            canvas.fillRect(PixelRect(x: area.x, y: y, width: area.width, height: 1), color: .lightGray)
        }
    }

    /// Draws one series: runs of consecutive drawable points as polylines, lone points as squares.
    private func drawSeries(_ s: LineSeries, color: PlotColor, on canvas: inout Canvas, _ layout: ChartLayout) {
        let positions = zip(s.x, s.y).map { layout.position(x: $0, y: $1) }
        // Segments are cut to the plot area (grown by a pixel) before rounding, so data far
        // outside the range never produces huge pixel coordinates.
        let area = layout.plotArea
        let box = (x0: Double(area.x - 1), y0: Double(area.y - 1), x1: Double(area.maxX), y1: Double(area.maxY))
        for i in positions.indices {
            guard let p = positions[i] else { continue }
            let previous = i > 0 ? positions[i - 1] : nil
            let next = i + 1 < positions.count ? positions[i + 1] : nil
            if previous == nil && next == nil {
                // An odd-sized square, so it is centred on the point: 5 pixels for width 2.
                if let px = LineChart.pixel(p, box) {
                    canvas.drawLine(from: px, to: px, color: color, thickness: (s.lineWidth | 1) + 2)
                }
            }
            if let q = next, let (a, b) = LineChart.clipSegment(p, q, to: box) {
                canvas.drawLine(from: LineChart.round(a), to: LineChart.round(b), color: color, thickness: s.lineWidth)
            }
        }
    }

    private static func round(_ p: (x: Double, y: Double)) -> PixelPoint {
        PixelPoint(x: Int(p.x.rounded()), y: Int(p.y.rounded()))
    }

    private static func pixel(_ p: (x: Double, y: Double), _ box: (x0: Double, y0: Double, x1: Double, y1: Double)) -> PixelPoint? {
        p.x >= box.x0 && p.x <= box.x1 && p.y >= box.y0 && p.y <= box.y1 ? round(p) : nil
    }

    /// Liang–Barsky clipping of segment `a`–`b` to `box`; nil when it misses the box.
    static func clipSegment(_ a: (x: Double, y: Double), _ b: (x: Double, y: Double),
                            to box: (x0: Double, y0: Double, x1: Double, y1: Double))
        -> ((x: Double, y: Double), (x: Double, y: Double))? {
        let dx = b.x - a.x, dy = b.y - a.y
        var t0 = 0.0, t1 = 1.0
        for (p, q) in [(-dx, a.x - box.x0), (dx, box.x1 - a.x), (-dy, a.y - box.y0), (dy, box.y1 - a.y)] {
            if p == 0 {
                if q < 0 { return nil }
            } else {
                let r = q / p
                if p < 0 { t0 = max(t0, r) } else { t1 = min(t1, r) }
            }
        }
        guard t0 <= t1 else { return nil }
        let start = t0 == 0 ? a : (a.x + t0 * dx, a.y + t0 * dy)
        let end = t1 == 1 ? b : (a.x + t1 * dx, a.y + t1 * dy)
        return (start, end)
    }

    private func drawTicks(_ canvas: inout Canvas, _ layout: ChartLayout) {
        let area = layout.plotArea, s = textScale
        let capText = BitmapFont.capHeight * s
        for v in layout.xAxis.minorTicks {
            if let x = xPixel(layout, v) { canvas.fillRect(PixelRect(x: x, y: area.maxY, width: 1, height: LineChart.tickLength - 2), color: .darkGray) }
        }
        for t in layout.xAxis.ticks {
            guard let x = xPixel(layout, t.value) else { continue }
            canvas.fillRect(PixelRect(x: x, y: area.maxY, width: 1, height: LineChart.tickLength), color: .darkGray)
            let labelY = area.maxY + LineChart.tickLength + LineChart.labelGap + capText / 2
            canvas.drawText(t.label, anchor: PixelPoint(x: x, y: labelY), alignment: .center, color: .darkGray, scale: s)
        }
        for t in layout.yAxis.ticks {
            guard let y = yPixel(layout, t.value) else { continue }
            canvas.fillRect(PixelRect(x: area.x - LineChart.tickLength, y: y, width: LineChart.tickLength, height: 1), color: .darkGray)
            let labelX = area.x - LineChart.tickLength - LineChart.labelGap - 1
            canvas.drawText(t.label, anchor: PixelPoint(x: labelX, y: y), alignment: .right, color: .darkGray, scale: s)
        }
    }

    private func drawLabels(_ canvas: inout Canvas, _ layout: ChartLayout) {
        let area = layout.plotArea, s = textScale
        let capText = BitmapFont.capHeight * s
        let centerX = area.x + (area.width - 1) / 2
        if !title.isEmpty {
            let capTitle = BitmapFont.capHeight * titleScale
            canvas.drawText(title, anchor: PixelPoint(x: centerX, y: LineChart.margin + capTitle / 2),
                            alignment: .center, color: .black, scale: titleScale)
        }
        if !xLabel.isEmpty {
            let y = area.maxY + LineChart.tickLength + LineChart.labelGap + capText + 3 * LineChart.labelGap + capText / 2
            canvas.drawText(xLabel, anchor: PixelPoint(x: centerX, y: y), alignment: .center, color: .black, scale: s)
        }
        if !yLabel.isEmpty {
            canvas.drawUpwardText(yLabel, center: PixelPoint(x: LineChart.margin + capText / 2, y: area.y + (area.height - 1) / 2),
                                  color: .black, scale: s)
        }
    }
}
