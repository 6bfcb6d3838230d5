/// What the intersection of two boxes is divided by.
public enum OverlapDenominator: Sendable, Hashable {
    /// The union, `areaA + areaB - intersection`: intersection over union (IoU).
    case union
    /// The first box's area: the share of the first box that the second covers (COCO uses it
    /// for crowd regions, with the detection first).
    case firstArea
}

/// How box extents are measured.
public enum PixelConvention: Sendable, Hashable {
    /// Continuous coordinates: a box from `x1` to `x2` is `x2 - x1` wide (cvseg, torchvision,
    /// pycocotools).
    case continuous
    /// Inclusive pixel indices: a box from `x1` to `x2` is `x2 - x1 + 1` wide (the PASCAL VOC
    /// devkit, py-faster-rcnn and the Soft-NMS authors' code).
    case inclusive
}

/// The overlap of two `xyxy` boxes: their intersection divided by the union of their areas (or
/// by the first box's area). This one kernel serves ``Box/iou(_:)``, non-maximum suppression and
/// the COCO, VOC and proposal evaluators, so all of them agree to the last bit on a box pair.
///
/// The steps, in this order (they fix the rounding):
/// 1. `iw = min(a.x2, b.x2) - max(a.x1, b.x1)`, `ih` likewise (`+ 1` each with `.inclusive`);
/// 2. if `iw > 0` and `ih > 0` fail, the boxes do not overlap: the result is `nil`;
/// 3. `inter = iw * ih`;
/// 4. the result is `inter / (areaA + areaB - inter)`, or `inter / areaA` with `.firstArea`.
///
/// The areas come from the caller because the references compute them differently:
/// pycocotools multiplies the file's width and height (not `x2 - x1`), torchvision computes
/// `(x2 - x1) * (y2 - y1)` once per box, the VOC devkit adds 1 to each side (``boxArea(_:_:)``
/// computes the last two).
///
/// Disjoint boxes give `nil` rather than 0 so that each caller keeps its reference's rule:
/// pycocotools leaves 0, torchvision divides 0 by the union (NaN for two zero-area boxes, which
/// then never suppress each other), the VOC devkit divides 0 by the union too.
///
/// - Parameters:
///   - a, b: `(x1, y1, x2, y2)`, pixels; the order matters only for `.firstArea`.
///   - areaA, areaB: the boxes' areas in the same convention.
/// - Returns: the overlap, in [0, 1] for valid boxes; `nil` when the intersection is empty
///   (including touching edges) or a coordinate is NaN.
/// - Complexity: O(1), no allocation; `@inlinable` so that it specialises to `Float` or
///   `Double` in the caller's module.
@inlinable @inline(__always)
public func boxOverlap<T: FloatingPoint>(
    _ a: (x1: T, y1: T, x2: T, y2: T), area areaA: T,
    _ b: (x1: T, y1: T, x2: T, y2: T), area areaB: T,
    denominator: OverlapDenominator = .union,
    pixels: PixelConvention = .continuous
) -> T? {
    var iw = min(a.x2, b.x2) - max(a.x1, b.x1)
    var ih = min(a.y2, b.y2) - max(a.y1, b.y1)
    if pixels == .inclusive {
        iw += 1
        ih += 1
    }
    guard iw > 0, ih > 0 else { return nil }
    let inter = iw * ih
    switch denominator {
    case .union: return inter / (areaA + areaB - inter)
    case .firstArea: return inter / areaA
    }
}

/// `(x2 - x1) * (y2 - y1)`, or `(x2 - x1 + 1) * (y2 - y1 + 1)` with `.inclusive`, unclamped: an
/// inverted box (`x2 < x1`) has a negative or positive area, as in torchvision's `box_area`.
/// ``Box/area`` clamps each side at 0 instead.
@inlinable @inline(__always)
public func boxArea<T: FloatingPoint>(_ b: (x1: T, y1: T, x2: T, y2: T),
                                      _ pixels: PixelConvention = .continuous) -> T {
    switch pixels {
    case .continuous: return (b.x2 - b.x1) * (b.y2 - b.y1)
    case .inclusive: return (b.x2 - b.x1 + 1) * (b.y2 - b.y1 + 1)
    }
}
