#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An image of `Double` samples, channels interleaved; what colour-space conversions return.
public struct FloatImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    /// Row-major samples, `channels` per pixel.
    public var values: [Double]

    public init(width: Int, height: Int, channels: Int, values: [Double]) {
        precondition(width >= 0 && height >= 0 && channels > 0 && values.count == width * height * channels,
                     "FloatImage: \(values.count) values for \(width)×\(height)×\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.values = values
    }

    public var pixelCount: Int { width * height }

    /// Channel `c` as a one-channel image.
    public func channel(_ c: Int) -> FloatImage {
        precondition((0..<channels).contains(c), "channel \(c) of \(channels)")
        var out = [Double](repeating: 0, count: pixelCount)
        for i in 0..<pixelCount { out[i] = values[i * channels + c] }
        return FloatImage(width: width, height: height, channels: 1, values: out)
    }
}

/// Colour-space conversions with scikit-image's definitions (float) and OpenCV's 8-bit encodings.
///
/// Input samples are scaled to [0, 1] by the type's maximum (255 or 65535), as scikit-image's
/// `img_as_float`. Gray images are treated as R = G = B; alpha is ignored.
public enum ColorSpaces {
    /// sRGB D65 → XYZ matrix (scikit-image's `xyz_from_rgb`).
    @usableFromInline static let xyzFromRGB: [Double] = [0.412453, 0.357580, 0.180423,
                                       0.212671, 0.715160, 0.072169,
                                       0.019334, 0.119193, 0.950227]
    /// D65 white, 2° observer (scikit-image's `xyz_tristimulus_values("D65", "2")`).
    @usableFromInline static let whiteD65: (Double, Double, Double) = (0.95047, 1.0, 1.08883)

    /// HSV of one colour with components in [0, 1], exactly as scikit-image's `rgb2hsv`: hue in
    /// [0, 1) (turns, not degrees), 0 for grays; saturation (max − min) / max, 0 for grays;
    /// value = max. Where two channels tie for the maximum, blue wins over green over red, as
    /// scikit-image's successive masked assignments do.
    @inlinable
    public static func hsv(r: Double, g: Double, b: Double) -> (h: Double, s: Double, v: Double) {
        let v = max(r, max(g, b))
        let delta = v - min(r, min(g, b))
        guard delta != 0 else { return (0, 0, v) }
        var h: Double
        if b == v {
            h = 4.0 + (r - g) / delta
        } else if g == v {
            h = 2.0 + (b - r) / delta
        } else {
            h = (g - b) / delta
        }
        h = pythonMod(h / 6.0, 1.0)
        return (h, delta / v, v)
    }

    /// Python's float `%` (result has the divisor's sign), which `rgb2hsv` uses to wrap hue.
    @inlinable
    static func pythonMod(_ a: Double, _ m: Double) -> Double {
        var r = a.truncatingRemainder(dividingBy: m)
        if r != 0 && (r < 0) != (m < 0) { r += m }
        return r
    }

    /// CIE L*a*b* (D65, 2°) of one sRGB colour with components in [0, 1], as scikit-image's
    /// `rgb2lab`: sRGB companding (threshold 0.04045), its XYZ matrix, the 0.008856 / 7.787
    /// linear segment. L in [0, 100].
    @inlinable
    public static func lab(r: Double, g: Double, b: Double) -> (l: Double, a: Double, b: Double) {
        @inline(__always) func linear(_ c: Double) -> Double {
            c > 0.04045 ? pow((c + 0.055) / 1.055, 2.4) : c / 12.92
        }
        let (lr, lg, lb) = (linear(r), linear(g), linear(b))
        let m = xyzFromRGB
        let x = (lr * m[0] + lg * m[1] + lb * m[2]) / whiteD65.0
        let y = (lr * m[3] + lg * m[4] + lb * m[5]) / whiteD65.1
        let z = (lr * m[6] + lg * m[7] + lb * m[8]) / whiteD65.2
        @inline(__always) func f(_ t: Double) -> Double {
            t > 0.008856 ? cbrt(t) : 7.787 * t + 16.0 / 116.0
        }
        let (fx, fy, fz) = (f(x), f(y), f(z))
        return (116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz))
    }

    /// OpenCV's 8-bit `COLOR_RGB2HSV`, bit for bit: H in 0…179 (degrees / 2), S and V in 0…255,
    /// computed with OpenCV's 12-bit fixed-point division tables.
    @inlinable
    public static func hsv8(r: UInt8, g: UInt8, b: UInt8) -> (h: UInt8, s: UInt8, v: UInt8) {
        let (r, g, b) = (Int(r), Int(g), Int(b))
        let v = max(r, max(g, b))
        let diff = v - min(r, min(g, b))
        let s = (diff * sDivTable[v] + (1 << 11)) >> 12
        var h: Int
        if v == r {
            h = g - b
        } else if v == g {
            h = b - r + 2 * diff
        } else {
            h = r - g + 4 * diff
        }
        h = (h * hDivTable[diff] + (1 << 11)) >> 12
        if h < 0 { h += 180 }
        return (UInt8(h), UInt8(s), UInt8(v))
    }

    /// `saturate_cast<int>((255 << 12) / i)` (0 for i = 0), OpenCV's saturation divisor table.
    @usableFromInline
    static let sDivTable: [Int] = (0..<256).map { $0 == 0 ? 0 : Int((Double(255 << 12) / Double($0)).rounded(.toNearestOrEven)) }
    /// `saturate_cast<int>((180 << 12) / (6 i))` (0 for i = 0), OpenCV's hue divisor table.
    @usableFromInline
    static let hDivTable: [Int] = (0..<256).map { $0 == 0 ? 0 : Int((Double(180 << 12) / (6.0 * Double($0))).rounded(.toNearestOrEven)) }
}

