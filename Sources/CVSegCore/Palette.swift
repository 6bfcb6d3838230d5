/// Colour maps for writing label maps as palette PNGs.
public enum ColorMap {
    /// The PASCAL VOC colour map: 256 entries, label `i` gets the colour whose bits interleave
    /// the bits of `i` (entry 0 black, 1 = (128, 0, 0), 2 = (0, 128, 0), …; 255 = (224, 224, 192),
    /// VOC's ignore/boundary colour). Same as the devkit's `labelcolormap` / `VOClabelcolormap`.
    public static let pascalVOC: [RGBA] = (0..<256).map { label in
        var r = 0, g = 0, b = 0
        var c = label
        for shift in stride(from: 7, through: 0, by: -1) {
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        }
        return RGBA(UInt8(r), UInt8(g), UInt8(b))
    }
}
