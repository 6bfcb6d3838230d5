/// The direction text runs in.
public enum TextDirection: Sendable, Equatable {
    /// Left to right, glyphs upright.
    case horizontal
    /// Bottom to top: horizontal text turned 90° counter-clockwise, as y-axis labels are.
    case upward
}

/// Where a text's anchor point lies on its box, horizontally.
public enum HorizontalAlignment: Sendable, Equatable {
    case left, center, right
}

extension Canvas {
    /// Draws `text` with the built-in ``BitmapFont``.
    ///
    /// - Parameters:
    ///   - origin: the top-left corner of the text's box. A horizontal box is
    ///     ``BitmapFont/textWidth(_:scale:)`` wide and `lineHeight × scale` tall; an upward box
    ///     is the same box turned, `lineHeight × scale` wide and the text's width tall, with the
    ///     first character at the bottom and the tops of the glyphs facing left.
    ///   - scale: integer magnification; each font pixel becomes a `scale` × `scale` square.
    /// Characters outside printable ASCII are drawn as `?`.
    public mutating func drawText(_ text: String, at origin: PixelPoint, color: PlotColor,
                                  scale: Int = 1, direction: TextDirection = .horizontal) {
        precondition(scale >= 1, "text scale must be at least 1")
        let fallback = BitmapFont.glyphIndex("?")!
        let textWidth = BitmapFont.textWidth(text, scale: scale)
        for (n, character) in text.enumerated() {
            let glyph = BitmapFont.glyphIndex(character) ?? fallback
            for row in 0 ..< BitmapFont.glyphHeight {
                let bits = BitmapFont._glyphBits[glyph * BitmapFont.glyphHeight + row]
                guard bits != 0 else { continue }
                for column in 0 ..< BitmapFont.glyphWidth where bits & (0x10 >> column) != 0 {
                    // (u, v): position in the unturned text box, u along the text, v down.
                    let u = (n * BitmapFont.advance + column) * scale, v = row * scale
                    let cell: PixelRect
                    switch direction {
                    case .horizontal:
                        cell = PixelRect(x: origin.x + u, y: origin.y + v, width: scale, height: scale)
                    case .upward:
                        cell = PixelRect(x: origin.x + v, y: origin.y + textWidth - u - scale,
                                         width: scale, height: scale)
                    }
                    fillRect(cell, color: color)
                }
            }
        }
    }

    /// Draws one line of horizontal text aligned on `anchor`: `anchor.x` is the text's left edge,
    /// centre or right edge (`alignment`), and `anchor.y` is the middle of the capital letters.
    public mutating func drawText(_ text: String, anchor: PixelPoint, alignment: HorizontalAlignment,
                                  color: PlotColor, scale: Int = 1) {
        let width = BitmapFont.textWidth(text, scale: scale) - scale  // no trailing blank column
        let x: Int
        switch alignment {
        case .left: x = anchor.x
        case .center: x = anchor.x - (width - 1) / 2
        case .right: x = anchor.x - width + 1
        }
        drawText(text, at: PixelPoint(x: x, y: anchor.y - (BitmapFont.capHeight * scale - 1) / 2),
                 color: color, scale: scale)
    }

    /// Draws upward text centred on `center`: the middle of the text's length and of its capitals.
    public mutating func drawUpwardText(_ text: String, center: PixelPoint, color: PlotColor, scale: Int = 1) {
        let length = BitmapFont.textWidth(text, scale: scale) - scale
        // The box's top `scale` rows are the blank column after the last glyph.
        drawText(text, at: PixelPoint(x: center.x - (BitmapFont.capHeight * scale - 1) / 2,
                                      y: center.y - scale - (length - 1) / 2),
                 color: color, scale: scale, direction: .upward)
    }
}
