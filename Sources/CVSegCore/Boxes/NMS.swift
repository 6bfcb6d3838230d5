#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Greedy non-maximum suppression, exactly as torchvision's CPU `nms` kernel
/// (`torchvision/csrc/ops/cpu/nms_kernel.cpp`): the boxes are visited best score first; a box
/// is kept unless an already kept box overlaps it with IoU *strictly greater* than
/// `iouThreshold`, and every later box that it overlaps by more is dropped.
///
/// Arithmetic is torchvision's, in `Float`: areas `(x2 - x1) * (y2 - y1)` (unclamped), the
/// overlap from ``boxOverlap(_:area:_:area:denominator:pixels:)``, and for boxes that do not
/// intersect `0 / (areaA + areaB)`, as torchvision gets from its clamped intersection. The
/// threshold is a `Double` compared with the `Float` IoU widened to `Double`, as torchvision
/// compares its `float` IoU with the `double` threshold: with `0.3`, an IoU equal to
/// `Float(0.3)` (0.300000012) suppresses, with `0.7` an IoU of `Float(0.7)` (0.699999988) does not.
///
/// - Order: scores descending by a stable sort (torchvision's `sort(stable=true,
///   descending=true)`), so equal scores go in index order. NaN scores sort first, as in
///   PyTorch's sort, where NaN is greater than every number; among themselves in index order.
/// - Degenerate boxes: a zero-area box has IoU 0 with a box of positive area, never suppressing
///   or suppressed by it (at a non-negative threshold); two zero-area boxes, even identical
///   ones, have IoU NaN (0 / 0) and never suppress each other. Inverted boxes (`x2 < x1`) never
///   intersect anything.
/// - Thresholds: IoU lies in [0, 1], so a threshold of 1 or more keeps everything and a
///   negative one keeps the best box plus the boxes whose IoU with every kept box is NaN; a
///   NaN threshold keeps everything. None of these is an error (torchvision accepts them).
/// - Coordinates must be finite: with infinite or NaN coordinates the result is unspecified.
///
/// - Parameters:
///   - boxes: `[N]`, `xyxy`, pixels.
///   - scores: `[N]`, higher is better.
///   - iouThreshold: drop boxes whose IoU with a kept box is greater than this.
/// - Returns: the indices of the kept boxes, best score first (torchvision's `keep`).
/// - Complexity: O(N log N) for the sort plus O(N · K) overlaps, K the number of kept boxes:
///   O(N²) at worst (nothing overlaps). Memory O(N): the boxes are copied into score order,
///   one contiguous `Float` array per coordinate.
/// - Precondition: `boxes.count == scores.count`.
public func nonMaximumSuppression(boxes: [Box], scores: [Float], iouThreshold: Double) -> [Int] {
    precondition(boxes.count == scores.count, "nonMaximumSuppression: \(boxes.count) boxes but \(scores.count) scores")
    return SortedBoxes(boxes.lazy.map { ($0.x1, $0.y1, $0.x2, $0.y2) }, scores: scores).suppress(iouThreshold)
}

/// Class-aware non-maximum suppression: boxes of different classes never suppress each other.
/// Exactly torchvision's `batched_nms` on the CPU, which takes one of two paths:
///
/// - N ≤ 1000 boxes (`boxes.numel() <= 4000`), the coordinate trick: every coordinate of a box
///   of class `c` is shifted by `Float(c) * (m + 1)`, `m` the largest coordinate of all boxes
///   (NaN if any coordinate is NaN), then one ``nonMaximumSuppression(boxes:scores:iouThreshold:)``
///   runs on the shifted boxes. The shift is done in `Float` like torchvision's, so IoUs are
///   those of the shifted boxes (which can differ from the unshifted ones in the last bits when
///   the shift is large), and boxes with negative coordinates can overlap across classes.
///   The result is in NMS order: score descending, ties in index order.
/// - N > 1000, the per-class loop: for each class in ascending order, NMS on that class's boxes
///   (in index order), then the kept indices, ascending, sorted by score descending.
///   torchvision sorts with `sort(descending=True)`, which is not stable (x86-simd-sort or
///   `std::sort` depending on the build), so the order of kept boxes with *equal* scores is
///   unspecified there; here it is index order (NaN scores first). The kept set and the order
///   of distinct scores are torchvision's.
///
/// - Parameters:
///   - boxes: `[N]`, `xyxy`, pixels.
///   - scores: `[N]`.
///   - classes: `[N]`, the class (category) of each box; any integers.
///   - iouThreshold: as in ``nonMaximumSuppression(boxes:scores:iouThreshold:)``.
/// - Returns: the kept indices, best score first.
/// - Complexity: O(N²) at worst, O(Σ N_c²) on the per-class path.
/// - Precondition: the three arrays have the same count.
public func batchedNMS(boxes: [Box], scores: [Float], classes: [Int], iouThreshold: Double) -> [Int] {
    precondition(boxes.count == scores.count && boxes.count == classes.count,
                 "batchedNMS: \(boxes.count) boxes, \(scores.count) scores, \(classes.count) classes")
    if boxes.count > batchedNMSLoopAbove {
        return batchedNMSPerClass(boxes: boxes, scores: scores, classes: classes, iouThreshold: iouThreshold)
    }
    guard !boxes.isEmpty else { return [] }
    // torch.max propagates NaN.
    var largest = boxes[0].x1
    func include(_ v: Float) { if v.isNaN || v > largest { largest = v } }
    for b in boxes where !largest.isNaN {
        include(b.x1); include(b.y1); include(b.x2); include(b.y2)
    }
    let step = largest + 1
    let shifted = zip(boxes, classes).lazy.map { b, c -> (Float, Float, Float, Float) in
        let offset = Float(c) * step
        return (b.x1 + offset, b.y1 + offset, b.x2 + offset, b.y2 + offset)
    }
    return SortedBoxes(shifted, scores: scores).suppress(iouThreshold)
}

