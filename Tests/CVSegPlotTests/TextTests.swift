import Testing
@testable import CVSegPlot

@Suite struct TextTests {
    @Test func everyPrintableGlyphIsDefinedAndInked() {
        for code in UInt8(32) ... 126 {
            let character = Character(Unicode.Scalar(code))
            let rows = BitmapFont.glyphRows(for: character)
            #expect(rows?.count == BitmapFont.glyphHeight, "glyph \(code)")
            let ink = rows?.reduce(0) { $0 + $1.nonzeroBitCount } ?? 0
            if code == 32 { #expect(ink == 0) } else { #expect(ink > 0, "glyph '\(character)' is empty") }
            // Only the 5 glyph columns are used.
            #expect(rows?.allSatisfy { $0 < 32 } == true)
        }
        #expect(BitmapFont.glyphRows(for: "é") == nil && BitmapFont.glyphRows(for: "\t") == nil)
    }

    @Test func glyphsAreDistinct() {
        let all = (UInt8(33) ... 126).compactMap { BitmapFont.glyphRows(for: Character(Unicode.Scalar($0))) }
        #expect(Set(all).count == all.count)
    }

    @Test func descendersOnlyBelowTheBaseline() {
        for code in UInt8(32) ... 126 {
            let c = Character(Unicode.Scalar(code))
            let below = BitmapFont.glyphRows(for: c)![BitmapFont.capHeight...].contains { $0 != 0 }
            #expect(below == "gjpqy,;_".contains(c), "glyph '\(c)'")
        }
    }

    @Test(arguments: [1, 2, 3])
    func measuredWidthIsCharactersTimesAdvanceTimesScale(scale: Int) {
        for text in ["", "a", "Recall", "0.25 | x_y"] {
            #expect(BitmapFont.textWidth(text, scale: scale) == text.count * BitmapFont.advance * scale)
        }
        #expect(BitmapFont.textSize("ab", scale: scale) == (2 * 6 * scale, 10 * scale))
    }

    @Test func textInkStaysInsideItsMeasuredBox() {
        let text = "Ag|_y"
        for scale in [1, 2] {
            var canvas = Canvas(width: 100, height: 40)
            canvas.drawText(text, at: PixelPoint(x: 7, y: 5), color: .black, scale: scale)
            let (w, h) = BitmapFont.textSize(text, scale: scale)
            var ink = 0
            for y in 0 ..< 40 {
                for x in 0 ..< 100 where canvas.color(x: x, y: y) == .black {
                    ink += 1
                    #expect(x >= 7 && x < 7 + w && y >= 5 && y < 5 + h)
                }
            }
            let fontPixels = text.reduce(0) { n, c in n + BitmapFont.glyphRows(for: c)!.reduce(0) { $0 + $1.nonzeroBitCount } }
            #expect(ink == fontPixels * scale * scale)
        }
    }

    @Test func upwardTextIsHorizontalTextTurnedCounterClockwise() {
        let text = "Lp1"
        var flat = Canvas(width: 40, height: 40), turned = Canvas(width: 40, height: 40)
        flat.drawText(text, at: PixelPoint(x: 0, y: 0), color: .black, scale: 2)
        turned.drawText(text, at: PixelPoint(x: 0, y: 0), color: .black, scale: 2, direction: .upward)
        let w = BitmapFont.textWidth(text, scale: 2)
        // (u, v) in the flat box goes to (v, w - 1 - u): first letter at the bottom, tops left.
        for v in 0 ..< 20 {
            for u in 0 ..< w {
                #expect(flat.color(x: u, y: v) == turned.color(x: v, y: w - 1 - u))
            }
        }
    }

    @Test func unknownCharactersDrawAsQuestionMarks() {
        var a = Canvas(width: 20, height: 12), b = Canvas(width: 20, height: 12)
        a.drawText("é", at: PixelPoint(x: 1, y: 1), color: .black)
        b.drawText("?", at: PixelPoint(x: 1, y: 1), color: .black)
        #expect(a == b)
    }

    @Test func truncationKeepsTheLimit() {
        #expect(BitmapFont.truncate("refrigerator", toCharacters: 8) == "refrig..")
        #expect(BitmapFont.truncate("car", toCharacters: 8) == "car")
    }
}
