import CVSegCore
import CVSegIO

/// Renders a label map in the chosen ``MaskFormat`` and writes it atomically.
enum MaskWriter {
    static func write(_ labels: LabelMap, format: MaskFormat, source: AnyImage?, to path: String,
                      options: PNGWriteOptions) throws {
        let bytes: [UInt8]
        switch format {
        case .binary:
            let samples = labels.labels.map { $0 > 0 ? UInt8(255) : 0 }
            bytes = try ImageEncoder.png(Image(width: labels.width, height: labels.height, layout: .gray, samples: samples),
                                         options: options)
        case .labels:
            let maxLabel = labels.maxLabel ?? 0
            if maxLabel <= 255 {
                let samples = labels.labels.map { UInt8(clamping: $0) }
                bytes = try ImageEncoder.png(Image(width: labels.width, height: labels.height, layout: .gray, samples: samples),
                                             options: options)
            } else {
                let samples = labels.labels.map { UInt16(clamping: $0) }
                bytes = try ImageEncoder.png(Image(width: labels.width, height: labels.height, layout: .gray, samples: samples),
                                             options: options)
            }
        case .palette:
            if let maxLabel = labels.maxLabel, maxLabel > 255 {
                throw CVSegError.invalidArgument("\(maxLabel + 1) labels do not fit a palette PNG (256 at most); use --format labels")
            }
            let indices = Image(width: labels.width, height: labels.height, layout: .gray,
                                samples: labels.labels.map { UInt8(clamping: $0) })
            bytes = try ImageEncoder.png(IndexedImage(indices: indices, palette: ColorMap.pascalVOC), options: options)
        case .overlay:
            guard let source else { throw CVSegError.invalidArgument("overlay needs the source image") }
            bytes = try ImageEncoder.png(overlay(labels, on: source), options: options)
        }
        try ImageFile.writeAtomically(bytes, to: path)
    }

    /// The image (to 8-bit RGB) with each labelled pixel (label > 0) blended half-and-half with
    /// its label's PASCAL VOC colour; label 1 is dark red.
    static func overlay(_ labels: LabelMap, on source: AnyImage) -> Image<UInt8> {
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
            let label = labels.labels[i]
            if label > 0 {
                let c = colors[Int(min(label, 255))]
                rgb = ((rgb.0 + Int(c.r) + 1) / 2, (rgb.1 + Int(c.g) + 1) / 2, (rgb.2 + Int(c.b) + 1) / 2)
            }
            out[3 * i] = UInt8(rgb.0); out[3 * i + 1] = UInt8(rgb.1); out[3 * i + 2] = UInt8(rgb.2)
        }
        return Image(width: image.width, height: image.height, layout: .rgb, samples: out)
    }
}
