import CVSegCore
import CVSegIO

/// A segmentation result to write.
enum MaskLabels {
    /// A binary mask whose foreground pixels hold `foreground` (1 or 255) and the rest 0.
    case mask(Image<UInt8>, foreground: UInt8)
    /// Labels that fit a byte (up to 256 classes).
    case bytes(Image<UInt8>)
    /// Any labels.
    case wide(LabelMap)

    var width: Int {
        switch self { case .mask(let i, _), .bytes(let i): i.width; case .wide(let m): m.width }
    }
    var height: Int {
        switch self { case .mask(let i, _), .bytes(let i): i.height; case .wide(let m): m.height }
    }

    /// The label of pixel `i` (row-major); a mask's foreground is label 1.
    @inline(__always)
    func label(at i: Int) -> Int32 {
        switch self {
        case .mask(let image, _): image.samples[i] != 0 ? 1 : 0
        case .bytes(let image): Int32(image.samples[i])
        case .wide(let map): map.labels[i]
        }
    }
}

/// Renders labels in the chosen ``MaskFormat`` and writes the PNG atomically.
enum MaskWriter {
    static func write(_ labels: MaskLabels, format: MaskFormat, source: AnyImage?, to path: String,
                      options: PNGWriteOptions) throws {
        try ImageFile.writeAtomically(try encode(labels, format: format, source: source, options: options), to: path)
    }

    static func encode(_ labels: MaskLabels, format: MaskFormat, source: AnyImage?,
                       options: PNGWriteOptions) throws -> [UInt8] {
        let (width, height) = (labels.width, labels.height)
        // Masks are flat regions: unfiltered rows compress as well and write faster. The overlay
        // is a photo and keeps the caller's filter.
        let options = format == .overlay ? options : options.with(filter: .none)
        if case .mask(let image, let foreground) = labels, format != .overlay {
            if format == .binary && foreground == 255 { return try ImageEncoder.png(image, options: options) }
            let zeroOne = foreground == 1 ? image : image.mapSamples { $0 != 0 ? UInt8(1) : 0 }
            return try encode(.bytes(zeroOne), format: format, source: source, options: options)
        }
        switch (format, labels) {
        case (.binary, .bytes(let image)), (.binary, .mask(let image, _)):
            return try ImageEncoder.png(image.mapSamples { $0 != 0 ? UInt8(255) : 0 }, options: options)
        case (.binary, .wide(let map)):
            return try ImageEncoder.png(Image(width: width, height: height, layout: .gray,
                                              samples: map.labels.map { $0 != 0 ? UInt8(255) : 0 }), options: options)
        case (.labels, .bytes(let image)), (.labels, .mask(let image, _)):
            return try ImageEncoder.png(image, options: options)
        case (.labels, .wide(let map)):
            if let maxLabel = map.maxLabel, maxLabel > 255 {
                return try ImageEncoder.png(Image(width: width, height: height, layout: .gray,
                                                  samples: map.labels.map { UInt16(clamping: $0) }), options: options)
            }
            return try ImageEncoder.png(Image(width: width, height: height, layout: .gray,
                                              samples: map.labels.map { UInt8(clamping: $0) }), options: options)
        case (.palette, .bytes(let image)), (.palette, .mask(let image, _)):
            return try ImageEncoder.png(IndexedImage(indices: image, palette: ColorMap.pascalVOC), options: options)
        case (.palette, .wide(let map)):
            if let maxLabel = map.maxLabel, maxLabel > 255 {
                throw CVSegError.invalidArgument("\(maxLabel + 1) labels do not fit a palette PNG (256 at most); use --format labels")
            }
            let indices = Image(width: width, height: height, layout: .gray, samples: map.labels.map { UInt8(clamping: $0) })
            return try ImageEncoder.png(IndexedImage(indices: indices, palette: ColorMap.pascalVOC), options: options)
        case (.overlay, _):
            guard let source else { throw CVSegError.invalidArgument("overlay needs the source image") }
            return try ImageEncoder.png(overlay(labels, on: source), options: options)
        }
    }

    /// The image (to 8-bit RGB) with each labelled pixel (label > 0) blended half-and-half with
    /// its label's PASCAL VOC colour; label 1 is dark red.
    static func overlay(_ labels: MaskLabels, on source: AnyImage) -> Image<UInt8> {
        let image = source.to8Bit()
        precondition(image.width == labels.width && image.height == labels.height, "overlay size mismatch")
        let n = image.channels
        var out = [UInt8](repeating: 0, count: image.pixelCount * 3)
        let colors = ColorMap.pascalVOC
        for i in 0..<image.pixelCount {
            var rgb: (Int, Int, Int)
            if image.layout.isGray {
                let v = Int(image.samples[i * n]); rgb = (v, v, v)
            } else {
                rgb = (Int(image.samples[i * n]), Int(image.samples[i * n + 1]), Int(image.samples[i * n + 2]))
            }
            let label = labels.label(at: i)
            if label > 0 {
                let c = colors[Int(min(label, 255))]
                rgb = ((rgb.0 + Int(c.r) + 1) / 2, (rgb.1 + Int(c.g) + 1) / 2, (rgb.2 + Int(c.b) + 1) / 2)
            }
            out[3 * i] = UInt8(rgb.0); out[3 * i + 1] = UInt8(rgb.1); out[3 * i + 2] = UInt8(rgb.2)
        }
        return Image(width: image.width, height: image.height, layout: .rgb, samples: out)
    }
}
