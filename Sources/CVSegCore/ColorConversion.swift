/// Weights for turning colour into gray.
public enum GrayWeights: String, Sendable, CaseIterable {
    /// ITU-R BT.601 luma, exactly as OpenCV 5's `cvtColor(…, COLOR_RGB2GRAY)`: the integer
    /// formula `(9798 R + 19235 G + 3735 B + 16384) >> 15` (0.299, 0.587, 0.114 in 15-bit fixed
    /// point, rounded). OpenCV 4 used 14 bits (4899, 9617, 1868), which rounds differently on
    /// the rare pixels whose exact value ends in .5.
    case bt601
    /// ITU-R BT.709 luma with scikit-image's `rgb2gray` weights 0.2125 R + 0.7154 G + 0.0721 B,
    /// rounded half to even to the input's integer range (scikit-image keeps it as float).
    case bt709
}

extension Image {
    /// This image as one gray channel.
    ///
    /// Gray images are returned as they are; RGB is weighted by `weights`. Alpha is dropped: the
    /// caller asks for this explicitly, so the loss is on record (see Docs/Conventions.md).
    /// - Complexity: O(pixels).
    @inlinable
    public func grayscale(weights: GrayWeights = .bt601) -> Image<Sample> {
        switch layout {
        case .gray:
            return self
        case .grayAlpha:
            var out = [Sample](repeating: 0, count: pixelCount)
            samples.withUnsafeBufferPointer { src in
                for i in 0..<pixelCount { out[i] = src[2 * i] }
            }
            return Image(width: width, height: height, layout: .gray, samples: out)
        case .rgb, .rgba:
            let stride = layout.channels
            let count = pixelCount
            let out = [Sample](unsafeUninitializedCapacity: count) { dst, initialized in
                samples.withUnsafeBufferPointer { src in
                    switch weights {
                    case .bt601:
                        for i in 0..<count {
                            let r = Int(src[i * stride]), g = Int(src[i * stride + 1]), b = Int(src[i * stride + 2])
                            dst[i] = Sample(truncatingIfNeeded: (r * 9798 + g * 19235 + b * 3735 + 16384) >> 15)
                        }
                    case .bt709:
                        for i in 0..<count {
                            let r = Double(src[i * stride]), g = Double(src[i * stride + 1]), b = Double(src[i * stride + 2])
                            let v = (0.2125 * r + 0.7154 * g + 0.0721 * b).rounded(.toNearestOrEven)
                            dst[i] = Sample(min(max(v, 0), Double(Sample.max)))
                        }
                    }
                }
                initialized = count
            }
            return Image(width: width, height: height, layout: .gray, samples: out)
        }
    }
}

extension AnyImage {
    /// ``Image/grayscale(weights:)`` at the image's own bit depth.
    public func grayscale(weights: GrayWeights = .bt601) -> AnyImage {
        switch self {
        case .uint8(let image): .uint8(image.grayscale(weights: weights))
        case .uint16(let image): .uint16(image.grayscale(weights: weights))
        }
    }

    /// The image with 8-bit samples: 16-bit samples keep their high byte (`v >> 8`).
    public func to8Bit() -> Image<UInt8> {
        switch self {
        case .uint8(let image):
            return image
        case .uint16(let image):
            return Image<UInt8>(width: image.width, height: image.height, layout: image.layout,
                                samples: image.samples.map { UInt8(truncatingIfNeeded: $0 >> 8) })
        }
    }
}
