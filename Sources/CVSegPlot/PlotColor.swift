/// An opaque 8-bit RGB colour for drawing on a ``Canvas``.
public struct PlotColor: Sendable, Hashable, CustomStringConvertible {
    public var r: UInt8, g: UInt8, b: UInt8

    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        self.r = r; self.g = g; self.b = b
    }

    public static let white = PlotColor(255, 255, 255)
    public static let black = PlotColor(0, 0, 0)
    /// Axis frames, tick marks and text.
    public static let darkGray = PlotColor(64, 64, 64)
    /// Legend box borders.
    public static let mediumGray = PlotColor(160, 160, 160)
    /// Major grid lines.
    public static let lightGray = PlotColor(224, 224, 224)
    /// Minor grid lines (log axes).
    public static let faintGray = PlotColor(242, 242, 242)

    /// Ten well-separated colours for series, used in order when a series has no colour of its
    /// own: blue, orange, green, red, purple, brown, pink, gray, olive, cyan.
    public static let seriesPalette: [PlotColor] = [
        PlotColor(31, 119, 180), PlotColor(255, 127, 14), PlotColor(44, 160, 44),
        PlotColor(214, 39, 40), PlotColor(148, 103, 189), PlotColor(140, 86, 75),
        PlotColor(227, 119, 194), PlotColor(127, 127, 127), PlotColor(188, 189, 34),
        PlotColor(23, 190, 207),
    ]

    /// Perceived brightness 0...255 (ITU-R BT.601 weights, integer arithmetic), used to choose
    /// black or white text on a filled cell.
    public var luma: Int { (299 * Int(r) + 587 * Int(g) + 114 * Int(b)) / 1000 }

    public var description: String { "(\(r), \(g), \(b))" }
}

/// The sequential colour map of ``HeatMap``: white at 0, mid blue (107, 174, 214) at 0.5, dark
/// blue (8, 48, 107) at 1, linear in each channel between these stops.
///
/// Every channel decreases from 0 to 1, so a larger value is always a darker cell.
public enum BlueColorMap {
    static let stops: [(t: Double, color: PlotColor)] = [
        (0, PlotColor(255, 255, 255)), (0.5, PlotColor(107, 174, 214)), (1, PlotColor(8, 48, 107)),
    ]

    /// The colour for `t`, clamped to 0...1 (the documented meaning of the map's ends).
    /// - Precondition: `t` is not NaN.
    public static func color(_ t: Double) -> PlotColor {
        precondition(!t.isNaN, "the colour map has no colour for NaN")
        let t = min(max(t, 0), 1)
        let upper = t <= stops[1].t ? 1 : 2
        let (t0, c0) = stops[upper - 1], (t1, c1) = stops[upper]
        let f = (t - t0) / (t1 - t0)
        func mix(_ a: UInt8, _ b: UInt8) -> UInt8 {
            UInt8((Double(a) + (Double(b) - Double(a)) * f).rounded())
        }
        return PlotColor(mix(c0.r, c1.r), mix(c0.g, c1.g), mix(c0.b, c1.b))
    }
}