/// Above this many boxes torchvision's `batched_nms` runs NMS class by class on the CPU.
public let batchedNMSLoopAbove = 1000

func batchedNMSPerClass(boxes: [Box], scores: [Float], classes: [Int], iouThreshold: Double) -> [Int] {
    var members: [Int: [Int]] = [:]
    for (i, c) in classes.enumerated() { members[c, default: []].append(i) }
    var kept = [Bool](repeating: false, count: boxes.count)
    for c in members.keys.sorted() {
        let indices = members[c]!
        let keep = nonMaximumSuppression(boxes: indices.map { boxes[$0] }, scores: indices.map { scores[$0] },
                                         iouThreshold: iouThreshold)
        for k in keep { kept[indices[k]] = true }
    }
    return scoreOrder(kept.indices.filter { kept[$0] }, scores)
}

/// `indices` sorted by `scores[index]` descending, NaN first, ties by ascending index.
func scoreOrder(_ indices: [Int], _ scores: [Float]) -> [Int] {
    indices.sorted { i, j in
        let a = scores[i], b = scores[j]
        if a.isNaN || b.isNaN { return a.isNaN != b.isNaN ? a.isNaN : i < j }
        return a != b ? a > b : i < j
    }
}

/// Boxes copied into score order, one contiguous array per coordinate (structure of arrays),
/// with torchvision's areas.
struct SortedBoxes {
    var order: [Int]
    var x1: [Float], y1: [Float], x2: [Float], y2: [Float], area: [Float]

    init<S: Sequence>(_ boxes: S, scores: [Float]) where S.Element == (Float, Float, Float, Float) {
        let all = Array(boxes)
        order = scoreOrder(Array(all.indices), scores)
        x1 = order.map { all[$0].0 }
        y1 = order.map { all[$0].1 }
        x2 = order.map { all[$0].2 }
        y2 = order.map { all[$0].3 }
        area = order.map { boxArea(all[$0]) }
    }

    func suppress(_ iouThreshold: Double) -> [Int] {
        let n = order.count
        let threshold = floatThreshold(iouThreshold)
        var keep: [Int] = []
        var suppressed = [Bool](repeating: false, count: n)
        x1.withUnsafeBufferPointer { x1 in y1.withUnsafeBufferPointer { y1 in
        x2.withUnsafeBufferPointer { x2 in y2.withUnsafeBufferPointer { y2 in
        area.withUnsafeBufferPointer { area in suppressed.withUnsafeMutableBufferPointer { suppressed in
            for i in 0..<n where !suppressed[i] {
                keep.append(order[i])
                let a = (x1: x1[i], y1: y1[i], x2: x2[i], y2: y2[i]), areaA = area[i]
                // No skip of already suppressed boxes (torchvision skips them): suppression only
                // ever sets the flag, so the result is the same, and the branch-free loop
                // vectorises (4× faster on 10k boxes).
                for j in (i + 1)..<n {
                    let areaB = area[j]
                    let iou = boxOverlap(a, area: areaA, (x1[j], y1[j], x2[j], y2[j]), area: areaB)
                        ?? 0 / (areaA + areaB)
                    if iou > threshold { suppressed[j] = true }
                }
            }
        }}}}}}
        return keep
    }
}

