/// The built-in bitmap font: printable ASCII (32–126), drawn for cvseg.
///
/// Each glyph is 5 pixels wide and 9 rows tall: rows 0–6 sit on the baseline (capitals and
/// digits are 7 rows), rows 7–8 hold descenders (`g j p q y , ;` and `_`). Text advances
/// ``advance`` pixels per character (one blank column between glyphs) and a line is
/// ``lineHeight`` rows. All metrics are multiplied by the integer `scale` used to draw.
/// Characters outside 32–126 are drawn as `?`.
public enum BitmapFont {
    /// Glyph width in pixels at scale 1.
    public static let glyphWidth = 5
    /// Glyph height in rows at scale 1, descender rows included.
    public static let glyphHeight = 9
    /// Height of capitals and digits at scale 1 (rows above the baseline).
    public static let capHeight = 7
    /// Horizontal distance from one character to the next at scale 1.
    public static let advance = 6
    /// Height of a line of text at scale 1 (glyph height plus one blank row).
    public static let lineHeight = 10

    /// The rows of the glyph for `character`, top row first, one `UInt8` per row whose bit 4 is
    /// the leftmost column; nil for characters outside printable ASCII 32–126.
    public static func glyphRows(for character: Character) -> [UInt8]? {
        guard let index = glyphIndex(character) else { return nil }
        return Array(_glyphBits[index * glyphHeight ..< (index + 1) * glyphHeight])
    }

    /// Width in pixels of `text` drawn at `scale`: characters × ``advance`` × `scale`
    /// (the blank column after the last glyph included).
    public static func textWidth(_ text: String, scale: Int = 1) -> Int {
        text.count * advance * scale
    }

    /// Width and height in pixels of the box `text` occupies when drawn horizontally at `scale`.
    public static func textSize(_ text: String, scale: Int = 1) -> (width: Int, height: Int) {
        (textWidth(text, scale: scale), lineHeight * scale)
    }

    /// `text` shortened to at most `maxCharacters` characters; a shortened text ends in `..`.
    public static func truncate(_ text: String, toCharacters maxCharacters: Int) -> String {
        precondition(maxCharacters >= 3, "a truncated text keeps at least one character and `..`")
        guard text.count > maxCharacters else { return text }
        return String(text.prefix(maxCharacters - 2)) + ".."
    }

    /// Index into the glyph table; nil outside printable ASCII.
    static func glyphIndex(_ character: Character) -> Int? {
        guard let ascii = character.asciiValue, (32...126).contains(ascii) else { return nil }
        return Int(ascii) - 32
    }

    /// Bit rows of every glyph, `glyphHeight` rows per glyph, parsed once from ``_glyphArt``.
    static let _glyphBits: [UInt8] = _glyphArt.flatMap { art -> [UInt8] in
        let rows = art.split(separator: " ")
        precondition(rows.count == 7 || rows.count == glyphHeight, "glyph art needs 7 or 9 rows: \(art)")
        var bits = rows.map { row -> UInt8 in
            precondition(row.count == glyphWidth, "glyph row must be 5 wide: \(art)")
            return row.reduce(0) { ($0 << 1) | ($1 == "#" ? 1 : 0) }
        }
        bits += [UInt8](repeating: 0, count: glyphHeight - bits.count)
        return bits
    }
}

