import CVSegCore

/// Edge-based segmentation: the regions enclosed by edges.
///
/// The edge mask is first dilated by a 3×3 square (the documented gap-closing step: breaks in an
/// edge of up to 2 pixels close), then the remaining non-edge pixels are labelled as
/// 4-connected components (so a region cannot leak through a diagonal gap). Edge pixels and the
/// band the dilation added get label 0; regions are numbered 1…N in raster order.
///
/// - Parameter edges: a one-channel mask, nonzero on edges (as ``canny(_:sigma:thresholds:norm:edgeValue:)``).
/// - Returns: the label map and the number of regions.
/// - Throws: ``CVSegError/invalidArgument(_:)`` for a mask with more than one channel.
/// - Complexity: O(pixels). Memory: the label map and two byte masks (the 3×3 dilation is
///   computed as row ORs, then column ORs straight into the mask of the pixels to label).
public func edgeRegions(_ edges: Image<UInt8>) throws -> (labels: LabelMap, regions: Int) {
    guard edges.layout == .gray else {
        throw CVSegError.invalidArgument("edge regions need a one-channel edge mask, got \(edges.layout)")
    }
    let (labels, count) = try connectedComponentLabels(farFromEdges(edges), connectivity: .four)
    return (labels, count)
}

/// 1 where no edge pixel lies in the 3×3 window (pixels outside the image are not edges), else 0:
/// the complement of the edges dilated by a 3×3 square.
func farFromEdges(_ edges: Image<UInt8>) -> Image<UInt8> {
    let w = edges.width, h = edges.height, n = w * h
    if n == 0 { return edges }
    var rowsOr = [UInt8](repeating: 0, count: n)
    edges.samples.withUnsafeBufferPointer { eb in
        rowsOr.withUnsafeMutableBufferPointer { rb in
            guard let e = eb.baseAddress, let r = rb.baseAddress else { return }
            for y in 0..<h {
                let s = e + y * w, d = r + y * w
                for shift in -1...1 {
                    let lo = max(0, -shift), hi = min(w, w - shift)
                    if lo >= hi { continue }
                    for x in lo..<hi { d[x] |= s[x + shift] }
                }
            }
        }
    }
    let inside = [UInt8](unsafeUninitializedCapacity: n) { ob, initialized in
        rowsOr.withUnsafeBufferPointer { rb in
            guard let r = rb.baseAddress, let o = ob.baseAddress else { return }
            for y in 0..<h {
                let up = r + max(y - 1, 0) * w, mid = r + y * w, down = r + min(y + 1, h - 1) * w, d = o + y * w
                for x in 0..<w { d[x] = (up[x] | mid[x] | down[x]) == 0 ? 1 : 0 }
            }
        }
        initialized = n
    }
    return Image(width: w, height: h, layout: .gray, samples: inside)
}
