import CVSegCore

/// One named curve of a ``LineChart``: points `(x[i], y[i])` joined in order.
///
/// A NaN or infinite coordinate (an undefined precision, for instance) breaks the curve: the
/// points on either side are not joined. A point with no drawable neighbour is drawn as a
/// dot (odd-sized, about two pixels wider than the line) so it stays visible.
public struct LineSeries: Sendable, Equatable {
    /// The name shown in the legend.
    public var name: String
    public var x: [Double]
    public var y: [Double]
    /// The line colour; nil takes the next colour of ``PlotColor/seriesPalette`` by series index.
    public var color: PlotColor?
    /// Line thickness in pixels.
    public var lineWidth: Int

    /// - Precondition: `x.count == y.count`.
    public init(name: String, x: [Double], y: [Double], color: PlotColor? = nil, lineWidth: Int = 2) {
        precondition(x.count == y.count, "series '\(name)' has \(x.count) x values but \(y.count) y values")
        self.name = name
        self.x = x
        self.y = y
        self.color = color
        self.lineWidth = lineWidth
    }
}

/// Where a chart's legend goes: a corner inside the plot area, or nowhere.
public enum LegendPlacement: Sendable, Equatable {
    /// The corner that covers the fewest drawn series pixels (ties: upper right, lower right,
    /// lower left, upper left).
    case automatic
    case upperLeft, upperRight, lowerLeft, lowerRight
    case hidden
}

/// Where a ``LineChart``'s data lands on its canvas: the plot area and both axes.
///
/// The plot area's first column is the x axis's lower end and its last column the upper end;
/// its last row is the y axis's lower end and its first row the upper end. The frame is drawn
/// on the plot area's outermost pixels.
public struct ChartLayout: Sendable, Equatable {
    public let canvasWidth: Int
    public let canvasHeight: Int
    /// The pixels data is drawn in (and clipped to).
    public let plotArea: PixelRect
    public let xAxis: AxisScale
    public let yAxis: AxisScale

    /// The exact (unrounded) pixel position of data point `(x, y)`; nil when either coordinate
    /// has no position (not finite, or not positive on a log axis). Points outside the axis
    /// ranges get positions outside the plot area.
    public func position(x: Double, y: Double) -> (x: Double, y: Double)? {
        guard let fx = xAxis.fraction(x), let fy = yAxis.fraction(y) else { return nil }
        return (Double(plotArea.x) + fx * Double(plotArea.width - 1),
                Double(plotArea.maxY - 1) - fy * Double(plotArea.height - 1))
    }

    /// The pixel data point `(x, y)` is drawn at: ``position(x:y:)`` rounded to the nearest
    /// pixel (halves away from zero); nil as for ``position(x:y:)``.
    public func pixel(x: Double, y: Double) -> PixelPoint? {
        guard let p = position(x: x, y: y) else { return nil }
        return PixelPoint(x: Int(p.x.rounded()), y: Int(p.y.rounded()))
    }
}

