#!/usr/bin/env python3
"""torchvision reference values for cvseg's detection building blocks (Sources/CVSegNN/Detection/,
tested by Tests/CVSegNNTests/DetectionBlocksTests.swift).

Writes Tests/CVSegNNTests/Fixtures/detection.json with five sections, each computed by
torchvision 0.29 itself (CPU, float32):

  box_coder  `torchvision.models.detection._utils.BoxCoder`: `encode_single(targets, bases)` and
             `decode_single(deltas, bases)` with the RPN weights (1, 1, 1, 1) and the RoI-head
             weights (10, 10, 5, 5), the default clip log(1000 / 16); seeded random boxes,
             deltas of several classes per row ([N, 4K]), deltas on and past the clip, very
             negative size deltas, and degenerate bases and targets (zero width or height,
             inverted), whose encodings are infinite or NaN as torchvision's are.
  anchors    `AnchorGenerator`: the cell anchors of each level and the anchors of a whole
             image (`forward` on an ImageList with one image), single level and FPN-like, odd
             sizes whose halves end in .5 (torch.round rounds half to even), an image size that
             the feature size does not divide (stride = image // feature).
  matcher    `box_ops.box_iou` of ground truth x predictions and `Matcher(high, low,
             allow_low_quality_matches)` on it: RPN (0.7, 0.3, True), RoI heads (0.5, 0.5,
             False) and (0.7, 0.3, False); random boxes, a hand-made case with ties (two GT with
             the same best IoU for a prediction; two predictions sharing a GT's best IoU), IoUs
             exactly float32(0.7) and float32(0.3), a GT that overlaps nothing, and zero-area
             boxes whose IoU is 0 / 0 = NaN.
  sampler    `BalancedPositiveNegativeSampler`: how many positives and negatives it selects
             (torch.randperm decides which; cvseg cannot reproduce that, so only the counts and
             the label sets are compared).
  proposals  `RegionProposalNetwork.filter_proposals` (eval mode) for one image: anchors from
             `AnchorGenerator` (the fixture keeps its parameters; the Swift test builds them
             with cvseg's generator, checked in `anchors`), objectness logits and deltas, the
             resulting boxes and scores, and the anchor each proposal came from. The anchor
             indices are not something torchvision returns: the script replays the same steps
             (top-N per level, decode, sigmoid, clip, remove_small_boxes, score threshold,
             batched_nms, post-NMS top-N) with torchvision's functions while following the
             indices, and checks that the replay gives filter_proposals' boxes and scores
             bit for bit. Cases: one level, two levels, min_size 16 and a score threshold,
             probabilities that tie at 1.0 (logits >= 17: NMS keeps them in top-k order,
             i.e. by logit), boxes pushed outside the image, and 2550 anchors with
             pre_nms_top_n 2000 (more than 1000 boxes reach batched_nms, its per-class path).

Ties that torchvision leaves unspecified are kept out of the fixture and checked: no two logits
of one level are equal (torch.topk orders equal values arbitrarily), and on batched_nms's
per-class path no two kept scores are equal (its final sort is not stable).

Numbers: inputs are float32 values written as the shortest decimal that reads back (as a double
rounded to float32) to the same float32; NaN is null, infinities are the strings "inf" and
"-inf". Outputs likewise. Seeded (numpy.random.default_rng), no clocks: a rerun rewrites an
identical file.

Cross-checks (non-zero exit on failure): BoxCoder in float64 against the float32 results
(relative 1e-5; the tests compare at 1e-4), anchors against a numpy transcription (exact),
the matcher against a plain-Python transcription (exact), the proposal replay (exact), and the
sampler counts against min(#pos, int(batch * fraction)), min(#neg, batch - num_pos).

Run: $(scripts/torch-env)/bin/python scripts/reference/detection_reference.py
"""
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torchvision
from torchvision.models.detection._utils import BalancedPositiveNegativeSampler, BoxCoder, Matcher
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead
from torchvision.ops import boxes as box_ops

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "CVSegNNTests" / "Fixtures" / "detection.json"
F32 = np.float32
torch.set_num_threads(1)
rng = np.random.default_rng(20240917)
FAILURES = []
CLIP = math.log(1000.0 / 16)


