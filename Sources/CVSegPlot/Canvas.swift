import CVSegCore

/// An RGB drawing surface with 8-bit samples, turned into an ``Image`` (`.rgb`) for encoding.
///
/// Every primitive writes opaque pixels (no blending, no anti-aliasing), so the same calls give
/// the same pixels on every machine. Pixels outside the canvas, or outside ``clip`` when it is
/// set, are skipped: drawing partly or wholly off the canvas is allowed.
public struct Canvas: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// Samples, row-major, `r g b` interleaved (as in ``Image``).
    public private(set) var samples: [UInt8]
    /// When set, drawing only touches pixels inside this rectangle.
    public var clip: PixelRect?

    /// Largest coordinate magnitude the line primitives accept; far larger than any canvas, and
    /// small enough that the integer line arithmetic cannot overflow.
    public static let coordinateLimit = 1 << 28

    /// A canvas of `width` × `height` pixels filled with `background`.
    /// - Precondition: both sizes are positive.
    public init(width: Int, height: Int, background: PlotColor = .white) {
        precondition(width > 0 && height > 0, "a canvas needs a positive size, not \(width)x\(height)")
        self.width = width
        self.height = height
        var samples = [UInt8](repeating: 0, count: width * height * 3)
        for i in stride(from: 0, to: samples.count, by: 3) {
            samples[i] = background.r; samples[i + 1] = background.g; samples[i + 2] = background.b
        }
        self.samples = samples
    }

    /// A canvas holding an 8-bit image's pixels (gray is repeated in R, G and B; alpha dropped),
    /// to draw on top of it.
    /// - Precondition: both sizes are positive.
    public init(image: Image<UInt8>) {
        precondition(image.width > 0 && image.height > 0, "a canvas needs a positive size, not \(image.width)x\(image.height)")
        width = image.width
        height = image.height
        let n = image.channels, gray = n < 3
        var samples = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            for c in 0..<3 { samples[3 * i + c] = image.samples[i * n + (gray ? 0 : c)] }
        }
        self.samples = samples
    }

    /// The canvas as an 8-bit `.rgb` image (for ``ImageEncoder``'s PNG writer in CVSegIO).
    public var image: Image<UInt8> {
        Image(width: width, height: height, layout: .rgb, samples: samples)
    }

    /// The rectangle covering the whole canvas.
    public var bounds: PixelRect { PixelRect(x: 0, y: 0, width: width, height: height) }

    /// The colour at `(x, y)`, or nil outside the canvas.
    public func color(x: Int, y: Int) -> PlotColor? {
        guard x >= 0, x < width, y >= 0, y < height else { return nil }
        let i = (y * width + x) * 3
        return PlotColor(samples[i], samples[i + 1], samples[i + 2])
    }

    /// Sets one pixel; does nothing outside the canvas or ``clip``.
    @inline(__always)
    public mutating func setPixel(x: Int, y: Int, color: PlotColor) {
        guard x >= 0, x < width, y >= 0, y < height else { return }
        if let clip, !clip.contains(x: x, y: y) { return }
        let i = (y * width + x) * 3
        samples[i] = color.r; samples[i + 1] = color.g; samples[i + 2] = color.b
    }

    /// Fills every pixel of `rect` (clipped to the canvas and ``clip``).
    public mutating func fillRect(_ rect: PixelRect, color: PlotColor) {
        var r = rect.intersection(bounds)
        if let clip { r = r.intersection(clip) }
        guard !r.isEmpty else { return }
        for y in r.y ..< r.maxY {
            var i = (y * width + r.x) * 3
            for _ in 0 ..< r.width {
                samples[i] = color.r; samples[i + 1] = color.g; samples[i + 2] = color.b
                i += 3
            }
        }
    }

    /// Draws the outline of `rect` inside its bounds: the outer `thickness` rows and columns.
    public mutating func strokeRect(_ rect: PixelRect, color: PlotColor, thickness: Int = 1) {
        precondition(thickness >= 1, "line thickness must be at least 1")
        guard !rect.isEmpty else { return }
        let t = min(thickness, rect.width, rect.height)
        fillRect(PixelRect(x: rect.x, y: rect.y, width: rect.width, height: t), color: color)
        fillRect(PixelRect(x: rect.x, y: rect.maxY - t, width: rect.width, height: t), color: color)
        fillRect(PixelRect(x: rect.x, y: rect.y, width: t, height: rect.height), color: color)
        fillRect(PixelRect(x: rect.maxX - t, y: rect.y, width: t, height: rect.height), color: color)
    }

    /// Draws a straight line from `start` to `end`, both end pixels included.
    ///
    /// The 1-pixel line has one pixel per step along its longer axis (Bresenham's set: the pixel
    /// nearest the ideal line, ties rounded towards larger coordinates). A thicker line stamps a
    /// round brush `thickness` pixels across on each of those pixels. Only the part of the line
    /// that can reach the canvas is walked, so lines running far off the canvas stay cheap.
    /// - Precondition: `thickness >= 1`; coordinates within ±``coordinateLimit``.
    public mutating func drawLine(from start: PixelPoint, to end: PixelPoint, color: PlotColor, thickness: Int = 1) {
        precondition(thickness >= 1, "line thickness must be at least 1")
        for p in [start, end] {
            precondition(abs(p.x) <= Canvas.coordinateLimit && abs(p.y) <= Canvas.coordinateLimit,
                         "line end \(p) is beyond ±\(Canvas.coordinateLimit)")
        }
        let brush = Canvas.brush(thickness)
        let reach = thickness  // a brush never extends further than this from its centre
        let dx = end.x - start.x, dy = end.y - start.y
        let xMajor = abs(dx) >= abs(dy)
        // Walk the major axis from the smaller end; `minor(t)` rounds the exact line position.
        let (a, b) = xMajor ? (dx >= 0 ? (start, end) : (end, start)) : (dy >= 0 ? (start, end) : (end, start))
        let (a0, a1, m0) = xMajor ? (a.x, b.x, a.y) : (a.y, b.y, a.x)
        let dMajor = xMajor ? b.x - a.x : b.y - a.y
        let dMinor = xMajor ? b.y - a.y : b.x - a.x
        let limit = xMajor ? width : height
        let lo = max(a0, -reach), hi = min(a1, limit - 1 + reach)
        guard lo <= hi else { return }
        for t in lo ... hi {
            var minor = m0
            if dMajor != 0 {
                // round(m0 + (t - a0) * dMinor / dMajor), halves upward: floor((2 n + d) / 2 d)
                let num = 2 * (t - a0) * dMinor + dMajor
                minor = m0 + Canvas.floorDiv(num, 2 * dMajor)
            }
            let (x, y) = xMajor ? (t, minor) : (minor, t)
            if brush.isEmpty {
                setPixel(x: x, y: y, color: color)
            } else {
                for o in brush { setPixel(x: x + o.x, y: y + o.y, color: color) }
            }
        }
    }

    /// Draws lines through `points` in order (nothing for fewer than two points).
    public mutating func drawPolyline(_ points: [PixelPoint], color: PlotColor, thickness: Int = 1) {
        guard points.count >= 2 else { return }
        for i in 1 ..< points.count {
            drawLine(from: points[i - 1], to: points[i], color: color, thickness: thickness)
        }
    }

    /// Offsets of the round brush for `thickness` (empty for 1: a single pixel). The brush
    /// covers `thickness` columns and rows, `-(t-1)/2 ... t/2`, minus the corners outside the
    /// disc of diameter `thickness` around the brush centre.
    static func brush(_ thickness: Int) -> [PixelPoint] {
        guard thickness > 1 else { return [] }
        let lo = -(thickness - 1) / 2, hi = thickness / 2
        // Work in doubled coordinates so the centre (lo + hi) / 2 stays an integer.
        let c = lo + hi
        var offsets: [PixelPoint] = []
        for dy in lo ... hi {
            for dx in lo ... hi {
                let ex = 2 * dx - c, ey = 2 * dy - c
                if ex * ex + ey * ey <= thickness * thickness + 1 { offsets.append(PixelPoint(x: dx, y: dy)) }
            }
        }
        return offsets
    }

    /// Integer division rounding towards negative infinity (`d > 0`).
    static func floorDiv(_ n: Int, _ d: Int) -> Int {
        let q = n / d
        return (n % d != 0 && (n < 0) != (d < 0)) ? q - 1 : q
    }
}
