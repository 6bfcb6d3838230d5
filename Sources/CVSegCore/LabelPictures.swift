extension ColorMap {
    /// The display colour of `label`: PASCAL VOC's colour map for 0…255 (so 0 is black and 1
    /// dark red, as in every VOC tool), and for other labels a colour hashed from the label
    /// (SplitMix64 finaliser; each channel in 64…255 so that none is near black), so any number of
    /// regions get stable, mostly distinct colours.
    @inlinable
    public static func color(forLabel label: Int32) -> RGBA {
        if (0...255).contains(label) { return pascalVOC[Int(label)] }
        var mixer = SplitMix64(state: UInt64(bitPattern: Int64(label)))
        let z = mixer.next()
        @inline(__always) func channel(_ shift: UInt64) -> UInt8 { UInt8(64 + (z >> shift) % 192) }
        return RGBA(channel(0), channel(16), channel(32))
    }
}

/// Pictures of label maps for people: colours per label, mean colours, boundaries.
public enum LabelPictures {
    /// Each pixel in its label's ``ColorMap/color(forLabel:)`` (8-bit RGB).
    /// - Complexity: O(pixels).
    public static func colors(_ labels: LabelMap) -> Image<UInt8> {
        var out = [UInt8](repeating: 0, count: labels.labels.count * 3)
        for (i, label) in labels.labels.enumerated() {
            let c = ColorMap.color(forLabel: label)
            out[3 * i] = c.r; out[3 * i + 1] = c.g; out[3 * i + 2] = c.b
        }
        return Image(width: labels.width, height: labels.height, layout: .rgb, samples: out)
    }

    /// Each region painted with the mean colour of its pixels in `image` (8-bit RGB; gray images
    /// give gray pictures), truncated to an integer: exactly scikit-image's `label2rgb(kind="avg",
    /// bg_label=-1)` on an 8-bit image (whose output keeps the input's integer type); every
    /// label, 0 included, gets its mean.
    /// - Complexity: O(pixels).
    public static func meanColors(_ labels: LabelMap, image: Image<UInt8>) -> Image<UInt8> {
        precondition(image.width == labels.width && image.height == labels.height, "meanColors: size mismatch")
        let (dense, count) = denseIndices(labels.labels)
        var sums = [Double](repeating: 0, count: count * 3), sizes = [Int](repeating: 0, count: count)
        let n = image.channels, gray = image.layout.isGray
        @inline(__always) func rgb(_ i: Int) -> (UInt8, UInt8, UInt8) {
            gray ? (image.samples[i * n], image.samples[i * n], image.samples[i * n])
                 : (image.samples[i * n], image.samples[i * n + 1], image.samples[i * n + 2])
        }
        for i in 0..<dense.count {
            let k = dense[i], (r, g, b) = rgb(i)
            sums[3 * k] += Double(r); sums[3 * k + 1] += Double(g); sums[3 * k + 2] += Double(b)
            sizes[k] += 1
        }
        var means = [UInt8](repeating: 0, count: count * 3)
        for k in 0..<count where sizes[k] > 0 {
            for c in 0..<3 { means[3 * k + c] = UInt8(sums[3 * k + c] / Double(sizes[k])) }
        }
        var out = [UInt8](repeating: 0, count: dense.count * 3)
        for i in 0..<dense.count {
            let k = dense[i]
            out[3 * i] = means[3 * k]; out[3 * i + 1] = means[3 * k + 1]; out[3 * i + 2] = means[3 * k + 2]
        }
        return Image(width: labels.width, height: labels.height, layout: .rgb, samples: out)
    }

    /// Pixels with a 4-neighbour of another label: scikit-image's
    /// `find_boundaries(labels, mode="thick")` (both sides of every boundary).
    /// - Complexity: O(pixels).
    public static func findBoundaries(_ labels: LabelMap) -> [Bool] {
        let (w, h) = (labels.width, labels.height)
        var out = [Bool](repeating: false, count: w * h)
        labels.labels.withUnsafeBufferPointer { l in
            for y in 0..<h {
                for x in 0..<w {
                    let i = y * w + x, v = l[i]
                    if (x > 0 && l[i - 1] != v) || (x + 1 < w && l[i + 1] != v)
                        || (y > 0 && l[i - w] != v) || (y + 1 < h && l[i + w] != v) {
                        out[i] = true
                    }
                }
            }
        }
        return out
    }

    /// `image` (8-bit RGB) with ``findBoundaries(_:)`` painted yellow (255, 255, 0), as
    /// scikit-image's `mark_boundaries(image, labels, mode="thick")`.
    /// - Complexity: O(pixels).
    public static func boundaries(_ labels: LabelMap, on image: Image<UInt8>) -> Image<UInt8> {
        precondition(image.width == labels.width && image.height == labels.height, "boundaries: size mismatch")
        let marks = findBoundaries(labels)
        let n = image.channels, gray = image.layout.isGray
        var out = [UInt8](repeating: 0, count: marks.count * 3)
        for i in 0..<marks.count {
            if marks[i] {
                out[3 * i] = 255; out[3 * i + 1] = 255; out[3 * i + 2] = 0
            } else if gray {
                let v = image.samples[i * n]; out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v
            } else {
                for c in 0..<3 { out[3 * i + c] = image.samples[i * n + c] }
            }
        }
        return Image(width: image.width, height: image.height, layout: .rgb, samples: out)
    }

    /// Labels renumbered 0, 1, … in order of first appearance, and their count.
    static func denseIndices(_ labels: [Int32]) -> ([Int], Int) {
        if let lo = labels.min(), let hi = labels.max(), lo >= 0, Int(hi) < 4 * labels.count + 1024 {
            var map = [Int](repeating: -1, count: Int(hi) + 1), next = 0
            let dense = labels.map { label -> Int in
                if map[Int(label)] < 0 { map[Int(label)] = next; next += 1 }
                return map[Int(label)]
            }
            return (dense, next)
        }
        var map: [Int32: Int] = [:]
        let dense = labels.map { label -> Int in
            if let k = map[label] { return k }
            map[label] = map.count
            return map.count - 1
        }
        return (dense, map.count)
    }
}