def check(condition, what):
    if not condition:
        FAILURES.append(what)
        print("FAILED:", what, file=sys.stderr)


# ---------------------------------------------------------------- number formatting

def num(x):
    """Shortest decimal that reads back (double, then float32) to x; NaN -> None, ±inf -> "inf"."""
    x = F32(x)
    if np.isnan(x):
        return None
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    s = np.format_float_positional(x, unique=True, trim="-")
    if F32(np.float64(s)) != x:
        s = repr(float(x))
    assert F32(np.float64(s)) == x
    v = float(s)
    return int(v) if v.is_integer() and abs(v) < 2**53 else v


def nums(t):
    return [num(v) for v in np.asarray(t, dtype=F32).reshape(-1)]


def rows(t):
    a = np.asarray(t, dtype=F32)
    return [nums(r) for r in a.reshape(-1, a.shape[-1])] if a.size else []


def f32(values, decimals=None):
    a = np.asarray(values, dtype=np.float64)
    if decimals is not None:
        a = np.round(a, decimals)
    return a.astype(F32)


def random_boxes(n, width, height, min_side=2.0, max_frac=0.6, decimals=2):
    """Boxes with their top-left in [-10% , 100%) of the image, sides in [min_side, max_frac * size]."""
    x1 = rng.uniform(-0.1 * width, width, n)
    y1 = rng.uniform(-0.1 * height, height, n)
    w = rng.uniform(min_side, max_frac * width, n)
    h = rng.uniform(min_side, max_frac * height, n)
    return f32(np.stack([x1, y1, x1 + w, y1 + h], 1), decimals)


def jitter(boxes, amount, decimals=2):
    b = boxes.astype(np.float64)
    w = (b[:, 2] - b[:, 0])[:, None]
    h = (b[:, 3] - b[:, 1])[:, None]
    scale = np.concatenate([w, h, w, h], 1)
    return f32(b + rng.normal(0, amount, b.shape) * scale, decimals)


# ---------------------------------------------------------------- BoxCoder

def coder_case(name, weights, bases, targets, deltas):
    coder = BoxCoder(weights)
    tb, tt, td = torch.from_numpy(bases), torch.from_numpy(targets), torch.from_numpy(deltas)
    encoded = coder.encode_single(tt, tb)
    decoded = coder.decode_single(td, tb)
    # float64: how far float32 rounding alone moves the finite results (relative).
    enc64 = coder.encode_single(tt.double(), tb.double())
    dec64 = coder.decode_single(td.double(), tb.double())
    # Relative to the largest magnitude in the row (a coordinate near 0 computed as the
    # difference of two large terms carries their rounding error).
    worst = 0.0
    for a, b in ((encoded, enc64), (decoded, dec64.reshape(-1, 4))):
        a, b = a.double().reshape(-1, 4), b.reshape(-1, 4)
        finite = torch.isfinite(a) & torch.isfinite(b)
        scale = torch.where(torch.isfinite(b), b.abs(), 0).amax(1, keepdim=True).clamp(min=1)
        if finite.any():
            rel = ((a - b).abs() / scale)[finite].max().item()
            worst = max(worst, rel)
    check(worst <= 1e-5, f"box_coder {name}: float32 vs float64 {worst:.3g}")
    # Round trip on the finite rows: decode(encode(t)) ~ t.
    back = coder.decode_single(enc64, tb.double())
    ok = torch.isfinite(enc64).all(1)
    if ok.any():
        err = ((back - tt.double()).abs()[ok]).max().item()
        check(err < 1e-6 * max(1.0, tt.abs().max().item()), f"box_coder {name}: round trip {err:.3g}")
    return {"name": name, "weights": list(weights), "bases": rows(bases), "targets": rows(targets),
            "encoded": rows(encoded.numpy()),
            "deltas": {"shape": list(deltas.shape), "values": nums(deltas)},
            "decoded": rows(decoded.numpy().reshape(-1, 4)), "f64_diff": float(f"{worst:.3g}")}


