import CVSegCore
import Glibc
import Synchronization

extension SelectiveSearch {
    /// An image in one colour space, 8 bits per channel, with its texture responses.
    struct SpaceImage: Sendable {
        /// Gray layout for one-channel spaces, RGB layout (holding the space's channels) otherwise.
        let image: Image<UInt8>
        var channels: Int { image.channels }
        /// Per pixel, per channel, per base orientation (0°, 45°, 90°, 135°): the texture bin of the
        /// rectified Gaussian derivative, signed: `v >= 0` puts bin `v` in the orientation and bin 0
        /// in its opposite (θ + 180°); `v < 0` puts bin 0 in the orientation and bin `−v` in the
        /// opposite.
        let texture: [Int8]
    }

    /// Colour-space images and texture responses of one image, computed once and shared by the
    /// strategies that need them.
    final class FeatureCache: Sendable {
        let rgb: Image<UInt8>
        private let spaces = Mutex<[ColorSpace: SpaceImage]>([:])

        init(_ rgb: Image<UInt8>) { self.rgb = rgb }

        func space(_ space: ColorSpace) throws -> SpaceImage {
            if let done = spaces.withLock({ $0[space] }) { return done }
            let image = convert(rgb, to: space)
            let made = SpaceImage(image: image, texture: textureBins(image))
            return spaces.withLock { cache in
                if let other = cache[space] { return other }
                cache[space] = made
                return made
            }
        }
    }

    /// `rgb` (gray or colour, alpha ignored) in `space`, each channel quantised to 0…255.
    static func convert(_ rgb: Image<UInt8>, to space: ColorSpace) -> Image<UInt8> {
        let n = rgb.pixelCount, stride = rgb.channels, gray = rgb.layout.isGray
        @inline(__always) func pixel(_ i: Int) -> (UInt8, UInt8, UInt8) {
            gray ? (rgb.samples[i * stride], rgb.samples[i * stride], rgb.samples[i * stride])
                 : (rgb.samples[i * stride], rgb.samples[i * stride + 1], rgb.samples[i * stride + 2])
        }
        @inline(__always) func byte(_ v: Double) -> UInt8 { UInt8(min(max(v.rounded(.toNearestOrEven), 0), 255)) }
        let oneChannel = space == .intensity || space == .hue
        var out = [UInt8](repeating: 0, count: n * (oneChannel ? 1 : 3))
        switch space {
        case .rgb:
            for i in 0..<n { let (r, g, b) = pixel(i); out[3 * i] = r; out[3 * i + 1] = g; out[3 * i + 2] = b }
        case .hsv, .hue:
            for i in 0..<n {
                let (r, g, b) = pixel(i)
                let (h, s, v) = ColorSpaces.hsv(r: Double(r) / 255, g: Double(g) / 255, b: Double(b) / 255)
                if space == .hue {
                    out[i] = byte(h * 255)
                } else {
                    out[3 * i] = byte(h * 255); out[3 * i + 1] = byte(s * 255); out[3 * i + 2] = byte(v * 255)
                }
            }
        case .lab:
            for i in 0..<n {
                let (r, g, b) = pixel(i)
                let (l, a, bb) = ColorSpaces.lab(r: Double(r) / 255, g: Double(g) / 255, b: Double(b) / 255)
                out[3 * i] = byte(l * 255 / 100); out[3 * i + 1] = byte(a + 128); out[3 * i + 2] = byte(bb + 128)
            }
        case .rgI, .intensity:
            for i in 0..<n {
                let (r, g, b) = pixel(i)
                let sum = Int(r) + Int(g) + Int(b)
                let intensity = byte(Double(sum) / 3)
                if space == .intensity { out[i] = intensity; continue }
                // Black has no chromaticity; it gets the grays' (1/3, 1/3).
                out[3 * i] = sum == 0 ? 85 : byte(Double(r) * 255 / Double(sum))
                out[3 * i + 1] = sum == 0 ? 85 : byte(Double(g) * 255 / Double(sum))
                out[3 * i + 2] = intensity
            }
        }
        return Image(width: rgb.width, height: rgb.height, layout: oneChannel ? .gray : .rgb, samples: out)
    }

