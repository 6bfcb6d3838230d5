#!/usr/bin/env python3
"""Write the box-suppression fixtures read by Tests/CVSegCoreTests/NMSTests.swift.

Makes Tests/CVSegCoreTests/Fixtures/nms/ (located from this script's own path):

  nms.json          torchvision.ops.nms (CPU, float32) kept indices for several thresholds.
  batched_nms.json  torchvision.ops.batched_nms kept indices; "path" says which of its two CPU
                    paths ran: "coordinate_trick" (boxes.numel() <= 4000, i.e. N <= 1000) or
                    "per_class" (N > 1000). On the per-class path torchvision's final
                    sort(descending=True) is not stable, so kept boxes with equal scores come
                    out in an order that depends on the build (x86-simd-sort on AVX-512 here);
                    "keep_ties_by_index" (written only where it differs from "keep") is the same
                    list with equal scores in index order (cvseg's rule), and "ties_in_keep" says
                    whether any kept scores are equal. The boxes of the large cases have
                    coordinates in quarter pixels and integer scores, to keep the file small.
  soft_nms.json     Soft-NMS (Bodla et al., ICCV 2017) kept indices, in selection order, and
                    decayed scores, from a float32 numpy transcription of the authors'
                    cpu_soft_nms (bharatsingh430/soft-nms, lib/nms/cpu_nms.pyx). "pixels":
                    "inclusive" is the authors' code as written (widths x2 - x1 + 1);
                    "continuous" drops the + 1 (cvseg's convention; mmcv's soft_nms offset=0).

Every case has "boxes" ([x1, y1, x2, y2], float32), "scores" (float32, null = NaN) and "runs".
Numbers are the shortest decimal that gives the float32 back when read as a double and rounded
to float32 (checked for every number written). Cases: seeded random boxes of several sizes,
clustered heavy overlaps, exact score ties, duplicate boxes, zero-area and inverted boxes, NaN
scores, large coordinates, pairs whose float32 IoU equals float32(t) exactly (0.3 rounds up in
float32, so IoU == float32(0.3) suppresses at 0.3 against torchvision's double threshold; 0.7
rounds down, so it does not), negative and >= 1 thresholds.

Cross-checks (non-zero exit on failure): a float32 numpy transcription of torchvision's CPU nms
kernel (stable score sort, IoU > threshold compared in double) reproduces torchvision.ops.nms on
every case; an independent per-class / offset implementation reproduces batched_nms on both
paths (up to the order of equal scores on the per-class path); for every Gaussian weight,
float32(np.exp(x)) equals float32(math.exp(x)) (glibc, which cvseg calls). Deterministic: a
rerun rewrites identical files.

Run:  $(scripts/torch-env)/bin/python scripts/reference/nms_reference.py
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torchvision
from torchvision.ops import batched_nms, nms

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "Tests", "CVSegCoreTests", "Fixtures", "nms")
F32 = np.float32
FAILURES = []


def check(condition, what):
    if not condition:
        FAILURES.append(what)
        print("FAILED:", what, file=sys.stderr)


# ---------------------------------------------------------------- number formatting

def num(x):
    """Shortest decimal that reads back (as a double, then rounded to float32) to x; NaN -> None."""
    x = F32(x)
    if np.isnan(x):
        return None
    s = np.format_float_positional(x, unique=True, trim="-")
    if F32(np.float64(s)) != x:  # double rounding: fall back to the exact double value
        s = repr(float(x))
    assert F32(np.float64(s)) == x
    value = float(s)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def box_list(boxes):
    return [[num(v) for v in b] for b in boxes]


# ---------------------------------------------------------------- references

def nms_numpy(boxes, scores, threshold):
    """torchvision/csrc/ops/cpu/nms_kernel.cpp in float32 numpy."""
    boxes = np.asarray(boxes, F32)
    n = len(boxes)
    if n == 0:
        return []
    x1, y1, x2, y2 = (boxes[:, k].copy() for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    order = torch.from_numpy(np.asarray(scores, F32)).sort(stable=True, descending=True)[1].numpy()
    suppressed = np.zeros(n, bool)
    keep = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for p in range(n):
            i = order[p]
            if suppressed[i]:
                continue
            keep.append(int(i))
            rest = order[p + 1:]
            xx1 = np.where(x1[i] < x1[rest], x1[rest], x1[i])  # std::max(a, b) = a < b ? b : a
            yy1 = np.where(y1[i] < y1[rest], y1[rest], y1[i])
            xx2 = np.where(x2[rest] < x2[i], x2[rest], x2[i])  # std::min(a, b) = b < a ? b : a
            yy2 = np.where(y2[rest] < y2[i], y2[rest], y2[i])
            w = np.where(F32(0) < xx2 - xx1, xx2 - xx1, F32(0))
            h = np.where(F32(0) < yy2 - yy1, yy2 - yy1, F32(0))
            inter = w * h
            ovr = inter / (areas[i] + areas[rest] - inter)
            hit = ovr.astype(np.float64) > float(threshold)
            suppressed[rest[hit & ~suppressed[rest]]] = True
    return keep


def by_score_then_index(indices, scores):
    s = np.asarray(scores, F32)
    return sorted(indices, key=lambda i: (0, 0.0, i) if np.isnan(s[i]) else (1, -float(s[i]), i))


def batched_numpy(boxes, scores, classes, threshold):
    boxes = np.asarray(boxes, F32)
    n = len(boxes)
    if n == 0:
        return []
    if n * 4 > 4000:
        kept = []
        for c in sorted(set(classes)):
            members = [i for i in range(n) if classes[i] == c]
            kept += [members[k] for k in nms_numpy(boxes[members], np.asarray(scores, F32)[members], threshold)]
        return by_score_then_index(sorted(kept), scores)
    largest = F32(np.nan) if np.isnan(boxes).any() else boxes.max()
    offsets = np.asarray(classes).astype(F32) * (largest + F32(1))
    return nms_numpy(boxes + offsets[:, None], scores, threshold)


def cython_max(a, b):
    return a if a >= b else b


def cython_min(a, b):
    return a if a <= b else b


def soft_nms_reference(boxes, scores, method, sigma=0.5, nt=0.3, threshold=0.001, plus=1):
    """The authors' cpu_soft_nms, statement for statement, in float32 (method 1 linear,
    2 gaussian); `plus` is the + 1 of their pixel convention. Returns the original indices of
    positions 0..N-1 and their scores, and the exp arguments seen."""
    data = [[F32(v) for v in b] + [F32(s), i] for i, (b, s) in enumerate(zip(boxes, scores))]
    sigma, nt, threshold, one = F32(sigma), F32(nt), F32(threshold), F32(plus)
    exps = []
    n = len(data)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for i in range(n):  # range(N) is evaluated once, as in Cython
            maxscore, maxpos = data[i][4], i
            pos = i + 1
            while pos < n:
                if maxscore < data[pos][4]:
                    maxscore, maxpos = data[pos][4], pos
                pos += 1
            data[i], data[maxpos] = data[maxpos], data[i]
            tx1, ty1, tx2, ty2 = data[i][:4]
            pos = i + 1
            while pos < n:
                x1, y1, x2, y2, s = data[pos][:5]
                area = (x2 - x1 + one) * (y2 - y1 + one)
                iw = cython_min(tx2, x2) - cython_max(tx1, x1) + one
                if iw > 0:
                    ih = cython_min(ty2, y2) - cython_max(ty1, y1) + one
                    if ih > 0:
                        ua = F32((tx2 - tx1 + one) * (ty2 - ty1 + one) + area - iw * ih)
                        ov = iw * ih / ua
                        if method == 1:
                            weight = F32(1) - ov if ov > nt else F32(1)
                        else:
                            arg = -(ov * ov) / sigma
                            assert isinstance(arg, np.float32)
                            exps.append(float(arg))
                            weight = F32(np.exp(float(arg)))
                        data[pos][4] = weight * data[pos][4]
                if data[pos][4] < threshold:
                    data[pos] = list(data[n - 1])
                    n -= 1
                    pos -= 1
                pos += 1
    return [d[5] for d in data[:n]], [d[4] for d in data[:n]], exps


# ---------------------------------------------------------------- inputs

def random_boxes(rng, n, extent=500.0, size=(5.0, 120.0)):
    xy = rng.uniform(0, extent, (n, 2))
    wh = rng.uniform(size[0], size[1], (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(F32)


def clustered_boxes(rng, n, centres=6, jitter=6.0):
    c = rng.uniform(50, 400, (centres, 2))
    wh = rng.uniform(30, 90, (centres, 2))
    k = rng.integers(0, centres, n)
    d = rng.normal(0, jitter, (n, 4))
    b = np.concatenate([c[k] - wh[k] / 2, c[k] + wh[k] / 2], 1) + d
    return b.astype(F32)


def quantized_boxes(rng, n, grid=4):
    """Coordinates that are multiples of 1/grid: exact and short in JSON."""
    xy = rng.integers(0, 600 * grid, (n, 2))
    wh = rng.integers(4 * grid, 80 * grid, (n, 2))
    return (np.concatenate([xy, xy + wh], 1) / grid).astype(F32)


def at_threshold_pairs():
    """Pairs (far apart from each other) whose float32 IoU is exactly float32(p / q)."""
    boxes, scores = [], []
    for row, (p, q) in enumerate([(1, 4), (3, 10), (1, 2), (3, 5), (7, 10), (9, 10), (1, 3), (2, 3)]):
        y = 100 * row
        boxes += [[0, y, q, y + 1], [0, y, p, y + 1]]  # inter p, union q
        scores += [0.9 - 0.01 * row, 0.5 - 0.01 * row]
    return np.asarray(boxes, F32), np.asarray(scores, F32)


def degenerate_case(rng):
    boxes = [[10, 10, 10, 30], [10, 10, 10, 30], [5, 5, 25, 25], [5, 5, 25, 25], [0, 0, 0, 0],
             [0, 0, 0, 0], [12, 12, 30, 12], [40, 40, 30, 60], [40, 40, 30, 60], [35, 45, 38, 30],
             [20, 20, 40, 40], [21, 21, 41, 41], [5, 5, 25, 25]]
    scores = [0.9, 0.9, 0.8, 0.8, 0.7, 0.95, 0.6, 0.99, 0.5, 0.4, 0.85, 0.85, 0.8]
    return np.asarray(boxes, F32), np.asarray(scores, F32)


def tv_nms(boxes, scores, t):
    return nms(torch.from_numpy(np.asarray(boxes, F32)).reshape(-1, 4),
               torch.from_numpy(np.asarray(scores, F32)), float(t)).tolist()


def tv_batched(boxes, scores, classes, t):
    return batched_nms(torch.from_numpy(np.asarray(boxes, F32)).reshape(-1, 4),
                       torch.from_numpy(np.asarray(scores, F32)),
                       torch.tensor(classes, dtype=torch.int64), float(t)).tolist()


# ---------------------------------------------------------------- fixtures

def nms_fixture():
    rng = np.random.default_rng(20260501)
    thresholds = [0.0, 0.3, 0.5, 0.7, 0.9, 1.0]
    cases = []

    def add(name, boxes, scores, ts=thresholds):
        runs = []
        for t in ts:
            keep = tv_nms(boxes, scores, t)
            check(keep == nms_numpy(boxes, scores, t), f"nms {name} t={t}: numpy transcription differs")
            check(keep == by_score_then_index(keep, scores), f"nms {name} t={t}: keep not in stable score order")
            runs.append({"iou_threshold": None if math.isnan(t) else t, "keep": keep})  # null = NaN
        cases.append({"name": name, "boxes": box_list(boxes), "scores": [num(s) for s in scores], "runs": runs})

    add("empty", np.zeros((0, 4), F32), np.zeros(0, F32), [0.5])
    add("single", np.asarray([[1, 2, 3, 4]], F32), np.asarray([0.5], F32), [0.5, -1.0])
    for n in (20, 60, 200):
        add(f"random_{n}", random_boxes(rng, n), rng.random(n).astype(F32))
    add("clustered_300", clustered_boxes(rng, 300), rng.random(300).astype(F32))
    b = clustered_boxes(rng, 200, centres=4, jitter=4.0)
    add("ties_200", b, (rng.integers(0, 6, 200) / 8).astype(F32))
    base = random_boxes(rng, 12)
    dup = np.concatenate([base, base, base[:5]])
    add("duplicates", dup, np.concatenate([rng.random(12), rng.random(12), np.full(5, 0.5)]).astype(F32))
    pair_boxes, pair_scores = at_threshold_pairs()
    add("at_threshold", pair_boxes, pair_scores, [0.25, 0.3, 1 / 3, 0.5, 0.6, 2 / 3, 0.7, 0.9])
    d_boxes, d_scores = degenerate_case(rng)
    add("degenerate", d_boxes, d_scores, [-0.5, 0.0, 0.1, 0.5])
    b = clustered_boxes(rng, 40, centres=3)
    s = rng.random(40).astype(F32)
    s[[3, 7, 8, 20]] = np.nan
    add("nan_scores", b, s, [0.0, 0.5, -1.0])
    add("large_coordinates", (random_boxes(rng, 80, extent=60.0, size=(1.0, 12.0)) + F32(40000)).astype(F32),
        rng.random(80).astype(F32), [0.3, 0.5, 0.7])
    add("thresholds_outside", clustered_boxes(rng, 30, centres=2), rng.random(30).astype(F32),
        [-0.1, 1.5, float("nan")])
    return cases


def batched_fixture():
    rng = np.random.default_rng(20260502)
    cases = []

    def add(name, boxes, scores, classes, ts=(0.3, 0.5, 0.7)):
        runs = []
        n = len(boxes)
        for t in ts:
            keep = tv_batched(boxes, scores, classes, t)
            mine = batched_numpy(boxes, scores, classes, t)
            stable = by_score_then_index(keep, scores)
            kept_scores = [float(scores[i]) for i in keep]
            ties = len(set(kept_scores)) < len(kept_scores)
            path = "per_class" if n * 4 > 4000 else "coordinate_trick"
            check(mine == stable, f"batched {name} t={t}: independent implementation differs")
            if path == "coordinate_trick" or not ties:
                check(keep == stable, f"batched {name} t={t}: order differs although nothing is tied")
            run = {"iou_threshold": t, "path": path, "keep": keep, "ties_in_keep": ties}
            if stable != keep:
                run["keep_ties_by_index"] = stable
            runs.append(run)
        cases.append({"name": name, "boxes": box_list(boxes), "scores": [num(s) for s in scores],
                      "classes": [int(c) for c in classes], "runs": runs})

    add("empty", np.zeros((0, 4), F32), np.zeros(0, F32), [], (0.5,))
    b = clustered_boxes(rng, 120, centres=5)
    add("clustered_120_3_classes", b, rng.random(120).astype(F32), rng.integers(0, 3, 120).tolist())
    b = clustered_boxes(rng, 200, centres=4, jitter=3.0)
    add("ties_200_5_classes", b, (rng.integers(0, 5, 200) / 4).astype(F32), rng.integers(0, 5, 200).tolist())
    b = clustered_boxes(rng, 60, centres=2)
    add("large_class_ids", b, rng.random(60).astype(F32), rng.choice([0, 7, 999, 123456], 60).tolist())
    b = clustered_boxes(rng, 40, centres=2)
    add("negative_class_ids", b, rng.random(40).astype(F32), rng.choice([-3, -1, 0, 2], 40).tolist())
    b = clustered_boxes(rng, 30, centres=2) - F32(300)
    add("negative_coordinates", b.astype(F32), rng.random(30).astype(F32), rng.integers(0, 2, 30).tolist())
    b = clustered_boxes(rng, 30, centres=2)
    s = rng.random(30).astype(F32)
    s[[1, 5, 6]] = np.nan
    add("nan_scores", b, s, rng.integers(0, 2, 30).tolist())
    # The two paths around torchvision's switch (numel 4000 = 1000 boxes).
    for n, name in ((1000, "boundary_1000_trick"), (1001, "boundary_1001_per_class")):
        b = quantized_boxes(rng, n)
        add(name, b, (rng.permutation(n) + 1).astype(F32), rng.integers(0, 4, n).tolist(), (0.5,))
    b = quantized_boxes(rng, 1100)
    add("per_class_ties_1100", b, rng.integers(1, 9, 1100).astype(F32), rng.integers(0, 3, 1100).tolist(),
        (0.5,))
    return cases


def soft_fixture():
    rng = np.random.default_rng(20260503)
    settings = [("linear", {"nt": 0.3}), ("linear", {"nt": 0.5}), ("gaussian", {"sigma": 0.5}),
                ("gaussian", {"sigma": 0.1})]
    cases = []
    exps = []

    def add(name, boxes, scores, thresholds=(0.001,), pixels=("inclusive", "continuous")):
        runs = []
        for method, params in settings:
            for thr in thresholds:
                for px in pixels:
                    keep, decayed, seen = soft_nms_reference(
                        boxes, scores, 1 if method == "linear" else 2, threshold=thr,
                        plus=1 if px == "inclusive" else 0, **params)
                    exps.extend(seen)
                    runs.append({"method": method, **params, "score_threshold": thr, "pixels": px,
                                 "keep": keep, "scores": [num(s) for s in decayed]})
        cases.append({"name": name, "boxes": box_list(boxes), "scores": [num(s) for s in scores], "runs": runs})

    add("empty", np.zeros((0, 4), F32), np.zeros(0, F32))
    add("random_40", random_boxes(rng, 40, extent=150.0), rng.random(40).astype(F32), (0.001, 0.3))
    add("clustered_120", clustered_boxes(rng, 120, centres=5), rng.random(120).astype(F32), (0.001, 0.2))
    add("ties_60", clustered_boxes(rng, 60, centres=3, jitter=3.0), (rng.integers(1, 5, 60) / 4).astype(F32))
    base = clustered_boxes(rng, 8, centres=2)
    add("duplicates", np.concatenate([base, base]), np.full(16, 0.75, F32), (0.001, 0.5))
    d_boxes, d_scores = degenerate_case(rng)
    add("degenerate", d_boxes, d_scores)
    s = rng.random(20).astype(F32)
    s[[0, 4]] = np.nan
    add("nan_scores", clustered_boxes(rng, 20, centres=2), s)
    add("below_threshold", clustered_boxes(rng, 10, centres=2), (rng.random(10) * 0.05).astype(F32), (0.1,))
    pair_boxes, pair_scores = at_threshold_pairs()
    add("at_threshold", pair_boxes, pair_scores, (0.001,), ("continuous",))
    mismatch = [x for x in exps if F32(np.exp(x)) != F32(math.exp(x))]
    check(not mismatch, f"soft-nms: float32(np.exp) != float32(math.exp) for {len(mismatch)} arguments")
    return cases, len(exps)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    generator = (f"scripts/reference/nms_reference.py; torch {torch.__version__}, torchvision "
                 f"{torchvision.__version__}, numpy {np.__version__}, CPU capability "
                 f"{torch.backends.cpu.get_cpu_capability()}")
    soft_cases, n_exp = soft_fixture()
    for name, cases in (("nms", nms_fixture()), ("batched_nms", batched_fixture()), ("soft_nms", soft_cases)):
        path = os.path.join(OUT, name + ".json")
        with open(path, "w") as f:
            f.write('{"generator":' + json.dumps(generator) + ',\n"cases":[\n')
            f.write(",\n".join(json.dumps(c, separators=(",", ":"), allow_nan=False) for c in cases))
            f.write("\n]}\n")
        print(f"{path}: {len(cases)} cases, {os.path.getsize(path)} bytes")
    print(f"gaussian weights checked against math.exp: {n_exp}")
    if FAILURES:
        print(f"{len(FAILURES)} cross-check(s) failed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
