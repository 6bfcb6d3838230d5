import CVSegCore

/// A flat, symmetric structuring element (footprint) for binary morphology, centred on the pixel.
public enum StructuringElement: Sendable, Equatable, Hashable {
    /// A `side` × `side` square; `side` must be odd and at least 1 (`side = 1` is the identity).
    /// scikit-image's `footprint_rectangle((side, side))` (formerly `square(side)`).
    case square(Int)
    /// scikit-image's `disk(radius)`: the offsets `(dx, dy)` with `dx² + dy² <= radius²`, a
    /// `(2 radius + 1)²` footprint; `radius` must be at least 0 (`disk(0)` is the identity,
    /// `disk(1)` the 4-neighbour cross).
    case disk(Int)

    /// Throws unless the element is valid; returns its radius (half the side).
    func validatedRadius() throws -> Int {
        switch self {
        case .square(let side):
            guard side >= 1, side % 2 == 1 else {
                throw CVSegError.invalidArgument("a square structuring element needs an odd side of at least 1, got \(side)")
            }
            return side / 2
        case .disk(let radius):
            guard radius >= 0 else {
                throw CVSegError.invalidArgument("a disk structuring element needs a radius of at least 0, got \(radius)")
            }
            return radius
        }
    }
}

// MARK: - Public operations
//
// Border rule (scikit-image's binary_erosion / binary_dilation / binary_opening / binary_closing
// with their default mode='ignore'): pixels outside the image never influence the result. For
// dilation they count as background; for erosion as foreground, so a foreground pixel on the
// border survives erosion when every in-image pixel under the element is foreground. Opening and
// closing apply the same rule in each of their two steps. (scipy.ndimage.binary_erosion's default
// border_value=0 differs: it erodes from the border.) For these symmetric elements it is also what
// skimage.morphology.erosion / dilation / opening / closing give on a bool image.

/// Binary erosion: a pixel is foreground when every pixel of the image under the element centred
/// on it is nonzero (pixels outside the image are ignored; see the border rule above).
///
/// - Parameters:
///   - mask: a one-channel 8-bit image; nonzero samples are foreground.
///   - element: ``StructuringElement/square(_:)`` or ``StructuringElement/disk(_:)``.
///   - foreground: the output value of foreground pixels (1 for a label mask, 255 to view).
/// - Returns: a `.gray` mask of the same size, 0 / `foreground`.
/// - Throws: ``CVSegError/invalidArgument(_:)`` for an even or non-positive square side, a negative
///   radius, or a mask with more than one channel.
/// - Complexity: O(pixels) for squares, whatever the side (separable running counts); O(pixels ×
///   (2 radius + 1)) for disks (a row prefix count per disk row), with 4 bytes per pixel of
///   temporary memory for disks and one byte per pixel for squares.
///
/// References: P. Soille, "Morphological Image Analysis", 2nd ed., Springer 2003, ch. 3;
/// scikit-image `skimage.morphology.binary_erosion` (0.26), mode='ignore'.
public func binaryErosion(_ mask: Image<UInt8>, element: StructuringElement, foreground: UInt8 = 1) throws -> Image<UInt8> {
    let r = try validate(mask, element)
    // Erosion with outside = foreground is the complement of the dilation of the complement
    // with outside = background.
    let bits = dilate(bits(of: mask, invert: true), mask.width, mask.height, element, r)
    return image(bits, mask, invert: true, foreground: foreground)
}

/// Binary dilation: a pixel is foreground when some pixel of the image under the element centred
/// on it is nonzero (pixels outside the image count as background).
///
/// Parameters, result, errors and complexity as ``binaryErosion(_:element:foreground:)``.
/// Reference: scikit-image `skimage.morphology.binary_dilation` (0.26), mode='ignore'.
public func binaryDilation(_ mask: Image<UInt8>, element: StructuringElement, foreground: UInt8 = 1) throws -> Image<UInt8> {
    let r = try validate(mask, element)
    let bits = dilate(bits(of: mask, invert: false), mask.width, mask.height, element, r)
    return image(bits, mask, invert: false, foreground: foreground)
}