extension Image {
    /// Calls `body(r, g, b)` with each pixel's colour scaled to [0, 1] (gray repeated).
    @inlinable
    func forEachUnitRGB(_ body: (Int, Double, Double, Double) -> Void) {
        let n = channels
        let scale = 1.0 / Double(Sample.max)
        samples.withUnsafeBufferPointer { src in
            for i in 0..<pixelCount {
                if layout.isGray {
                    let v = Double(src[i * n]) * scale
                    body(i, v, v, v)
                } else {
                    body(i, Double(src[i * n]) * scale, Double(src[i * n + 1]) * scale, Double(src[i * n + 2]) * scale)
                }
            }
        }
    }

    /// HSV as scikit-image's `rgb2hsv` (all three channels in [0, 1]). See ``ColorSpaces/hsv(r:g:b:)``.
    /// - Complexity: O(pixels).
    public func hsv() -> FloatImage {
        var out = [Double](repeating: 0, count: pixelCount * 3)
        forEachUnitRGB { i, r, g, b in
            let (h, s, v) = ColorSpaces.hsv(r: r, g: g, b: b)
            out[3 * i] = h; out[3 * i + 1] = s; out[3 * i + 2] = v
        }
        return FloatImage(width: width, height: height, channels: 3, values: out)
    }

    /// CIE L*a*b* (D65, 2°) as scikit-image's `rgb2lab`. See ``ColorSpaces/lab(r:g:b:)``.
    /// - Complexity: O(pixels).
    public func lab() -> FloatImage {
        var out = [Double](repeating: 0, count: pixelCount * 3)
        forEachUnitRGB { i, r, g, b in
            let (l, a, bb) = ColorSpaces.lab(r: r, g: g, b: b)
            out[3 * i] = l; out[3 * i + 1] = a; out[3 * i + 2] = bb
        }
        return FloatImage(width: width, height: height, channels: 3, values: out)
    }
}

extension Image where Sample == UInt8 {
    /// OpenCV's 8-bit `cvtColor(…, COLOR_RGB2HSV)`: H 0…179, S and V 0…255, bit for bit.
    /// - Complexity: O(pixels).
    public func hsv8() -> Image<UInt8> {
        let n = channels
        var out = [UInt8](repeating: 0, count: pixelCount * 3)
        for i in 0..<pixelCount {
            let r = samples[i * n]
            let (g, b) = layout.isGray ? (r, r) : (samples[i * n + 1], samples[i * n + 2])
            let (h, s, v) = ColorSpaces.hsv8(r: r, g: g, b: b)
            out[3 * i] = h; out[3 * i + 1] = s; out[3 * i + 2] = v
        }
        return Image<UInt8>(width: width, height: height, layout: .rgb, samples: out)
    }

    /// L*a*b* in OpenCV's 8-bit encoding (L·255/100, a + 128, b + 128, rounded half to even and
    /// clamped) computed from ``lab()``. OpenCV's own 8-bit path uses interpolated lookup tables
    /// and differs from this exact value by at most 1 on most colours (measured in
    /// `scripts/reference/color_reference.py`; see Docs/Classical.md).
    /// - Complexity: O(pixels).
    public func lab8() -> Image<UInt8> {
        var out = [UInt8](repeating: 0, count: pixelCount * 3)
        @inline(__always) func byte(_ v: Double) -> UInt8 { UInt8(min(max(v.rounded(.toNearestOrEven), 0), 255)) }
        forEachUnitRGB { i, r, g, b in
            let (l, a, bb) = ColorSpaces.lab(r: r, g: g, b: b)
            out[3 * i] = byte(l * 255.0 / 100.0); out[3 * i + 1] = byte(a + 128); out[3 * i + 2] = byte(bb + 128)
        }
        return Image<UInt8>(width: width, height: height, layout: .rgb, samples: out)
    }
}