/// The `Float` `t` with `x > t` ⇔ `Double(x) > threshold` for every `Float` `x`: the threshold
/// rounded down to a `Float` (NaN stays NaN, so nothing is greater).
func floatThreshold(_ threshold: Double) -> Float {
    var t = Float(threshold)
    if Double(t) > threshold { t = t.nextDown }
    return t
}

/// The score decay of ``softNMS(boxes:scores:method:scoreThreshold:pixels:)``.
public enum SoftNMSMethod: Sendable, Hashable {
    /// `s · (1 − IoU)` when IoU > `iouThreshold` (the paper's and the authors' `Nt`, 0.3),
    /// else unchanged.
    case linear(iouThreshold: Float = 0.3)
    /// `s · exp(−IoU² / sigma)` for every overlapping box (the authors' `sigma`, 0.5).
    case gaussian(sigma: Float = 0.5)
}

/// Soft-NMS (Bodla et al.): instead of dropping the boxes that overlap a selected box, decay
/// their scores, and drop a box only when its score falls below `scoreThreshold`. Step for step
/// the authors' `cpu_soft_nms` (bharatsingh430/soft-nms, `lib/nms/cpu_nms.pyx`), in `Float`:
///
/// 1. at step `i`, the box with the highest current score among positions `i…` is selected
///    (the first one in the current order among equal scores; a NaN score at position `i` is
///    selected, NaN elsewhere never is) and swapped into position `i`;
/// 2. every later box that intersects it gets `score *= weight` (the overlap is computed as in
///    ``boxOverlap(_:area:_:area:denominator:pixels:)``, Gaussian weights as `exp` in `Double`
///    rounded to `Float`, like the Cython code's call of `np.exp`);
/// 3. every later box whose score is now below `scoreThreshold` (intersecting or not) is
///    replaced by the last remaining box, and the count shrinks.
///
/// The swaps make the order of equal scores depend on the history, which this function
/// reproduces. As in the reference, the first selected box is kept even when its score is below
/// the threshold, and a NaN score never falls below it.
///
/// Departure: boxes are measured with `pixels`, by default cvseg's continuous convention; the
/// reference code adds 1 to widths and heights, which `.inclusive` reproduces exactly.
///
/// - Parameters:
///   - boxes: `[N]`, `xyxy`, pixels.
///   - scores: `[N]`.
///   - method: the decay; the reference's defaults are `.linear(iouThreshold: 0.3)` and
///     `.gaussian(sigma: 0.5)`.
///   - scoreThreshold: boxes whose decayed score falls below it are dropped (0.001).
///   - pixels: the box convention of the overlap.
/// - Returns: the kept boxes' indices in selection order and their decayed scores.
/// - Complexity: O(N²) time (each step scans the remaining boxes twice), O(N) memory.
/// - Precondition: `boxes.count == scores.count`.
///
/// References: N. Bodla, B. Singh, R. Chellappa, L. S. Davis, "Soft-NMS — Improving Object
/// Detection With One Line of Code", ICCV 2017.
public func softNMS(boxes: [Box], scores: [Float], method: SoftNMSMethod, scoreThreshold: Float = 0.001,
                    pixels: PixelConvention = .continuous) -> (indices: [Int], scores: [Float]) {
    precondition(boxes.count == scores.count, "softNMS: \(boxes.count) boxes but \(scores.count) scores")
    var index = Array(boxes.indices)
    var box = boxes.map { (x1: $0.x1, y1: $0.y1, x2: $0.x2, y2: $0.y2) }
    var score = scores
    var n = boxes.count
    for i in 0..<boxes.count where i < n {
        var best = i
        for p in (i + 1)..<n where score[best] < score[p] { best = p }
        index.swapAt(i, best); box.swapAt(i, best); score.swapAt(i, best)
        let top = box[i], topArea = boxArea(top, pixels)
        var p = i + 1
        while p < n {
            if let iou = boxOverlap(top, area: topArea, box[p], area: boxArea(box[p], pixels), pixels: pixels) {
                let weight: Float
                switch method {
                case .linear(let nt): weight = iou > nt ? 1 - iou : 1
                case .gaussian(let sigma): weight = Float(exp(Double(-(iou * iou) / sigma)))
                }
                score[p] = weight * score[p]
            }
            if score[p] < scoreThreshold {
                n -= 1
                index[p] = index[n]; box[p] = box[n]; score[p] = score[n]
            } else {
                p += 1
            }
        }
    }
    return (Array(index[..<n]), Array(score[..<n]))
}