/// Binary opening: the erosion, then the dilation of the result, with the same element (removes
/// foreground details the element does not fit in). Idempotent.
///
/// Parameters, result, errors and complexity (twice) as ``binaryErosion(_:element:foreground:)``.
/// Reference: scikit-image `skimage.morphology.binary_opening` (0.26), mode='ignore'.
public func binaryOpening(_ mask: Image<UInt8>, element: StructuringElement, foreground: UInt8 = 1) throws -> Image<UInt8> {
    let r = try validate(mask, element)
    let eroded = dilate(bits(of: mask, invert: true), mask.width, mask.height, element, r)
    // eroded holds the complement of the erosion; invert it back before dilating.
    let opened = dilate(eroded.map { $0 ^ 1 }, mask.width, mask.height, element, r)
    return image(opened, mask, invert: false, foreground: foreground)
}

/// Binary closing: the dilation, then the erosion of the result, with the same element (fills
/// background details the element does not fit in). Idempotent.
///
/// Parameters, result, errors and complexity (twice) as ``binaryErosion(_:element:foreground:)``.
/// Reference: scikit-image `skimage.morphology.binary_closing` (0.26), mode='ignore'.
public func binaryClosing(_ mask: Image<UInt8>, element: StructuringElement, foreground: UInt8 = 1) throws -> Image<UInt8> {
    let r = try validate(mask, element)
    let dilated = dilate(bits(of: mask, invert: false), mask.width, mask.height, element, r)
    // Erode: dilate the complement, then complement.
    let closed = dilate(dilated.map { $0 ^ 1 }, mask.width, mask.height, element, r)
    return image(closed, mask, invert: true, foreground: foreground)
}

// MARK: - Implementation

private func validate(_ mask: Image<UInt8>, _ element: StructuringElement) throws -> Int {
    let r = try element.validatedRadius()
    guard mask.layout == .gray else {
        throw CVSegError.invalidArgument("binary morphology needs a one-channel mask, got \(mask.layout)")
    }
    return r
}

/// The mask as 0/1 bytes (`invert`: 1 where the mask is 0).
private func bits(of mask: Image<UInt8>, invert: Bool) -> [UInt8] {
    let count = mask.pixelCount
    return [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
        mask.samples.withUnsafeBufferPointer { src in
            if invert {
                for i in 0..<count { out[i] = src[i] == 0 ? 1 : 0 }
            } else {
                for i in 0..<count { out[i] = src[i] != 0 ? 1 : 0 }
            }
        }
        initialized = count
    }
}

/// 0/1 bits as a 0/`foreground` image (`invert`: foreground where the bit is 0).
private func image(_ bits: [UInt8], _ like: Image<UInt8>, invert: Bool, foreground: UInt8) -> Image<UInt8> {
    let count = bits.count
    let on: UInt8 = invert ? 0 : foreground, off: UInt8 = invert ? foreground : 0
    let samples = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
        bits.withUnsafeBufferPointer { src in
            for i in 0..<count { out[i] = src[i] != 0 ? on : off }
        }
        initialized = count
    }
    return Image(width: like.width, height: like.height, layout: .gray, samples: samples)
}

/// Dilation of 0/1 bits, pixels outside the image counting as 0. `radius` is the element's
/// validated radius.
private func dilate(_ bits: [UInt8], _ width: Int, _ height: Int, _ element: StructuringElement, _ radius: Int) -> [UInt8] {
    if radius == 0 || bits.isEmpty { return bits }
    switch element {
    case .square: return dilateSquare(bits, width, height, min(radius, max(width, height)))
    case .disk: return dilateDisk(bits, width, height, min(radius, width + height))
    }
}

/// Separable square dilation for small windows: each output row is the OR of the 2r + 1
/// shifted input rows (clipped at the borders), one whole-row pass per shift, so it vectorises.
/// The same result as the running counts (bits are 0 or 1).
private func dilateSquareSmall(_ bits: [UInt8], _ width: Int, _ height: Int, _ r: Int) -> [UInt8] {
    let count = width * height
    var horizontal = [UInt8](repeating: 0, count: count)
    bits.withUnsafeBufferPointer { sb in
        horizontal.withUnsafeMutableBufferPointer { hb in
            guard let src = sb.baseAddress, let dst = hb.baseAddress else { return }
            for y in 0..<height {
                let s = src + y * width, d = dst + y * width
                for shift in -r...r {
                    let lo = max(0, -shift), hi = min(width, width - shift)
                    if lo >= hi { continue }
                    for x in lo..<hi { d[x] |= s[x + shift] }
                }
            }
        }
    }
    var out = [UInt8](repeating: 0, count: count)
    horizontal.withUnsafeBufferPointer { hb in
        out.withUnsafeMutableBufferPointer { ob in
            guard let src = hb.baseAddress, let dst = ob.baseAddress else { return }
            for y in 0..<height {
                let d = dst + y * width
                for row in max(0, y - r)...min(height - 1, y + r) {
                    let s = src + row * width
                    for x in 0..<width { d[x] |= s[x] }
                }
            }
        }
    }
    return out
}

