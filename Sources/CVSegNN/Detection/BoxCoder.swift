import CVSegCore
import CVSegTensor

#if canImport(Glibc)
import Glibc
#endif

/// The box parametrisation of R-CNN detectors (Girshick et al.): a box is described relative to
/// a base box (an anchor in the RPN, a proposal in the RoI heads) by four deltas
///
///     dx = wx · (cx − cx₀) / w₀     dy = wy · (cy − cy₀) / h₀
///     dw = ww · log(w / w₀)         dh = wh · log(h / h₀)
///
/// where `(cx, cy, w, h)` are the centre and size of the box, the `₀` quantities those of the
/// base, and `(wx, wy, ww, wh)` the ``weights``. Exactly torchvision's `BoxCoder`
/// (`torchvision.models.detection._utils`), in `Float` with its order of operations:
///
/// - Sizes carry no "+1": `w = x2 − x1`, `cx = x1 + 0.5 · w` (cvseg's and torchvision's
///   continuous convention; py-faster-rcnn's `+ 1` is gone).
/// - Decoding divides the deltas by the weights, clamps `dw` and `dh` from above at
///   ``scaleClip`` (log(1000 / 16) by default, so that no box grows more than 62.5× its base in
///   one step and `exp` cannot overflow) and returns `(cx ∓ w/2, cy ∓ h/2)`.
/// - Degenerate bases are not rejected: encoding against a base of zero width gives infinite
///   or NaN deltas, a target of zero width gives `dw = −∞`, an inverted one NaN, as in
///   torchvision; decoding from a zero-width base gives a zero-width box at its centre.
///
/// The RPN uses ``rpn`` (weights 1, 1, 1, 1); the Fast R-CNN box head ``roiHeads`` (10, 10, 5, 5),
/// which scales the targets of the second stage, whose proposals are already close, to about
/// unit variance.
public struct BoxCoder: Sendable, Hashable {
    /// The weights of `dx`, `dy`, `dw`, `dh`.
    public var wx: Float, wy: Float, ww: Float, wh: Float
    /// The largest `dw`, `dh` (after dividing by the weights) that decoding uses.
    public var scaleClip: Float

    /// `log(1000 / 16)` (torchvision's `bbox_xform_clip`), rounded to `Float`.
    public static let defaultScaleClip = Float(log(1000.0 / 16.0))

    /// - Parameters:
    ///   - weights: `(wx, wy, ww, wh)`.
    ///   - scaleClip: the clamp on decoded log-size deltas.
    public init(weights: (Float, Float, Float, Float), scaleClip: Float = BoxCoder.defaultScaleClip) {
        (wx, wy, ww, wh) = weights
        self.scaleClip = scaleClip
    }

    /// The region proposal network's coder: weights (1, 1, 1, 1).
    public static let rpn = BoxCoder(weights: (1, 1, 1, 1))
    /// The Fast R-CNN box head's coder: weights (10, 10, 5, 5).
    public static let roiHeads = BoxCoder(weights: (10, 10, 5, 5))

    /// The deltas that take each base box to its target (torchvision's
    /// `encode_single(reference_boxes: targets, proposals: bases)`): the regression targets.
    ///
    /// - Parameters:
    ///   - targets: `[N]` boxes to describe (the matched ground truth), `xyxy`.
    ///   - bases: `[N]` base boxes (anchors or proposals), `xyxy`.
    /// - Returns: `[N, 4]` rows `(dx, dy, dw, dh)`.
    /// - Throws: `invalidArgument` when the counts differ.
    public func encode(_ targets: [Box], relativeTo bases: [Box]) throws -> Tensor {
        guard targets.count == bases.count else {
            throw CVSegError.invalidArgument("BoxCoder.encode: \(targets.count) targets for \(bases.count) base boxes")
        }
        var out = [Float](repeating: 0, count: 4 * targets.count)
        for (i, (t, b)) in zip(targets, bases).enumerated() {
            let bw = b.x2 - b.x1, bh = b.y2 - b.y1
            let bx = b.x1 + 0.5 * bw, by = b.y1 + 0.5 * bh
            let tw = t.x2 - t.x1, th = t.y2 - t.y1
            let tx = t.x1 + 0.5 * tw, ty = t.y1 + 0.5 * th
            out[4 * i] = wx * (tx - bx) / bw
            out[4 * i + 1] = wy * (ty - by) / bh
            out[4 * i + 2] = ww * logf(tw / bw)
            out[4 * i + 3] = wh * logf(th / bh)
        }
        return Tensor(shape: [targets.count, 4], values: out)
    }

    /// The boxes that `deltas` describe relative to `bases` (torchvision's `decode_single`).
    ///
    /// - Parameters:
    ///   - deltas: `[N, 4K]`: K groups `(dx, dy, dw, dh)` per base box (K = 1 for the RPN, the
    ///     number of classes for a class-specific box head).
    ///   - bases: `[N]` base boxes, `xyxy`.
    /// - Returns: `N · K` boxes, base-major: box `k` of base `i` at `i · K + k`.
    /// - Throws: `invalidArgument` unless `deltas` is `[N, 4K]` with `N = bases.count`.
    public func decode(_ deltas: Tensor, relativeTo bases: [Box]) throws -> [Box] {
        guard deltas.shape.rank == 2, deltas.shape[0] == bases.count, deltas.shape[1] % 4 == 0 else {
            throw CVSegError.invalidArgument(
                "BoxCoder.decode: deltas must be [\(bases.count), 4K] for \(bases.count) base boxes, got \(deltas.shape)")
        }
        return decode(deltas.values, relativeTo: bases)
    }

    /// ``decode(_:relativeTo:)-(Tensor,_)`` on a row-major `[N, 4K]` array.
    /// - Precondition: `deltas.count` is a multiple of `4 · bases.count` (any count when there
    ///   are no bases gives no boxes).
    public func decode(_ deltas: [Float], relativeTo bases: [Box]) -> [Box] {
        guard !bases.isEmpty else { return [] }
        precondition(deltas.count % (4 * bases.count) == 0,
                     "BoxCoder.decode: \(deltas.count) deltas for \(bases.count) base boxes")
        let k = deltas.count / (4 * bases.count)
        var out: [Box] = []
        out.reserveCapacity(bases.count * k)
        for (i, b) in bases.enumerated() {
            let bw = b.x2 - b.x1, bh = b.y2 - b.y1
            let bx = b.x1 + 0.5 * bw, by = b.y1 + 0.5 * bh
            for j in 0..<k {
                let d = 4 * (i * k + j)
                let dx = deltas[d] / wx, dy = deltas[d + 1] / wy
                var dw = deltas[d + 2] / ww, dh = deltas[d + 3] / wh
                // A clamp from above that keeps NaN (torch.clamp propagates it).
                if dw > scaleClip { dw = scaleClip }
                if dh > scaleClip { dh = scaleClip }
                let cx = dx * bw + bx, cy = dy * bh + by
                let halfW = 0.5 * (expf(dw) * bw), halfH = 0.5 * (expf(dh) * bh)
                out.append(Box(x1: cx - halfW, y1: cy - halfH, x2: cx + halfW, y2: cy + halfH))
            }
        }
        return out
    }
}
