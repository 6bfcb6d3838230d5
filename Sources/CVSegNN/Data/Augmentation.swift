import CVSegCore
import CVSegTensor

/// An RGB image as three Float planes (channel-major: all R, then G, then B; values 0...255),
/// the form in which training images are scaled, flipped, cropped and jittered.
public struct PlanarImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `3 · height · width` values: sample `c` of pixel `(x, y)` is `values[(c · height + y) · width + x]`.
    public var values: [Float]

    public init(width: Int, height: Int, values: [Float]) {
        precondition(width >= 0 && height >= 0 && values.count == 3 * width * height,
                     "\(values.count) values for a \(width)x\(height) RGB image")
        self.width = width
        self.height = height
        self.values = values
    }

    /// An 8-bit image as RGB: gray is repeated into the three channels, alpha is dropped.
    public init(_ image: Image<UInt8>) {
        let (w, h, n) = (image.width, image.height, image.channels)
        let plane = w * h
        var v = [Float](repeating: 0, count: 3 * plane)
        image.samples.withUnsafeBufferPointer { s in
            for i in 0..<plane {
                if image.layout.isGray {
                    let g = Float(s[i * n])
                    v[i] = g; v[plane + i] = g; v[2 * plane + i] = g
                } else {
                    v[i] = Float(s[i * n]); v[plane + i] = Float(s[i * n + 1]); v[2 * plane + i] = Float(s[i * n + 2])
                }
            }
        }
        self.init(width: w, height: h, values: v)
    }

    /// The image as a tensor `[1, 3, H, W]` of the same values.
    public var tensor: Tensor { Tensor(shape: [1, 3, height, width], values: values) }

    /// Bilinear resizing (PyTorch's `interpolate(mode="bilinear", align_corners=False)`, no
    /// antialiasing).
    public func resized(width outW: Int, height outH: Int) -> PlanarImage {
        if outW == width && outH == height { return self }
        // upsampleBilinear only throws for empty sizes, which callers rule out.
        let t = try! upsampleBilinear(tensor, height: outH, width: outW, alignCorners: false)
        return PlanarImage(width: outW, height: outH, values: t.values)
    }

    /// The image mirrored left to right.
    public func flippedHorizontally() -> PlanarImage {
        var v = values
        for row in 0..<(3 * height) {
            let base = row * width
            for x in 0..<width { v[base + x] = values[base + width - 1 - x] }
        }
        return PlanarImage(width: width, height: height, values: v)
    }

    /// The `cropW × cropH` window at `(x0, y0)`; the parts outside the image (negative
    /// offsets or beyond the right/bottom edge) are filled with `fill` (one value per channel).
    public func window(x0: Int, y0: Int, width cropW: Int, height cropH: Int, fill: [Float]) -> PlanarImage {
        var v = [Float](repeating: 0, count: 3 * cropW * cropH)
        for c in 0..<3 {
            for y in 0..<cropH {
                let sy = y0 + y
                for x in 0..<cropW {
                    let sx = x0 + x
                    v[(c * cropH + y) * cropW + x] = sx >= 0 && sx < width && sy >= 0 && sy < height
                        ? values[(c * height + sy) * width + sx] : fill[c]
                }
            }
        }
        return PlanarImage(width: cropW, height: cropH, values: v)
    }
}

extension LabelMap {
    /// Nearest-neighbour resizing with centre-aligned pixels (PyTorch's `nearest-exact`:
    /// source index `floor((dst + 0.5) · in / out)`), so no new label is ever made.
    public func resizedNearest(width outW: Int, height outH: Int) -> LabelMap {
        if outW == width && outH == height { return self }
        let xs = (0..<outW).map { min(Int((Double($0) + 0.5) * Double(width) / Double(outW)), width - 1) }
        let ys = (0..<outH).map { min(Int((Double($0) + 0.5) * Double(height) / Double(outH)), height - 1) }
        var out = [Int32](repeating: 0, count: outW * outH)
        for (y, sy) in ys.enumerated() {
            for (x, sx) in xs.enumerated() { out[y * outW + x] = labels[sy * width + sx] }
        }
        return LabelMap(width: outW, height: outH, labels: out)
    }

