extension LineChart {
    // Legend geometry at scale 1: padding inside the box, line sample length, gap before the name.
    static let legendPadding = 6, legendSample = 22, legendGap = 6, legendInset = 8

    /// The legend's size, and the series names shortened so the box is at most half the plot
    /// area wide.
    func legendContent(_ layout: ChartLayout) -> (size: (width: Int, height: Int), names: [String]) {
        let s = textScale
        let fixed = 2 * LineChart.legendPadding + LineChart.legendSample + LineChart.legendGap
        let maxChars = max(3, (layout.plotArea.width / 2 - fixed) / (BitmapFont.advance * s))
        let names = series.map { BitmapFont.truncate($0.name, toCharacters: maxChars) }
        let textWidth = names.map { BitmapFont.textWidth($0, scale: s) - s }.max() ?? 0
        let rowHeight = BitmapFont.lineHeight * s + 4
        return ((fixed + textWidth, 2 * LineChart.legendPadding + names.count * rowHeight - 4), names)
    }

    /// The legend box for `placement` (a corner), inset from the plot area's frame.
    func legendRect(_ placement: LegendPlacement, size: (width: Int, height: Int), _ layout: ChartLayout) -> PixelRect {
        let area = layout.plotArea, inset = LineChart.legendInset
        let left = area.x + inset, right = area.maxX - inset - size.width
        let top = area.y + inset, bottom = area.maxY - inset - size.height
        let (x, y): (Int, Int)
        switch placement {
        case .upperLeft: (x, y) = (left, top)
        case .lowerLeft: (x, y) = (left, bottom)
        case .lowerRight: (x, y) = (right, bottom)
        default: (x, y) = (right, top)
        }
        return PixelRect(x: x, y: y, width: size.width, height: size.height)
    }

    func drawLegend(_ canvas: inout Canvas, _ layout: ChartLayout, colors: [PlotColor]) {
        guard legend != .hidden, !series.isEmpty else { return }
        let (size, names) = legendContent(layout)
        var placement = legend
        if placement == .automatic {
            // The corner hiding the fewest series pixels; ties go to the earlier corner.
            let seriesColors = Set(colors)
            var best = Int.max
            for corner in [LegendPlacement.upperRight, .lowerRight, .lowerLeft, .upperLeft] {
                let r = legendRect(corner, size: size, layout).intersection(canvas.bounds)
                var covered = 0
                for y in r.y ..< max(r.y, r.maxY) {
                    for x in r.x ..< max(r.x, r.maxX) where seriesColors.contains(canvas.color(x: x, y: y)!) {
                        covered += 1
                    }
                }
                if covered < best { best = covered; placement = corner }
            }
        }
        let box = legendRect(placement, size: size, layout)
        canvas.fillRect(box, color: .white)
        canvas.strokeRect(box, color: .mediumGray)
        let s = textScale, rowHeight = BitmapFont.lineHeight * s + 4
        for (i, name) in names.enumerated() {
            let midY = box.y + LineChart.legendPadding + i * rowHeight + (BitmapFont.capHeight * s) / 2
            let x0 = box.x + LineChart.legendPadding
            canvas.drawLine(from: PixelPoint(x: x0, y: midY), to: PixelPoint(x: x0 + LineChart.legendSample - 1, y: midY),
                            color: colors[i], thickness: series[i].lineWidth)
            canvas.drawText(name, anchor: PixelPoint(x: x0 + LineChart.legendSample + LineChart.legendGap, y: midY),
                            alignment: .left, color: .darkGray, scale: s)
        }
    }
}
