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

    /// The labels as a label map (a mask's foreground is label 1).
    var labelMap: LabelMap {
        switch self {
        case .wide(let map): map
        case .mask, .bytes:
            LabelMap(width: width, height: height, labels: (0..<width * height).map { label(at: $0) })
        }
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

extension MaskFormat {
    /// RGB pictures for people rather than label files for programs.
    var isPicture: Bool { self == .overlay || self == .color || self == .mean || self == .boundaries }
    /// Pictures made from the input image.
    var drawsOverImage: Bool { self == .overlay || self == .mean || self == .boundaries }
}

/// Renders labels in the chosen ``MaskFormat`` and writes the PNG atomically.
enum MaskWriter {
    /// The labels of an RGB image in the COCO panoptic encoding, id = R + 256·G + 65536·B
    /// (`panopticapi.utils.rgb2id`), as label maps past 65,535 labels are written.
    static func labels(fromRGBIDs image: Image<UInt8>) -> LabelMap {
        let n = image.pixelCount, stride = image.channels
        let labels = [Int32](unsafeUninitializedCapacity: n) { out, initialized in
            image.samples.withUnsafeBufferPointer { s in
                for i in 0..<n {
                    out[i] = Int32(s[stride * i]) | Int32(s[stride * i + 1]) << 8 | Int32(s[stride * i + 2]) << 16
                }
            }
            initialized = n
        }
        return LabelMap(width: image.width, height: image.height, labels: labels)
    }

    static func write(_ labels: MaskLabels, format: MaskFormat, source: AnyImage?, to path: String,
                      options: PNGWriteOptions) throws {
        try ImageFile.writeAtomically(try encode(labels, format: format, source: source, options: options), to: path)
    }

    static func encode(_ labels: MaskLabels, format: MaskFormat, source: AnyImage?,
                       options: PNGWriteOptions) throws -> [UInt8] {
        let (width, height) = (labels.width, labels.height)
        // Masks are flat regions: unfiltered rows compress as well and write faster. Pictures
        // drawn over the image are photos and keep the caller's filter.
        let options = format.drawsOverImage ? options : options.with(filter: .none)
        if case .mask(let image, let foreground) = labels, !format.isPicture {
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
                guard maxLabel <= 0xFF_FFFF, map.labels.allSatisfy({ $0 >= 0 }) else {
                    throw CVSegError.invalidArgument(
                        "labels up to \(maxLabel) do not fit a label PNG (0...16777215 as 24-bit RGB ids); use coarser settings")
                }
                // Multi-byte labels: a run of one label repeats a 2- or 3-byte pattern, which
                // run-length matching cannot see; the Sub filter turns it into zeros (as OpenCV
                // writes 16-bit images).
                // Rows are converted as the encoder asks for them: no second image-sized buffer.
                let wide = format.drawsOverImage ? options : options.with(filter: .sub)
                return try map.labels.withUnsafeBufferPointer { l in
                    guard let labels = l.baseAddress else { throw CVSegError.invalidArgument("an empty label map") }
                    if maxLabel > 65535 {
                        // 24-bit RGB ids, the COCO panoptic encoding: id = R + 256·G + 65536·B.
                        return try ImageEncoder.png(width: width, height: height, layout: .rgb, bitDepth: 8, options: wide) { y, row in
                            let src = labels + y * width
                            for x in 0..<width {
                                let v = UInt32(truncatingIfNeeded: src[x])
                                row[3 * x] = UInt8(truncatingIfNeeded: v)
                                row[3 * x + 1] = UInt8(truncatingIfNeeded: v >> 8)
                                row[3 * x + 2] = UInt8(truncatingIfNeeded: v >> 16)
                            }
                        }
                    }
                    return try ImageEncoder.png(width: width, height: height, layout: .gray, bitDepth: 16, options: wide) { y, row in
                        let src = labels + y * width
                        for x in 0..<width { row.storeBytes(of: UInt16(truncatingIfNeeded: src[x]), toByteOffset: 2 * x, as: UInt16.self) }
                    }
                }
            }
            return try map.labels.withUnsafeBufferPointer { l in
                guard let labels = l.baseAddress else { throw CVSegError.invalidArgument("an empty label map") }
                return try ImageEncoder.png(width: width, height: height, layout: .gray, bitDepth: 8, options: options) { y, row in
                    let src = labels + y * width
                    for x in 0..<width { row[x] = UInt8(clamping: src[x]) }
                }
            }
        case (.palette, .bytes(let image)), (.palette, .mask(let image, _)):
            return try ImageEncoder.png(IndexedImage(indices: image, palette: ColorMap.pascalVOC), options: options)
        case (.palette, .wide(let map)):
            if let maxLabel = map.maxLabel, maxLabel > 255 {
                throw CVSegError.invalidArgument("\(maxLabel + 1) labels do not fit a palette PNG (256 at most); use --format labels")
            }
            let indices = Image(width: width, height: height, layout: .gray, samples: map.labels.map { UInt8(clamping: $0) })
            return try ImageEncoder.png(IndexedImage(indices: indices, palette: ColorMap.pascalVOC), options: options)
        case (.overlay, _), (.mean, _), (.boundaries, _):
            guard let source else { throw CVSegError.invalidArgument("--format \(format.rawValue) needs the source image") }
            let picture = switch format {
            case .overlay: overlay(labels, on: source)
            case .mean: LabelPictures.meanColors(labels.labelMap, image: source.to8Bit())
            default: LabelPictures.boundaries(labels.labelMap, on: source.to8Bit())
            }
            return try ImageEncoder.png(picture, options: options)
        case (.color, _):
            return try ImageEncoder.png(LabelPictures.colors(labels.labelMap), options: options)
        }
    }

    /// The image (to 8-bit RGB) with each labelled pixel (label > 0) blended half-and-half with
    /// its label's colour (``ColorMap/color(forLabel:)``: PASCAL VOC's for labels below 256, so
    /// label 1 is dark red).
    static func overlay(_ labels: MaskLabels, on source: AnyImage) -> Image<UInt8> {
        let image = source.to8Bit()
        precondition(image.width == labels.width && image.height == labels.height, "overlay size mismatch")
        let n = image.channels
        var out = [UInt8](repeating: 0, count: image.pixelCount * 3)
        for i in 0..<image.pixelCount {
            var rgb: (Int, Int, Int)
            if image.layout.isGray {
                let v = Int(image.samples[i * n]); rgb = (v, v, v)
            } else {
                rgb = (Int(image.samples[i * n]), Int(image.samples[i * n + 1]), Int(image.samples[i * n + 2]))
            }
            let label = labels.label(at: i)
            if label > 0 {
                let c = ColorMap.color(forLabel: label)
                rgb = ((rgb.0 + Int(c.r) + 1) / 2, (rgb.1 + Int(c.g) + 1) / 2, (rgb.2 + Int(c.b) + 1) / 2)
            }
            out[3 * i] = UInt8(rgb.0); out[3 * i + 1] = UInt8(rgb.1); out[3 * i + 2] = UInt8(rgb.2)
        }
        return Image(width: image.width, height: image.height, layout: .rgb, samples: out)
    }
}