    /// Texture bins: for each channel, first derivatives of a Gaussian (σ = 1, radius 4,
    /// half-sample reflection at the border) along x and y, steered to 0°, 45°, 90° and 135°;
    /// the positive part of each is the response in that orientation, the negative part the
    /// response in the opposite one (8 orientations). Each of the 8 responses is divided by its
    /// maximum over the image and cut into 10 equal bins (see ``SpaceImage/texture``).
    static func textureBins(_ image: Image<UInt8>) -> [Int8] {
        let (w, h, c) = (image.width, image.height, image.channels)
        let n = w * h
        var out = [Int8](repeating: 0, count: n * c * 4)
        let radius = 4
        let g = (-radius...radius).map { exp(-0.5 * Double($0 * $0)) }
        let gSum = g.reduce(0, +)
        let smooth = g.map { Float($0 / gSum) }
        let derivative = (-radius...radius).map { Float(-Double($0) * g[$0 + radius] / gSum) }
        let cosines: [Float] = [1, Float(0.5.squareRoot()), 0, -Float(0.5.squareRoot())]
        let sines: [Float] = [0, Float(0.5.squareRoot()), 1, Float(0.5.squareRoot())]
        var plane = [Float](repeating: 0, count: n)
        var gx = [Float](repeating: 0, count: n), gy = [Float](repeating: 0, count: n)
        var tmp = [Float](repeating: 0, count: n)
        for ch in 0..<c {
            for i in 0..<n { plane[i] = Float(image.samples[i * c + ch]) }
            // gx: smooth along y, differentiate along x; gy: the other way round.
            correlate(plane, into: &tmp, width: w, height: h, kernel: smooth, alongX: false)
            correlate(tmp, into: &gx, width: w, height: h, kernel: derivative, alongX: true)
            correlate(plane, into: &tmp, width: w, height: h, kernel: smooth, alongX: true)
            correlate(tmp, into: &gy, width: w, height: h, kernel: derivative, alongX: false)
            for o in 0..<4 {
                let (co, si) = (cosines[o], sines[o])
                var maxPos: Float = 0, maxNeg: Float = 0
                for i in 0..<n {
                    let d = co * gx[i] + si * gy[i]
                    if d > maxPos { maxPos = d } else if -d > maxNeg { maxNeg = -d }
                }
                let (sp, sn) = (maxPos > 0 ? 10 / maxPos : 0, maxNeg > 0 ? 10 / maxNeg : 0)
                for i in 0..<n {
                    let d = co * gx[i] + si * gy[i]
                    let v: Int8 = d > 0 ? Int8(min(9, Int(d * sp))) : d < 0 ? -Int8(min(9, Int(-d * sn))) : 0
                    out[(i * c + ch) * 4 + o] = v
                }
            }
        }
        return out
    }

    /// 1-D correlation along x or y with half-sample symmetric reflection (`c b a | a b c`).
    static func correlate(_ input: [Float], into output: inout [Float], width: Int, height: Int,
                          kernel: [Float], alongX: Bool) {
        let r = kernel.count / 2
        let length = alongX ? width : height
        @inline(__always) func reflect(_ i: Int) -> Int {
            var i = i
            let period = 2 * length
            i %= period
            if i < 0 { i += period }
            return i < length ? i : period - 1 - i
        }
        input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                kernel.withUnsafeBufferPointer { k in
                    if alongX {
                        for y in 0..<height {
                            let row = y * width
                            for x in 0..<width {
                                var acc: Float = 0
                                if x >= r && x + r < width {
                                    for j in 0..<k.count { acc += k[j] * src[row + x - r + j] }
                                } else {
                                    for j in 0..<k.count { acc += k[j] * src[row + reflect(x - r + j)] }
                                }
                                dst[row + x] = acc
                            }
                        }
                    } else {
                        for y in 0..<height {
                            let row = y * width
                            for x in 0..<width { dst[row + x] = 0 }
                            for j in 0..<k.count {
                                let yy = reflect(y - r + j) * width, kj = k[j]
                                for x in 0..<width { dst[row + x] += kj * src[yy + x] }
                            }
                        }
                    }
                }
            }
        }
    }
}
