import CVSegCore

extension PlanarImage {
    /// Area averaging (OpenCV's `INTER_AREA` when shrinking): output pixel `(x, y)` is the mean
    /// of the input over the rectangle `[x·sx, (x+1)·sx) × [y·sy, (y+1)·sy)` (`s = in / out`),
    /// pixels cut by its edges weighted by the part inside. Used when both sides shrink, so a
    /// large photograph brought down to a network's input size keeps its detail instead of
    /// aliasing as plain bilinear sampling would; for any side that grows it is bilinear
    /// (``resized(width:height:)``).
    public func resizedForNetwork(width outW: Int, height outH: Int) -> PlanarImage {
        precondition(outW > 0 && outH > 0, "size \(outW)x\(outH)")
        if outW == width && outH == height { return self }
        guard outW <= width, outH <= height else { return resized(width: outW, height: outH) }
        let tx = Self.areaTaps(width, outW), ty = Self.areaTaps(height, outH)
        var out = [Float](repeating: 0, count: 3 * outW * outH)
        var rows = [Float](repeating: 0, count: height * outW)
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                rows.withUnsafeMutableBufferPointer { r in
                    for c in 0..<3 {
                        for y in 0..<height {
                            let line = src.baseAddress! + (c * height + y) * width, o = r.baseAddress! + y * outW
                            for (x, taps) in tx.enumerated() {
                                var sum: Float = 0
                                for t in taps { sum += t.weight * line[t.index] }
                                o[x] = sum
                            }
                        }
                        for (y, taps) in ty.enumerated() {
                            let o = dst.baseAddress! + (c * outH + y) * outW
                            for t in taps {
                                let row = r.baseAddress! + t.index * outW
                                for x in 0..<outW { o[x] += t.weight * row[x] }
                            }
                        }
                    }
                }
            }
        }
        return PlanarImage(width: outW, height: outH, values: out)
    }

    /// For each output index, the input indices it covers and their weights (summing to 1).
    static func areaTaps(_ inSize: Int, _ outSize: Int) -> [[(index: Int, weight: Float)]] {
        let scale = Double(inSize) / Double(outSize)
        return (0..<outSize).map { d in
            let a = Double(d) * scale, b = min(Double(d + 1) * scale, Double(inSize))
            var taps: [(index: Int, weight: Float)] = []
            var i = Int(a.rounded(.down))
            while Double(i) < b && i < inSize {
                let overlap = min(Double(i + 1), b) - max(Double(i), a)
                if overlap > 1e-12 { taps.append((i, Float(overlap / scale))) }
                i += 1
            }
            return taps
        }
    }
}

/// The size whose longer side is `longer`, keeping the aspect ratio (the shorter side rounded,
/// at least 1): the scale at which networks are trained and run.
public func sizeWithLongerSide(width: Int, height: Int, longer: Int) -> (width: Int, height: Int) {
    let long = max(width, height, 1)
    func scaled(_ side: Int) -> Int { max(1, Int((Double(side) * Double(longer) / Double(long)).rounded())) }
    return width >= height ? (longer, scaled(height)) : (scaled(width), longer)
}