def box_coder_cases():
    cases = []
    bases = random_boxes(40, 200, 150)
    targets = jitter(bases, 0.3)
    deltas = f32(rng.normal(0, 0.6, (40, 4)), 3)
    deltas[0, 2:] = [CLIP, CLIP]               # exactly the clip (float32(log(1000/16)))
    deltas[1, 2:] = [CLIP + 1e-3, 4.2]         # past it
    deltas[2, 2:] = [8.0, 30.0]
    deltas[3, 2:] = [-12.0, -30.0]             # exp(-30) * w: nearly zero size
    deltas[4, :2] = [5.0, -7.5]
    cases.append(coder_case("rpn_random", (1.0, 1.0, 1.0, 1.0), bases, targets, deltas))

    bases = random_boxes(30, 640, 480)
    targets = jitter(bases, 0.2)
    deltas = f32(rng.normal(0, 2.0, (30, 12)), 3)   # three classes per row
    deltas[0, 2:4] = [5 * CLIP, 5 * CLIP + 0.01]
    deltas[1, 6:8] = [60.0, -60.0]
    deltas[2, 8:12] = [40.0, -40.0, 25.0, 25.0]
    cases.append(coder_case("roi_random_3_classes", (10.0, 10.0, 5.0, 5.0), bases, targets, deltas))

    # Degenerate boxes: zero width, zero height, zero area, inverted, huge, negative coordinates.
    bases = f32([[10, 10, 10, 30], [5, 5, 25, 5], [7, 7, 7, 7], [30, 40, 20, 10], [-20, -15, 4, 3],
                 [0, 0, 1e4, 8e3], [2.5, 3.5, 3.25, 3.75], [10, 10, 30, 30], [10, 10, 30, 30],
                 [10, 10, 30, 30]])
    targets = f32([[12, 11, 18, 29], [6, 4, 20, 9], [7, 7, 7, 7], [25, 15, 35, 45], [-3, -2, -1, 1],
                   [100, 50, 9000, 7000], [2.5, 3.5, 3.5, 4.0], [15, 15, 15, 25], [20, 20, 10, 10],
                   [-5, -5, 45, 45]])
    deltas = f32([[0.5, -0.5, 0.2, -0.2], [1, 1, 1, 1], [0, 0, 3, 3], [0.1, 0.2, 0.3, 0.4],
                  [-1, 2, -3, 4], [0.01, -0.01, 0.001, -0.001], [0, 0, 0, 0], [0, 0, 100, 100],
                  [0, 0, -100, -100], [3, -3, CLIP, -CLIP]])
    cases.append(coder_case("degenerate_rpn", (1.0, 1.0, 1.0, 1.0), bases, targets, deltas))
    cases.append(coder_case("degenerate_roi", (10.0, 10.0, 5.0, 5.0), bases, targets, deltas))
    return cases


# ---------------------------------------------------------------- anchors

def numpy_cell_anchors(sizes, ratios):
    s = np.asarray(sizes, F32)
    r = np.asarray(ratios, F32)
    h = np.sqrt(r)
    w = F32(1) / h
    ws = (w[:, None] * s[None, :]).reshape(-1)
    hs = (h[:, None] * s[None, :]).reshape(-1)
    return np.round(np.stack([-ws, -hs, ws, hs], 1) / F32(2))   # np.round: half to even