    /// The map mirrored left to right.
    public func flippedHorizontally() -> LabelMap {
        var out = labels
        for y in 0..<height {
            for x in 0..<width { out[y * width + x] = labels[y * width + width - 1 - x] }
        }
        return LabelMap(width: width, height: height, labels: out)
    }

    /// The `cropW × cropH` window at `(x0, y0)`, with `fill` outside the map.
    public func window(x0: Int, y0: Int, width cropW: Int, height cropH: Int, fill: Int32) -> LabelMap {
        var out = [Int32](repeating: fill, count: cropW * cropH)
        for y in 0..<cropH {
            let sy = y0 + y
            guard sy >= 0 && sy < height else { continue }
            for x in 0..<cropW {
                let sx = x0 + x
                if sx >= 0 && sx < width { out[y * cropW + x] = labels[sy * width + sx] }
            }
        }
        return LabelMap(width: cropW, height: cropH, labels: out)
    }
}

/// An image with its per-pixel labels (same size).
public struct SegmentationSample: Sendable, Equatable {
    public var image: PlanarImage
    public var labels: LabelMap
    /// The pair's name (relative path without extension).
    public var name: String

    public init(image: PlanarImage, labels: LabelMap, name: String = "") {
        precondition(image.width == labels.width && image.height == labels.height,
                     "image \(image.width)x\(image.height) and labels \(labels.width)x\(labels.height) differ")
        self.image = image
        self.labels = labels
        self.name = name
    }
}

/// Seeded training augmentation, applied with the same geometry to image and labels:
///
/// 1. random scale `s` uniform in ``scale`` (both sides rounded, at least 1 pixel): bilinear for
///    the image, nearest (``LabelMap/resizedNearest(width:height:)``) for the labels;
/// 2. horizontal flip with probability ``flipProbability``;
/// 3. colour jitter (image only), in this fixed order: brightness `x·b`, contrast
///    `(x − m)·c + m` with `m` the image's mean BT.601 gray, saturation `(x − g)·s + g` with `g`
///    the pixel's BT.601 gray, each factor uniform in `[max(0, 1 − j), 1 + j]` and the result
///    clamped to 0...255 (torchvision's `ColorJitter` formulas, without hue and in a fixed order);
/// 4. random crop to ``cropWidth`` × ``cropHeight``: when the scaled image is smaller on a side, it
///    is padded at the bottom/right with ``padValue`` (image) and the ignore label (labels), so
///    padded pixels never count in the loss.
///
/// Every random draw comes from one ``SplitMix64`` in a fixed order (scale, flip, brightness,
/// contrast, saturation, crop x, crop y), each drawn even when its step is off, so a seed gives
/// the same result whatever the settings' values.
public struct Augmentation: Sendable {
    /// The output size (every sample of a batch has it).
    public var cropWidth: Int
    public var cropHeight: Int
    /// Scale factors' range; `1...1` for none.
    public var scale: ClosedRange<Float>
    /// Probability of a horizontal flip (0 for none).
    public var flipProbability: Float
    /// Jitter strengths `j` (factors in `[max(0, 1 − j), 1 + j]`); 0 for none.
    public var brightness: Float
    public var contrast: Float
    public var saturation: Float
    /// Image padding per channel on the 0...255 scale; default the ImageNet mean (so padding
    /// normalises to 0), `[0, 0, 0]` for black.
    public var padValue: [Float]

    public init(cropWidth: Int, cropHeight: Int, scale: ClosedRange<Float> = 0.5...2.0, flipProbability: Float = 0.5,
                brightness: Float = 0, contrast: Float = 0, saturation: Float = 0,
                padValue: [Float] = Normalization.imageNet.mean.map { $0 * 255 }) {
        precondition(cropWidth > 0 && cropHeight > 0, "crop size \(cropWidth)x\(cropHeight)")
        precondition(scale.lowerBound > 0, "scale factors must be positive")
        precondition(padValue.count == 3, "padValue needs 3 values")
        self.cropWidth = cropWidth
        self.cropHeight = cropHeight
        self.scale = scale
        self.flipProbability = flipProbability
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.padValue = padValue
    }

