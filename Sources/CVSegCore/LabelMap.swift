/// Per-pixel class or region labels, row-major (`labels[y * width + x]`).
///
/// Labels are `Int32`. Ground truth may mark pixels with ``ignoreLabel`` (255, as PASCAL VOC and
/// mmsegmentation do); evaluation skips them. See Docs/Conventions.md.
public struct LabelMap: Sendable, Equatable {
    /// The default label of pixels that evaluation ignores.
    public static let ignoreLabel: Int32 = 255

    public let width: Int
    public let height: Int
    public var labels: [Int32]

    public init(width: Int, height: Int, labels: [Int32]) {
        precondition(width >= 0 && height >= 0 && labels.count == width * height,
                     "\(labels.count) labels for a \(width)x\(height) map")
        self.width = width
        self.height = height
        self.labels = labels
    }

    public init(width: Int, height: Int, repeating label: Int32 = 0) {
        self.init(width: width, height: height,
                  labels: [Int32](repeating: label, count: width * height))
    }

    /// The labels of a one-channel 8-bit image (a binary mask or a small label image).
    public init(_ image: Image<UInt8>) {
        precondition(image.layout == .gray, "a label image has one channel, not \(image.layout)")
        self.init(width: image.width, height: image.height, labels: image.samples.map { Int32($0) })
    }

    @inlinable
    public subscript(x: Int, y: Int) -> Int32 {
        get { labels[y * width + x] }
        set { labels[y * width + x] = newValue }
    }

    /// The largest label, or nil for an empty map.
    public var maxLabel: Int32? { labels.max() }
}