def anchor_case(name, sizes, ratios, image, features):
    gen = AnchorGenerator(tuple(tuple(s) for s in sizes), tuple(tuple(r) for r in ratios))
    images = ImageList(torch.zeros(1, 3, *image), [tuple(image)])
    fmaps = [torch.zeros(1, 1, h, w) for h, w in features]
    anchors = gen(images, fmaps)[0]
    cells = [c.numpy() for c in gen.cell_anchors]
    # numpy transcription
    expect = []
    for (fh, fw), sz, rt in zip(features, sizes, ratios):
        base = numpy_cell_anchors(sz, rt)
        sy, sx = image[0] // fh, image[1] // fw
        ys, xs = np.meshgrid(np.arange(fh) * sy, np.arange(fw) * sx, indexing="ij")
        shifts = np.stack([xs, ys, xs, ys], -1).reshape(-1, 1, 4).astype(F32)
        expect.append((shifts + base[None]).reshape(-1, 4))
    expect = np.concatenate(expect)
    check(np.array_equal(expect, anchors.numpy()), f"anchors {name}: numpy transcription")
    for c, (sz, rt) in zip(cells, zip(sizes, ratios)):
        check(np.array_equal(c, numpy_cell_anchors(sz, rt)), f"anchors {name}: cell anchors")
    return {"name": name, "sizes": sizes, "aspect_ratios": ratios, "image_size": list(image),
            "feature_sizes": [list(f) for f in features],
            "cell_anchors": [rows(c) for c in cells], "anchors": rows(anchors.numpy())}, anchors


def anchor_cases():
    return [
        anchor_case("default_single_level", [[128, 256, 512]], [[0.5, 1.0, 2.0]], (96, 128), [(6, 8)])[0],
        anchor_case("fpn_three_levels", [[32], [64], [128]], [[0.5, 1.0, 2.0]] * 3, (32, 48),
                    [(8, 12), (4, 6), (2, 3)])[0],
        # Halves ending in .5: size 5 at ratio 1 -> 2.5 -> 2, size 7 -> 3.5 -> 4 (half to even).
        anchor_case("odd_sizes_rounding", [[5, 7, 9, 33]], [[0.25, 0.5, 1.0, 1.7, 3.0, 4.0]], (20, 30),
                    [(2, 3)])[0],
        # 100 // 7 = 14, 150 // 9 = 16: the last anchors stop short of the image edge.
        anchor_case("stride_not_dividing", [[16, 40]], [[0.7, 1.3]], (100, 150), [(7, 9)])[0],
    ]


# ---------------------------------------------------------------- matcher

def python_matcher(q, high, low, allow_low):
    """Plain-Python transcription: first maximum per column (NaN wins, first NaN), thresholds in
    float32, then for every GT every prediction at its (NaN-propagating) row maximum, ties
    included, gets its column's best GT back."""
    m, n = q.shape
    best, arg = [], []
    for j in range(n):
        v, k = q[0, j], 0
        for i in range(1, m):
            if np.isnan(v):
                break
            if np.isnan(q[i, j]) or q[i, j] > v:
                v, k = q[i, j], i
        best.append(v)
        arg.append(k)
    hi, lo = F32(high), F32(low)
    out = []
    for v, k in zip(best, arg):
        out.append(-1 if v < lo else (-2 if v < hi else k))
    if allow_low:
        for i in range(m):
            row = q[i]
            top = row[0]
            for v in row[1:]:
                if np.isnan(top):
                    break
                if np.isnan(v) or v > top:
                    top = v
            for j in range(n):
                if row[j] == top:
                    out[j] = arg[j]
    return out


def matcher_case(name, gt, pred, settings):
    iou = box_ops.box_iou(torch.from_numpy(gt), torch.from_numpy(pred))
    runs = []
    for high, low, allow in settings:
        matches = Matcher(high, low, allow)(iou.clone()).tolist()
        check(matches == python_matcher(iou.numpy(), high, low, allow), f"matcher {name} {high} {low} {allow}")
        runs.append({"high": high, "low": low, "allow_low_quality_matches": allow, "matches": matches})
    return {"name": name, "ground_truth": rows(gt), "predictions": rows(pred), "iou": nums(iou.numpy()),
            "runs": runs}


SETTINGS = [(0.7, 0.3, True), (0.5, 0.5, False), (0.7, 0.3, False)]


