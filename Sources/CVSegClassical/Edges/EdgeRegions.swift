import CVSegCore

/// Edge-based segmentation: the regions enclosed by edges.
///
/// The edge mask is first dilated by a 3×3 square (the documented gap-closing step: breaks in an
/// edge of up to 2 pixels close), then the remaining non-edge pixels are labelled as
/// 4-connected components (so a region cannot leak through a diagonal gap). Edge pixels and the
/// band the dilation added get label 0; regions are numbered 1…N in raster order.
///
/// - Parameter edges: a mask, nonzero on edges (as ``canny(_:sigma:thresholds:norm:edgeValue:)``).
/// - Returns: the label map and the number of regions.
/// - Complexity: O(pixels).
public func edgeRegions(_ edges: Image<UInt8>) throws -> (labels: LabelMap, regions: Int) {
    let closed = try binaryDilation(edges, element: .square(3))
    let inside = closed.mapSamples { $0 == 0 ? UInt8(1) : 0 }
    let (labels, stats) = try connectedComponents(inside, connectivity: .four)
    return (labels, stats.count)
}