/// A line chart: title, axis labels, ticks with numeric labels, a light grid, any number of
/// named series and a legend, drawn on a ``Canvas`` (640 × 480 by default).
///
/// The output is a white image with the title centred above a framed plot area; y tick labels
/// to the left (with the y label written upward beside them) and x tick labels and the x label
/// below. Series are drawn in order, later ones on top, clipped to the plot area.
///
/// ```swift
/// let chart = LineChart.precisionRecall(title: "VOC 2007 test", series: [
///     LineSeries(name: "person", x: recall, y: precision)])
/// let png = try ImageEncoder.png(try chart.render().image)
/// ```
public struct LineChart: Sendable, Equatable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [LineSeries]
    /// The x range; nil fits the data, widened to whole tick steps (to powers of ten on a log axis).
    public var xRange: ClosedRange<Double>?
    /// The y range; nil fits the data, widened to whole tick steps.
    public var yRange: ClosedRange<Double>?
    /// A base-10 logarithmic x axis, ticks at powers of ten. Every finite x must then be positive.
    public var logX: Bool
    /// Canvas size in pixels.
    public var width: Int
    public var height: Int
    public var legend: LegendPlacement
    /// Light grid lines at the ticks.
    public var showGrid: Bool
    /// Scale of tick labels, axis labels and legend text (font pixels are `textScale` wide).
    public var textScale: Int
    /// Scale of the title text.
    public var titleScale: Int

    public init(title: String = "", xLabel: String = "", yLabel: String = "", series: [LineSeries] = [],
                xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil, logX: Bool = false,
                width: Int = 640, height: Int = 480, legend: LegendPlacement = .automatic,
                showGrid: Bool = true, textScale: Int = 1, titleScale: Int = 2) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.xRange = xRange
        self.yRange = yRange
        self.logX = logX
        self.width = width
        self.height = height
        self.legend = legend
        self.showGrid = showGrid
        self.textScale = textScale
        self.titleScale = titleScale
    }

    /// A precision–recall chart: x = recall and y = precision, both fixed to 0...1.
    public static func precisionRecall(title: String = "Precision-recall", series: [LineSeries]) -> LineChart {
        LineChart(title: title, xLabel: "Recall", yLabel: "Precision", series: series,
                  xRange: 0 ... 1, yRange: 0 ... 1)
    }

    /// A proposal recall chart: x = number of proposals (log scale by default), y = recall 0...1.
    public static func proposalRecall(title: String = "Proposal recall", series: [LineSeries],
                                      logX: Bool = true) -> LineChart {
        LineChart(title: title, xLabel: "Number of proposals", yLabel: "Recall", series: series,
                  yRange: 0 ... 1, logX: logX)
    }

    // Fixed spacing, in pixels at scale 1.
    static let margin = 10, tickLength = 5, labelGap = 4

    /// Where the plot area and the axes fall for this chart's settings and data.
    /// - Throws: ``CVSegError/invalidArgument(_:)`` for a canvas too small for its labels,
    ///   a text scale below 1, a line width below 1, a range that is empty or not finite, a log
    ///   range not above 0, or a non-positive x value of some series on a log axis (naming the
    ///   series and the index).
    public func layout() throws -> ChartLayout {
        try validate()
        let xAxis = try makeXAxis(), yAxis = try makeYAxis()
        let s = textScale
        let capText = BitmapFont.capHeight * s
        let yTickWidth = yAxis.ticks.map { BitmapFont.textWidth($0.label, scale: s) - s }.max() ?? 0
        let left = Self.margin + (yLabel.isEmpty ? 0 : BitmapFont.lineHeight * s + 2 * Self.labelGap)
            + yTickWidth + Self.labelGap + Self.tickLength
        let lastXTick = xAxis.ticks.last.map { BitmapFont.textWidth($0.label, scale: s) / 2 } ?? 0
        let right = Self.margin + max(lastXTick, Self.margin)
        let top = Self.margin + max(title.isEmpty ? 0 : BitmapFont.lineHeight * titleScale + Self.margin, capText / 2)
        let bottom = Self.tickLength + Self.labelGap + capText
            + (xLabel.isEmpty ? 0 : 3 * Self.labelGap + capText) + Self.margin
        let area = PixelRect(x: left, y: top, width: width - left - right, height: height - top - bottom)
        guard area.width >= 40, area.height >= 40 else {
            throw CVSegError.invalidArgument(
                "a \(width)x\(height) chart leaves a \(area.width)x\(area.height) plot area; make it larger or the text smaller")
        }
        return ChartLayout(canvasWidth: width, canvasHeight: height, plotArea: area, xAxis: xAxis, yAxis: yAxis)
    }

    /// Ticks aimed for per axis: about one per 100 pixels across, one per 70 down.
    var targetTicks: (x: Int, y: Int) { (max(2, width / 100), max(2, height / 70)) }

    private func validate() throws {
        guard textScale >= 1, titleScale >= 1 else {
            throw CVSegError.invalidArgument("text scales must be at least 1 (text \(textScale), title \(titleScale))")
        }
        for s in series where s.lineWidth < 1 {
            throw CVSegError.invalidArgument("series '\(s.name)' has line width \(s.lineWidth); it must be at least 1")
        }
        for (axis, range) in [("x", xRange), ("y", yRange)] {
            if let range, !(range.lowerBound.isFinite && range.upperBound.isFinite && range.lowerBound < range.upperBound) {
                throw CVSegError.invalidArgument("the \(axis) range \(range) must be finite and not empty")
            }
        }
        guard logX else { return }
        if let range = xRange, range.lowerBound <= 0 {
            throw CVSegError.invalidArgument("a log x axis needs a range above 0, not \(range)")
        }
        for s in series {
            if let i = s.x.firstIndex(where: { $0.isFinite && $0 <= 0 }) {
                throw CVSegError.invalidArgument(
                    "series '\(s.name)' has x = \(s.x[i]) at index \(i); a log x axis needs x > 0")
            }
        }
    }

    /// Finite data values of one coordinate over every series (points whose other coordinate
    /// is not finite are left out: they are not drawn).
    private func dataRange(_ pick: (LineSeries) -> [Double], other: (LineSeries) -> [Double]) -> (Double, Double)? {
        var lo = Double.infinity, hi = -Double.infinity
        for s in series {
            for (v, w) in zip(pick(s), other(s)) where v.isFinite && w.isFinite {
                lo = min(lo, v); hi = max(hi, v)
            }
        }
        return lo <= hi ? (lo, hi) : nil
    }

    private func makeXAxis() throws -> AxisScale {
        let target = targetTicks.x
        if let r = xRange {
            return logX ? .logarithmic(lower: r.lowerBound, upper: r.upperBound, targetTickCount: target)
                        : .linear(lower: r.lowerBound, upper: r.upperBound, targetTickCount: target)
        }
        let (lo, hi) = dataRange({ $0.x }, other: { $0.y }) ?? (logX ? (1, 10) : (0, 1))
        return logX ? .automaticLogarithmic(dataMin: lo, dataMax: hi, targetTickCount: target)
                    : .automaticLinear(dataMin: lo, dataMax: hi, targetTickCount: target)
    }

    private func makeYAxis() throws -> AxisScale {
        let target = targetTicks.y
        if let r = yRange { return .linear(lower: r.lowerBound, upper: r.upperBound, targetTickCount: target) }
        let (lo, hi) = dataRange({ $0.y }, other: { $0.x }) ?? (0, 1)
        return .automaticLinear(dataMin: lo, dataMax: hi, targetTickCount: target)
    }
}