    /// A uniform draw in [0, 1).
    private static func uniform(_ g: inout SplitMix64) -> Float { Float(Double(g.next() >> 11) * 0x1p-53) }

    /// The augmented sample for `seed` (same seed, same result).
    public func apply(_ sample: SegmentationSample, seed: UInt64, ignoreLabel: Int32 = LabelMap.ignoreLabel) -> SegmentationSample {
        var g = SplitMix64(seed: seed)
        return apply(sample, generator: &g, ignoreLabel: ignoreLabel)
    }

    public func apply(_ sample: SegmentationSample, generator g: inout SplitMix64,
                      ignoreLabel: Int32 = LabelMap.ignoreLabel) -> SegmentationSample {
        let uScale = Self.uniform(&g), uFlip = Self.uniform(&g)
        let uB = Self.uniform(&g), uC = Self.uniform(&g), uS = Self.uniform(&g)
        let uX = Self.uniform(&g), uY = Self.uniform(&g)
        var image = sample.image, labels = sample.labels

        let s = scale.lowerBound + (scale.upperBound - scale.lowerBound) * uScale
        if s != 1 {
            let w = max(1, Int((Float(image.width) * s).rounded())), h = max(1, Int((Float(image.height) * s).rounded()))
            image = image.resized(width: w, height: h)
            labels = labels.resizedNearest(width: w, height: h)
        }
        if uFlip < flipProbability {
            image = image.flippedHorizontally()
            labels = labels.flippedHorizontally()
        }
        func factor(_ j: Float, _ u: Float) -> Float { max(0, 1 - j) + (1 + j - max(0, 1 - j)) * u }
        if brightness > 0 || contrast > 0 || saturation > 0 {
            image = Self.jitter(image, brightness: brightness > 0 ? factor(brightness, uB) : 1,
                                contrast: contrast > 0 ? factor(contrast, uC) : 1,
                                saturation: saturation > 0 ? factor(saturation, uS) : 1)
        }
        let x0 = image.width > cropWidth ? Int(uX * Float(image.width - cropWidth + 1)) : 0
        let y0 = image.height > cropHeight ? Int(uY * Float(image.height - cropHeight + 1)) : 0
        let (cx, cy) = (min(x0, max(0, image.width - cropWidth)), min(y0, max(0, image.height - cropHeight)))
        return SegmentationSample(image: image.window(x0: cx, y0: cy, width: cropWidth, height: cropHeight, fill: padValue),
                                  labels: labels.window(x0: cx, y0: cy, width: cropWidth, height: cropHeight, fill: ignoreLabel),
                                  name: sample.name)
    }

    /// Brightness, contrast and saturation factors (1 = unchanged), clamped to 0...255.
    public static func jitter(_ image: PlanarImage, brightness b: Float, contrast c: Float, saturation s: Float) -> PlanarImage {
        let plane = image.width * image.height
        var v = image.values
        func clamp(_ x: Float) -> Float { min(max(x, 0), 255) }
        func gray(_ i: Int) -> Float { 0.299 * v[i] + 0.587 * v[plane + i] + 0.114 * v[2 * plane + i] }
        if b != 1 { for i in v.indices { v[i] = clamp(v[i] * b) } }
        if c != 1 && plane > 0 {
            var sum = 0.0
            for i in 0..<plane { sum += Double(gray(i)) }
            let m = Float(sum / Double(plane))
            for i in v.indices { v[i] = clamp((v[i] - m) * c + m) }
        }
        if s != 1 {
            for i in 0..<plane {
                let g = gray(i)
                for ch in 0..<3 { v[ch * plane + i] = clamp((v[ch * plane + i] - g) * s + g) }
            }
        }
        return PlanarImage(width: image.width, height: image.height, values: v)
    }
}