def matcher_cases():
    gt = random_boxes(6, 300, 200, min_side=20, max_frac=0.4)
    pred = np.concatenate([jitter(np.repeat(gt, 6, 0), 0.15), random_boxes(24, 300, 200, min_side=5)])
    cases = [matcher_case("random", gt, pred, SETTINGS)]
    # Hand-made:
    #  gt0 (0,0,10,10): p0 IoU 0.7 exactly (float32), p1 IoU 0.3 exactly, p2 identical (1.0).
    #  gt1 and gt2 identical: p3 has the same IoU with both (first GT wins the column).
    #  gt3 best IoU 0.25 shared by p4 and p5 (ties: both get low-quality matches).
    #  p6 overlaps nothing at all.
    # "gt_without_overlap" adds gt4, which overlaps nothing: its row maximum is 0, so with
    # allow_low_quality_matches every prediction (IoU 0 with it) is "at its maximum" and gets
    # its own column's best GT back, even p6, whose best is GT 0 with IoU 0.
    gt = f32([[0, 0, 10, 10], [100, 100, 140, 120], [100, 100, 140, 120], [200, 0, 240, 40],
              [500, 500, 510, 510]])
    pred = f32([[0, 0, 10, 7], [0, 0, 10, 3], [0, 0, 10, 10], [100, 100, 140, 110],
                [200, 0, 220, 20], [220, 20, 240, 40], [900, 900, 950, 950], [0, 0, 20, 10],
                [105, 95, 145, 125]])
    more = SETTINGS + [(0.7, 0.7, True), (0.25, 0.1, False)]
    cases.append(matcher_case("hand_ties_thresholds", gt[:4], pred, more))
    cases.append(matcher_case("gt_without_overlap", gt, pred, more))
    # Zero-area boxes: a zero-area GT against a zero-area prediction is 0 / 0 = NaN (the column
    # maximum propagates it, the first NaN when there are several, even after a larger number;
    # NaN compares false with both thresholds, so the prediction keeps that GT index); a
    # zero-area prediction against a normal GT is 0.
    gt = f32([[0, 0, 20, 20], [5, 5, 5, 5], [30, 30, 30, 40]])
    pred = f32([[5, 5, 5, 5], [1, 1, 19, 19], [8, 8, 8, 12], [30, 30, 30, 40], [0, 0, 20, 20], [25, 25, 26, 26]])
    cases.append(matcher_case("degenerate_nan", gt, pred, SETTINGS))
    return cases


# ---------------------------------------------------------------- sampler

