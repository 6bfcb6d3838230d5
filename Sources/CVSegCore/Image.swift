/// A sample type an ``Image`` can hold: 8-bit or 16-bit unsigned integers.
public protocol PixelSample: FixedWidthInteger & UnsignedInteger & Sendable {}
extension UInt8: PixelSample {}
extension UInt16: PixelSample {}

/// How the samples of one pixel are laid out.
public enum ColorLayout: Int, Sendable, CaseIterable, CustomStringConvertible {
    case gray = 1
    case grayAlpha = 2
    case rgb = 3
    case rgba = 4

    /// Samples per pixel.
    public var channels: Int { rawValue }
    /// Whether the last channel is alpha.
    public var hasAlpha: Bool { self == .grayAlpha || self == .rgba }
    /// Whether the colour part is gray (1 channel) rather than RGB.
    public var isGray: Bool { self == .gray || self == .grayAlpha }

    public init?(channels: Int) { self.init(rawValue: channels) }

    public var description: String {
        switch self {
        case .gray: "gray"
        case .grayAlpha: "gray+alpha"
        case .rgb: "RGB"
        case .rgba: "RGBA"
        }
    }
}

/// A raster image: `height` rows of `width` pixels, each pixel `layout.channels` samples.
///
/// Samples are stored row-major with channels interleaved: sample `c` of pixel `(x, y)` is at
/// `(y * width + x) * channels + c`. Values are the file's values, with no gamma or colour-space
/// conversion. See Docs/Conventions.md.
public struct Image<Sample: PixelSample>: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let layout: ColorLayout
    public var samples: [Sample]

    /// Creates an image from its samples.
    /// - Precondition: `samples.count == width * height * layout.channels`, sizes non-negative.
    public init(width: Int, height: Int, layout: ColorLayout, samples: [Sample]) {
        precondition(width >= 0 && height >= 0, "negative image size \(width)x\(height)")
        precondition(samples.count == width * height * layout.channels,
                     "\(samples.count) samples for a \(width)x\(height) \(layout) image")
        self.width = width
        self.height = height
        self.layout = layout
        self.samples = samples
    }

    /// Creates an image with every sample set to `value`.
    public init(width: Int, height: Int, layout: ColorLayout, repeating value: Sample = 0) {
        self.init(width: width, height: height, layout: layout,
                  samples: [Sample](repeating: value, count: width * height * layout.channels))
    }

    public var channels: Int { layout.channels }
    public var pixelCount: Int { width * height }

    /// Sample `channel` of the pixel at column `x`, row `y`.
    @inlinable
    public subscript(x: Int, y: Int, channel: Int = 0) -> Sample {
        get { samples[(y * width + x) * layout.channels + channel] }
        set { samples[(y * width + x) * layout.channels + channel] = newValue }
    }
}

/// A decoded image whose sample width is only known at run time (8- or 16-bit files).
public enum AnyImage: Sendable, Equatable {
    case uint8(Image<UInt8>)
    case uint16(Image<UInt16>)

    public var width: Int {
        switch self { case .uint8(let i): i.width; case .uint16(let i): i.width }
    }
    public var height: Int {
        switch self { case .uint8(let i): i.height; case .uint16(let i): i.height }
    }
    public var layout: ColorLayout {
        switch self { case .uint8(let i): i.layout; case .uint16(let i): i.layout }
    }
    /// Bits per sample: 8 or 16.
    public var bitDepth: Int {
        switch self { case .uint8: 8; case .uint16: 16 }
    }
}

/// An 8-bit RGBA colour, as in a palette.
public struct RGBA: Sendable, Equatable, Hashable {
    public var r: UInt8, g: UInt8, b: UInt8, a: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8, _ a: UInt8 = 255) {
        self.r = r; self.g = g; self.b = b; self.a = a
    }
}

/// A palette (colour-mapped) image kept as its index plane: each pixel is an index into
/// `palette`. This is how label maps stored as PASCAL VOC palette PNGs are read.
public struct IndexedImage: Sendable, Equatable {
    /// One 8-bit index per pixel, `.gray` layout.
    public var indices: Image<UInt8>
    /// The colours, at most 256.
    public var palette: [RGBA]

    public init(indices: Image<UInt8>, palette: [RGBA]) {
        precondition(indices.layout == .gray, "palette indices must be a one-channel image")
        precondition(palette.count <= 256, "a palette has at most 256 entries")
        self.indices = indices
        self.palette = palette
    }
    public var width: Int { indices.width }
    public var height: Int { indices.height }
}

extension Image {
    /// A new image of the same size and layout with `transform` applied to every sample.
    /// - Complexity: O(samples), one pass over contiguous storage.
    @inlinable
    public func mapSamples<T: PixelSample>(_ transform: (Sample) -> T) -> Image<T> {
        let count = samples.count
        let out = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            samples.withUnsafeBufferPointer { src in
                for i in 0..<count { buffer[i] = transform(src[i]) }
            }
            initialized = count
        }
        return Image<T>(width: width, height: height, layout: layout, samples: out)
    }
}

extension Image where Sample == UInt8 {
    /// The number of nonzero samples: 16 bytes at a time, `min(v, 1)` summed in byte lanes for
    /// up to 255 steps before the lanes are added up.
    public var nonzeroCount: Int {
        samples.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { return 0 }
            let n = p.count, raw = UnsafeRawPointer(base)
            var total = 0, i = 0
            let one = SIMD16<UInt8>(repeating: 1)
            while i + 16 <= n {
                var lanes = SIMD16<UInt8>()
                var steps = 0
                while steps < 255 && i + 16 <= n {
                    lanes &+= pointwiseMin(raw.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self), one)
                    i += 16; steps += 1
                }
                total += Int(SIMD16<UInt16>(truncatingIfNeeded: lanes).wrappedSum())
            }
            while i < n { if base[i] != 0 { total += 1 }; i += 1 }
            return total
        }
    }
}
