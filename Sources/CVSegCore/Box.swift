/// An axis-aligned box in pixel coordinates, `xyxy`: `(x1, y1)` the top-left corner and
/// `(x2, y2)` the bottom-right, with `x1 <= x2`, `y1 <= y2` (as torchvision's `boxes` tensors).
/// Width is `x2 - x1` (no "+1" as in the old VOC devkit).
public struct Box: Sendable, Equatable, Hashable {
    public var x1: Float, y1: Float, x2: Float, y2: Float

    public init(x1: Float, y1: Float, x2: Float, y2: Float) {
        self.x1 = x1; self.y1 = y1; self.x2 = x2; self.y2 = y2
    }

    /// A box from its top-left corner and size (COCO's `[x, y, w, h]`).
    public init(x: Float, y: Float, width: Float, height: Float) {
        self.init(x1: x, y1: y, x2: x + width, y2: y + height)
    }

    public var width: Float { x2 - x1 }
    public var height: Float { y2 - y1 }
    /// Area, zero for degenerate boxes.
    public var area: Float { max(0, x2 - x1) * max(0, y2 - y1) }

    /// Intersection over union with `other` (``boxOverlap(_:area:_:area:denominator:pixels:)``
    /// with the clamped ``area``); 0 for boxes that do not overlap, and for the degenerate pairs
    /// whose union is not positive.
    public func iou(_ other: Box) -> Float {
        guard let r = boxOverlap((x1, y1, x2, y2), area: area, (other.x1, other.y1, other.x2, other.y2),
                                 area: other.area),
              r > 0, r.isFinite else { return 0 }
        return r
    }
}