def sampler_cases():
    out = []
    torch.manual_seed(7)
    for name, n_pos, n_neg, n_ign, batch, frac in [
        ("rpn_plenty", 300, 2000, 500, 256, 0.5),
        ("rpn_few_positives", 20, 2000, 100, 256, 0.5),
        ("roi_quarter", 100, 900, 0, 512, 0.25),
        ("few_negatives", 400, 30, 10, 256, 0.5),
        ("fraction_truncates", 50, 50, 5, 7, 0.3),
        ("nothing", 0, 0, 12, 16, 0.5),
    ]:
        labels = np.array([1] * n_pos + [0] * n_neg + [-1] * n_ign)
        labels[: n_pos // 3] = 3           # class labels >= 1 are positives too
        labels = labels[rng.permutation(len(labels))]
        pos, neg = BalancedPositiveNegativeSampler(batch, frac)([torch.from_numpy(labels)])
        npos, nneg = int(pos[0].sum()), int(neg[0].sum())
        want_pos = min(n_pos, int(batch * frac))
        check((npos, nneg) == (want_pos, min(n_neg, batch - want_pos)), f"sampler {name} counts")
        check(bool((labels[pos[0].bool().numpy()] >= 1).all()) and bool((labels[neg[0].bool().numpy()] == 0).all()),
              f"sampler {name} sets")
        out.append({"name": name, "batch_size_per_image": batch, "positive_fraction": frac,
                    "labels": labels.tolist(), "num_positive": npos, "num_negative": nneg})
    return out


# ---------------------------------------------------------------- proposals

def replay(anchors, logits, deltas, per_level, image, pre, post, nms_t, min_size, score_t):
    """filter_proposals step by step with torchvision's functions, following anchor indices."""
    coder = BoxCoder((1.0, 1.0, 1.0, 1.0))
    idx, lvl, off = [], [], 0
    for level, n in enumerate(per_level):
        top = logits[off:off + n].topk(min(pre, n))[1] + off
        idx.append(top)
        lvl.append(torch.full((len(top),), level, dtype=torch.int64))
        off += n
    idx, lvl = torch.cat(idx), torch.cat(lvl)
    boxes = coder.decode_single(deltas[idx], anchors[idx])
    scores = torch.sigmoid(logits[idx])
    boxes = box_ops.clip_boxes_to_image(boxes, image)
    keep = box_ops.remove_small_boxes(boxes, min_size)
    boxes, scores, lvl, idx = boxes[keep], scores[keep], lvl[keep], idx[keep]
    keep = torch.where(scores >= score_t)[0]
    boxes, scores, lvl, idx = boxes[keep], scores[keep], lvl[keep], idx[keep]
    keep = box_ops.batched_nms(boxes, scores, lvl, nms_t)[:post]
    return boxes[keep], scores[keep], idx[keep], len(boxes)


def proposal_case(name, sizes, ratios, image, features, logits, deltas, pre, post,
                  nms_t=0.7, min_size=1e-3, score_t=0.0):
    gen = AnchorGenerator(tuple(tuple(s) for s in sizes), tuple(tuple(r) for r in ratios))
    images = ImageList(torch.zeros(1, 3, *image), [tuple(image)])
    anchors = gen(images, [torch.zeros(1, 1, h, w) for h, w in features])[0]
    per_level = [h * w * len(s) * len(r) for (h, w), s, r in zip(features, sizes, ratios)]
    n = sum(per_level)
    logits, deltas = torch.from_numpy(logits), torch.from_numpy(deltas)
    assert logits.shape == (n,) and deltas.shape == (n, 4), name
    off = 0
    for k in per_level:  # torch.topk orders equal values arbitrarily: keep them out
        check(len(torch.unique(logits[off:off + k])) == k, f"proposals {name}: tied logits")
        off += k
    rpn = RegionProposalNetwork(gen, RPNHead(1, len(sizes[0]) * len(ratios[0])), 0.7, 0.3, 256, 0.5,
                                dict(training=pre, testing=pre), dict(training=post, testing=post), nms_t, score_t)
    rpn.eval()
    rpn.min_size = min_size
    proposals = rpn.box_coder.decode(deltas, [anchors]).view(1, -1, 4)
    boxes, scores = rpn.filter_proposals(proposals, logits.reshape(-1, 1), [tuple(image)], per_level)
    boxes, scores = boxes[0], scores[0]
    rb, rs, ri, nms_in = replay(anchors, logits, deltas, per_level, tuple(image), pre, post, nms_t, min_size, score_t)
    check(torch.equal(rb, boxes) and torch.equal(rs, scores), f"proposals {name}: replay differs")
    if nms_in > 1000:  # per-class path of batched_nms: its final sort is not stable
        check(len(torch.unique(scores)) == len(scores), f"proposals {name}: tied kept scores on the per-class path")
    return {"name": name, "sizes": sizes, "aspect_ratios": ratios, "image_size": list(image),
            "feature_sizes": [list(f) for f in features], "pre_nms_top_n": pre, "post_nms_top_n": post,
            "nms_thresh": nms_t, "min_size": min_size, "score_thresh": score_t,
            "anchors_per_level": per_level, "boxes_into_nms": nms_in,
            "objectness": nums(logits.numpy()), "deltas": nums(deltas.numpy()),
            "boxes": rows(boxes.numpy()), "scores": nums(scores.numpy()), "anchor_indices": ri.tolist()}


def distinct_logits(n, step, decimals):
    """n distinct logits, multiples of `step` centred on 0, in random order."""
    return f32((rng.permutation(n) - n / 2) * step, decimals)


def proposal_cases():
    cases = []
    s1, r1, img1, f1 = [[32, 64, 128]], [[0.5, 1.0, 2.0]], (64, 80), [(4, 5)]
    n1 = 4 * 5 * 9
    cases.append(proposal_case("one_level", s1, r1, img1, f1, distinct_logits(n1, 0.05, 2),
                               f32(rng.normal(0, 0.3, (n1, 4)), 2), pre=100, post=50))
    # Probabilities that tie at 1.0: logits 17, 17.5, ... all give sigmoid 1.0 in float32, and
    # NMS keeps equal scores in the order top-k left them (by logit).
    logits = distinct_logits(n1, 0.05, 2)
    logits[rng.choice(n1, 40, replace=False)] = f32(17 + 0.5 * np.arange(40), 2)
    check(len(np.unique(logits)) == n1, "tie logits distinct")
    cases.append(proposal_case("probability_ties", s1, r1, img1, f1, logits,
                               f32(rng.normal(0, 0.2, (n1, 4)), 2), pre=150, post=100))
    # Boxes pushed outside the image (clipped to zero width and removed), big min_size, a score
    # threshold, NMS at 0.5.
    d = f32(rng.normal(0, 0.5, (n1, 4)), 2)
    d[rng.choice(n1, 30, replace=False), 0] = 6.0      # centre 6 widths to the right
    d[rng.choice(n1, 30, replace=False), 1] = -6.0     # 6 heights up
    d[rng.choice(n1, 20, replace=False), 2:] = -3.0    # shrunk to 5 %
    cases.append(proposal_case("outside_small_threshold", s1, r1, img1, f1, distinct_logits(n1, 0.02, 2), d,
                               pre=160, post=60, nms_t=0.5, min_size=16.0, score_t=0.6))
    # Two levels (FPN-like): top-N per level, NMS per level (batched_nms offsets).
    s2, r2, img2, f2 = [[32], [64]], [[0.5, 1.0, 2.0]] * 2, (64, 80), [(8, 10), (4, 5)]
    n2 = (80 + 20) * 3
    cases.append(proposal_case("two_levels", s2, r2, img2, f2, distinct_logits(n2, 0.03, 2),
                               f32(rng.normal(0, 0.3, (n2, 4)), 2), pre=120, post=80))
    # 2550 anchors, 2000 before NMS: batched_nms takes its per-class path (> 1000 boxes).
    s3, r3, img3, f3 = [[64, 128, 256]], [[1.0]], (400, 544), [(25, 34)]
    n3 = 25 * 34 * 3
    cases.append(proposal_case("large_pre_2000", s3, r3, img3, f3, distinct_logits(n3, 0.005, 3),
                               f32(rng.normal(0, 0.25, (n3, 4)), 2), pre=2000, post=300))
    return cases


def main():
    out = {
        "generator": (f"scripts/reference/detection_reference.py, torch {torch.__version__}, "
                      f"torchvision {torchvision.__version__}, numpy {np.__version__}, CPU"),
        "box_coder": box_coder_cases(),
        "anchors": anchor_cases(),
        "matcher": matcher_cases(),
        "sampler": sampler_cases(),
        "proposals": proposal_cases(),
    }

    def compact(v):
        return json.dumps(v, separators=(",", ":"), allow_nan=False)

    # One case per line.
    parts = [f'"generator":{compact(out["generator"])}']
    for key in ("box_coder", "anchors", "matcher", "sampler", "proposals"):
        parts.append(f'"{key}":[\n' + ",\n".join(compact(c) for c in out[key]) + "\n]")
    text = "{\n" + ",\n".join(parts) + "\n}\n"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    worst = max(c["f64_diff"] for c in out["box_coder"])
    print(f"wrote {OUT} ({len(text)} bytes); box coder float32 vs float64 {worst:.3g}; "
          + ", ".join(f"{c['name']}: {c['boxes_into_nms']} into NMS, {len(c['boxes'])} kept" for c in out["proposals"]))
    if len(text) > 300_000:
        check(False, f"fixture is {len(text)} bytes (> 300 KB)")
    if FAILURES:
        sys.exit(f"{len(FAILURES)} cross-check(s) failed")


if __name__ == "__main__":
    main()
