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
/// - Complexity: O(pixels). Memory: the label map and the mask of the pixels to label (the 3×3
///   dilation is computed as row ORs in a ring of three rows, then column ORs straight into
///   that mask); the edge mask is released before labelling when the caller passes a temporary.
public func edgeRegions(_ edges: consuming Image<UInt8>) throws -> (labels: LabelMap, regions: Int) {
    guard edges.layout == .gray else {
        throw CVSegError.invalidArgument("edge regions need a one-channel edge mask, got \(edges.layout)")
    }
    let inside = farFromEdges(edges)
    _ = consume edges // the edge mask is not needed while labelling (a caller's temporary is freed)
    let (labels, count) = try connectedComponentLabels(inside, connectivity: .four)
    return (labels, count)
}

/// 1 where no edge pixel lies in the 3×3 window (pixels outside the image are not edges), else 0:
/// the complement of the edges dilated by a 3×3 square.
func farFromEdges(_ edges: Image<UInt8>) -> Image<UInt8> {
    let w = edges.width, h = edges.height, n = w * h
    if n == 0 { return edges }
    // Row ORs (each pixel with its left and right neighbour) for three rows at a time.
    let ring = UnsafeMutablePointer<UInt8>.allocate(capacity: 3 * w)
    defer { ring.deallocate() }
    var ringRow = [-1, -1, -1]
    let inside = [UInt8](unsafeUninitializedCapacity: n) { ob, initialized in
        edges.samples.withUnsafeBufferPointer { eb in
            guard let e = eb.baseAddress, let o = ob.baseAddress else { return }
            func rowOr(_ y: Int) -> UnsafePointer<UInt8> {
                let d = ring + (y % 3) * w
                if ringRow[y % 3] != y {
                    let s = e + y * w
                    d.initialize(repeating: 0, count: w)
                    for shift in -1...1 {
                        let lo = max(0, -shift), hi = min(w, w - shift)
                        if lo >= hi { continue }
                        for x in lo..<hi { d[x] |= s[x + shift] }
                    }
                    ringRow[y % 3] = y
                }
                return UnsafePointer(d)
            }
            for y in 0..<h {
                let up = rowOr(max(y - 1, 0)), mid = rowOr(y), down = rowOr(min(y + 1, h - 1)), d = o + y * w
                for x in 0..<w { d[x] = (up[x] | mid[x] | down[x]) == 0 ? 1 : 0 }
            }
        }
        initialized = n
    }
    return Image(width: w, height: h, layout: .gray, samples: inside)
}