/// Separable square dilation by running counts: rows with a (2r+1) window, then columns.
/// A window larger than the image gives the same result as r = max(width, height).
private func dilateSquare(_ bits: [UInt8], _ width: Int, _ height: Int, _ r: Int) -> [UInt8] {
    let count = width * height
    if r <= 3 { return dilateSquareSmall(bits, width, height, r) }
    var horizontal = [UInt8](repeating: 0, count: count)
    bits.withUnsafeBufferPointer { src in
        horizontal.withUnsafeMutableBufferPointer { dst in
            for y in 0..<height {
                let row = y * width
                // ones in columns x - r ... x + r (clipped to the row).
                var ones = 0
                for x in 0..<min(r, width - 1) + 1 { ones += Int(src[row + x]) }
                for x in 0..<width {
                    dst[row + x] = ones > 0 ? 1 : 0
                    if x + r + 1 < width { ones += Int(src[row + x + r + 1]) }
                    if x - r >= 0 { ones -= Int(src[row + x - r]) }
                }
            }
        }
    }
    var out = [UInt8](repeating: 0, count: count)
    var ones = [Int32](repeating: 0, count: width)
    horizontal.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            ones.withUnsafeMutableBufferPointer { c in
                // c[x]: ones of column x in rows y - r ... y + r (clipped).
                for y in 0..<min(r, height - 1) + 1 {
                    for x in 0..<width { c[x] += Int32(src[y * width + x]) }
                }
                for y in 0..<height {
                    let row = y * width
                    for x in 0..<width { dst[row + x] = c[x] > 0 ? 1 : 0 }
                    if y + r + 1 < height {
                        let add = (y + r + 1) * width
                        for x in 0..<width { c[x] += Int32(src[add + x]) }
                    }
                    if y - r >= 0 {
                        let remove = (y - r) * width
                        for x in 0..<width { c[x] -= Int32(src[remove + x]) }
                    }
                }
            }
        }
    }
    return out
}

/// Disk dilation: for each output pixel, the rows of the disk are tested in turn with a row
/// prefix count (stop at the first hit). `r` is at most width + height, so r² cannot overflow;
/// any larger radius covers the whole image from every pixel just the same.
private func dilateDisk(_ bits: [UInt8], _ width: Int, _ height: Int, _ r: Int) -> [UInt8] {
    // halfWidth[dy + r]: the largest k with k² + dy² <= r².
    var halfWidth = [Int](repeating: 0, count: 2 * r + 1)
    for dy in -r...r {
        let v = r * r - dy * dy
        var k = Int(Double(v).squareRoot())
        while k * k > v { k -= 1 }
        while (k + 1) * (k + 1) <= v { k += 1 }
        halfWidth[dy + r] = k
    }
    // prefix[y * (width + 1) + x]: ones in row y, columns 0 ..< x.
    let stride = width + 1
    var prefix = [Int32](repeating: 0, count: stride * height)
    bits.withUnsafeBufferPointer { src in
        prefix.withUnsafeMutableBufferPointer { p in
            for y in 0..<height {
                var s: Int32 = 0
                for x in 0..<width {
                    s += Int32(src[y * width + x])
                    p[y * stride + x + 1] = s
                }
            }
        }
    }
    var out = [UInt8](repeating: 0, count: width * height)
    prefix.withUnsafeBufferPointer { p in
        halfWidth.withUnsafeBufferPointer { hw in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let dyLow = max(-r, -y), dyHigh = min(r, height - 1 - y)
                    for x in 0..<width {
                        var hit: UInt8 = 0
                        var dy = dyLow
                        while dy <= dyHigh {
                            let k = hw[dy + r]
                            let row = (y + dy) * stride
                            if p[row + min(x + k + 1, width)] - p[row + max(x - k, 0)] > 0 { hit = 1; break }
                            dy += 1
                        }
                        dst[y * width + x] = hit
                    }
                }
            }
        }
    }
    return out
}