/// The glyphs for ASCII 32...126 in order, one per line: rows separated by spaces, `#` = ink.
/// Seven rows reach the baseline; glyphs with descenders give nine.
private let _glyphArt: [String] = [
    "..... ..... ..... ..... ..... ..... .....",  // space
    "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..",  // !
    ".#.#. .#.#. .#.#. ..... ..... ..... .....",  // "
    ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.",  // #
    "..#.. .#### #.#.. .###. ..#.# ####. ..#..",  // $
    "##... ##..# ...#. ..#.. .#... #..## ...##",  // %
    ".##.. #..#. #.#.. .#... #.#.# #..#. .##.#",  // &
    "..#.. ..#.. .#... ..... ..... ..... .....",  // '
    "...#. ..#.. .#... .#... .#... ..#.. ...#.",  // (
    ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",  // )
    "..... ..#.. #.#.# .###. #.#.# ..#.. .....",  // *
    "..... ..#.. ..#.. ##### ..#.. ..#.. .....",  // +
    "..... ..... ..... ..... ..... .##.. ..#.. .#... .....",  // ,
    "..... ..... ..... .###. ..... ..... .....",  // -
    "..... ..... ..... ..... ..... .##.. .##..",  // .
    "..... ....# ...#. ..#.. .#... #.... .....",  // /
    ".###. #...# #..## #.#.# ##..# #...# .###.",  // 0
    "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",  // 1
    ".###. #...# ....# ...#. ..#.. .#... #####",  // 2
    "##### ...#. ..#.. ...#. ....# #...# .###.",  // 3
    "...#. ..##. .#.#. #..#. ##### ...#. ...#.",  // 4
    "##### #.... ####. ....# ....# #...# .###.",  // 5
    "..##. .#... #.... ####. #...# #...# .###.",  // 6
    "##### ....# ...#. ..#.. .#... .#... .#...",  // 7
    ".###. #...# #...# .###. #...# #...# .###.",  // 8
    ".###. #...# #...# .#### ....# ...#. .##..",  // 9
    "..... .##.. .##.. ..... .##.. .##.. .....",  // :
    "..... .##.. .##.. ..... .##.. .##.. ..#.. .#... .....",  // ;
    "...#. ..#.. .#... #.... .#... ..#.. ...#.",  // <
    "..... ..... ##### ..... ##### ..... .....",  // =
    ".#... ..#.. ...#. ....# ...#. ..#.. .#...",  // >
    ".###. #...# ....# ...#. ..#.. ..... ..#..",  // ?
    ".###. #...# ....# .##.# #.#.# #.#.# .###.",  // @
    ".###. #...# #...# ##### #...# #...# #...#",  // A
    "####. #...# #...# ####. #...# #...# ####.",  // B
    ".###. #...# #.... #.... #.... #...# .###.",  // C
    "###.. #..#. #...# #...# #...# #..#. ###..",  // D
    "##### #.... #.... ####. #.... #.... #####",  // E
    "##### #.... #.... ####. #.... #.... #....",  // F
    ".###. #...# #.... #.### #...# #...# .####",  // G
    "#...# #...# #...# ##### #...# #...# #...#",  // H
    ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",  // I
    "..### ...#. ...#. ...#. ...#. #..#. .##..",  // J
    "#...# #..#. #.#.. ##... #.#.. #..#. #...#",  // K
    "#.... #.... #.... #.... #.... #.... #####",  // L
    "#...# ##.## #.#.# #.#.# #...# #...# #...#",  // M
    "#...# #...# ##..# #.#.# #..## #...# #...#",  // N
    ".###. #...# #...# #...# #...# #...# .###.",  // O
    "####. #...# #...# ####. #.... #.... #....",  // P
    ".###. #...# #...# #...# #.#.# #..#. .##.#",  // Q
    "####. #...# #...# ####. #.#.. #..#. #...#",  // R
    ".#### #.... #.... .###. ....# ....# ####.",  // S
    "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",  // T
    "#...# #...# #...# #...# #...# #...# .###.",  // U
    "#...# #...# #...# #...# #...# .#.#. ..#..",  // V
    "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",  // W
    "#...# #...# .#.#. ..#.. .#.#. #...# #...#",  // X
    "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",  // Y
    "##### ....# ...#. ..#.. .#... #.... #####",  // Z
    ".###. .#... .#... .#... .#... .#... .###.",  // [
    "..... #.... .#... ..#.. ...#. ....# .....",  // backslash
    ".###. ...#. ...#. ...#. ...#. ...#. .###.",  // ]
    "..#.. .#.#. #...# ..... ..... ..... .....",  // ^
    "..... ..... ..... ..... ..... ..... ..... ##### .....",  // _
    ".#... ..#.. ...#. ..... ..... ..... .....",  // `
    "..... ..... .###. ....# .#### #...# .####",  // a
    "#.... #.... #.##. ##..# #...# #...# ####.",  // b
    "..... ..... .###. #.... #.... #...# .###.",  // c
    "....# ....# .##.# #..## #...# #...# .####",  // d
    "..... ..... .###. #...# ##### #.... .###.",  // e
    "..##. .#..# .#... ###.. .#... .#... .#...",  // f
    "..... ..... .#### #...# #...# #..## .##.# ....# .###.",  // g
    "#.... #.... #.##. ##..# #...# #...# #...#",  // h
    "..#.. ..... .##.. ..#.. ..#.. ..#.. .###.",  // i
    "...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##..",  // j
    "#.... #.... #..#. #.#.. ##... #.#.. #..#.",  // k
    ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",  // l
    "..... ..... ##.#. #.#.# #.#.# #.#.# #.#.#",  // m
    "..... ..... #.##. ##..# #...# #...# #...#",  // n
    "..... ..... .###. #...# #...# #...# .###.",  // o
    "..... ..... ####. #...# #...# ##..# #.##. #.... #....",  // p
    "..... ..... .#### #...# #...# #..## .##.# ....# ....#",  // q
    "..... ..... #.##. ##..# #.... #.... #....",  // r
    "..... ..... .#### #.... .###. ....# ####.",  // s
    ".#... .#... ###.. .#... .#... .#..# ..##.",  // t
    "..... ..... #...# #...# #...# #..## .##.#",  // u
    "..... ..... #...# #...# #...# .#.#. ..#..",  // v
    "..... ..... #...# #...# #.#.# #.#.# .#.#.",  // w
    "..... ..... #...# .#.#. ..#.. .#.#. #...#",  // x
    "..... ..... #...# #...# #...# #..## .##.# ....# .###.",  // y
    "..... ..... ##### ...#. ..#.. .#... #####",  // z
    "...#. ..#.. ..#.. .#... ..#.. ..#.. ...#.",  // {
    "..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",  // |
    ".#... ..#.. ..#.. ...#. ..#.. ..#.. .#...",  // }
    "..... ..... .#... #.#.# ...#. ..... .....",  // ~
]
