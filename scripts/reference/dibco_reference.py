#!/usr/bin/env python3
"""Write the DIBCO binarisation-measure fixtures read by Tests/CVSegEvalTests.

Makes Tests/CVSegEvalTests/Fixtures/dibco/ (located from this script's own path):

  expected.json   per dev image of <data>/dibco (the 20 listed in dibco/train.txt; images are
                  read in place, never copied): OpenCV Otsu thresholds, and for three
                  binarisations of the image (OpenCV Otsu on cv2.imread's gray, OpenCV Otsu on
                  the 15-bit BT.601 gray that cvseg computes, and a deliberately poor fixed
                  threshold of 100) doxapy's measures against the GT: F-measure, recall,
                  precision, pseudo F-measure, pseudo-recall, pseudo-precision, PSNR, DRD
                  (doxapy 0.9.9), plus doxapy 0.9.2's F-measure, PSNR and DRD; means over the
                  20 images; and the synthetic cases below.
  syn_*.png       tiny synthetic GT (1-bit PNG, like DIBCO's GT) and predictions (8-bit 0/255
                  gray PNG) with their doxapy values in expected.json["synthetic"], for unit
                  tests that need no dataset.

<data> = $CVSEG_DATA, else <repo>/../shared/data. Binarisation, as the Swift side recreates it:
pixel = 255 (white, background) if gray > t else 0 (black, ink), with t the recorded threshold
and gray either cv2.imread(path, IMREAD_GRAYSCALE) ("otsu", as in the earlier measurement) or
gray15 = (9798 R + 19235 G + 3735 B + 16384) >> 15 ("otsu_gray15", "fixed100"; what cvseg
computes). They differ on the 8 RGB dev images: OpenCV lets libpng convert RGB to gray, with
its own rounding and, where the file has gAMA or sRGB, gamma correction. The script checks that each recreation equals cv2.threshold's output.

Two doxapy versions are used, in one process:
  - doxapy 0.9.2, the newest that pip installs on the venv's Python 3.11 (`pip install doxapy`):
    no pseudo F-measure, no recall/precision, a DRD whose NUBN looks at 7x7 of each 8x8 block;
  - doxapy 0.9.9 (Requires-Python >= 3.12 on PyPI), compiled for this Python from its PyPI
    sdist by scripts/reference/build_doxapy.sh into <venv>/doxapy-0.9.9/ (run that first).
See scripts/reference/DIBCO_METRICS.md for exactly what each computes.

Cross-checks (non-zero exit if one fails): an independent numpy implementation of the
classification counts, F-measure, recall, precision, PSNR and DRD (both doxapy variants, plus
exact double weights) must reproduce doxapy to 1e-9 (relative for DRD); pseudo recall/precision/F
recomputed in numpy from doxapy 0.9.9's weight maps must match it to 1e-9; the recreated
binarisations must equal OpenCV's; every PNG written is read back (Pillow and OpenCV) and must
equal the array it was written from; doxapy's own Otsu on the same gray must give the same pixels.

JSON: one top-level key per line, list items one per line, floats as Python repr; values that
are not finite are the strings "inf", "-inf", "nan" (doxapy 0.9.2 returns them in edge cases).

Run:  scripts/reference/build_doxapy.sh && $(scripts/python-env)/bin/python scripts/reference/dibco_reference.py
"""

import glob
import hashlib
import importlib.machinery
import importlib.util
import json
import math
import os
import sys
from importlib.metadata import version
from pathlib import Path

import cv2
import numpy as np
import png  # pypng
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("CVSEG_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "Tests" / "CVSegEvalTests" / "Fixtures" / "dibco"
SCRIPT = "scripts/reference/dibco_reference.py"
FIXED_THRESHOLD = 100
DBL_MAX = sys.float_info.max

FAILURES = []


def check(cond, msg):
    if not cond:
        FAILURES.append(msg)
        print("CHECK FAILED:", msg, file=sys.stderr)


def close(a, b, tol=1e-9, rel=False):
    if isinstance(a, float) and isinstance(b, float) and (math.isnan(a) or math.isnan(b)):
        return math.isnan(a) and math.isnan(b)
    if a == b:
        return True
    if not (math.isfinite(a) and math.isfinite(b)):
        return False
    scale = max(abs(a), abs(b), 1.0) if rel else 1.0
    return abs(a - b) <= tol * scale


# ----------------------------------------------------------------------------- doxapy

def load_doxapy():
    import doxapy as d092  # pip install doxapy (0.9.2 on Python 3.11)
    v = version("doxapy")
    if v != "0.9.2":
        sys.exit(f"dibco_reference: expected doxapy 0.9.2 in the venv, found {v} "
                 "(pip install doxapy==0.9.2)")
    new_dir = Path(sys.prefix) / "doxapy-0.9.9" / "doxapy"
    sos = sorted(glob.glob(str(new_dir / "doxapy*.so")))
    if not sos:
        sys.exit(f"dibco_reference: doxapy 0.9.9 not built in {new_dir}; "
                 "run scripts/reference/build_doxapy.sh first")
    # Loaded under another package name so that it sits next to 0.9.2's `doxapy` module; the
    # extension's init symbol (PyInit_doxapy) follows the last component of the name.
    name = "doxapy_0_9_9.doxapy"
    loader = importlib.machinery.ExtensionFileLoader(name, sos[0])
    spec = importlib.util.spec_from_file_location(name, sos[0], loader=loader)
    d099 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(d099)
    for fn in ("generate_pseudo_weights", "calculate_performance"):
        if not hasattr(d099, fn):
            sys.exit(f"dibco_reference: {sos[0]} has no {fn}; rebuild with build_doxapy.sh --force")
    return d092, d099


def doxa_metrics(d092, d099, gt, b, weights):
    """doxapy's numbers for one (gt, binarised) pair; weights = (precision, recall) lists or None."""
    gt = np.ascontiguousarray(gt, dtype=np.uint8)
    b = np.ascontiguousarray(b, dtype=np.uint8)
    new = d099.calculate_performance(gt, b, *weights) if weights is not None else d099.calculate_performance(gt, b)
    old = d092.calculate_performance(gt, b)
    r = {
        "fm": new["fm"], "pfm": new.get("pseudo_fm"), "psnr": new["psnr"], "drdm": new["drdm"],
        "recall": new["recall"], "precision": new["precision"],
        "pseudo_recall": new.get("pseudo_recall"), "pseudo_precision": new.get("pseudo_precision"),
        "accuracy": new["accuracy"], "mcc": new["mcc"], "nrm": new["nrm"],
        "doxapy_0_9_2": {k: old[k] for k in ("fm", "psnr", "drdm", "accuracy", "mcc", "nrm")},
    }
    return r


# ----------------------------------------------------------------------------- independent numpy implementation

# DRD weight matrix: 1/sqrt(dx^2 + dy^2) on the 5x5 window, 0 at the centre, normalised to sum 1.
_DY, _DX = np.mgrid[-2:3, -2:3]
_D = np.sqrt(_DX.astype(np.float64) ** 2 + _DY ** 2)
W_EXACT = np.divide(1.0, _D, out=np.zeros_like(_D), where=_D > 0)
W_EXACT = W_EXACT / W_EXACT.sum()
# doxapy's integer tables (DRDM.hpp): 0.9.2 scales by 1e6, 0.9.9 by 1e9 (both round to nearest).
W_1E6 = np.array([[25582, 32359, 36179, 32359, 25582],
                  [32359, 51164, 72357, 51164, 32359],
                  [36179, 72357, 0, 72357, 36179],
                  [32359, 51164, 72357, 51164, 32359],
                  [25582, 32359, 36179, 32359, 25582]], dtype=np.int64)
W_1E9 = np.array([[25582088, 32359066, 36178535, 32359066, 25582088],
                  [32359066, 51164175, 72357071, 51164175, 32359066],
                  [36178535, 72357071, 0, 72357071, 36178535],
                  [32359066, 51164175, 72357071, 51164175, 32359066],
                  [25582088, 32359066, 36178535, 32359066, 25582088]], dtype=np.int64)
assert np.array_equal(np.rint(W_EXACT * 1e6).astype(np.int64), W_1E6)
assert np.array_equal(np.rint(W_EXACT * 1e9).astype(np.int64), W_1E9)


def counts(gt, b):
    """doxapy's ClassifiedPerformance::CompareImages: TP/FP/FN/TN from pixel equality and B == 0."""
    eq = gt == b
    black = b == 0
    return {"tp": int(np.count_nonzero(eq & black)), "fp": int(np.count_nonzero(~eq & black)),
            "fn": int(np.count_nonzero(~eq & ~black)), "tn": int(np.count_nonzero(eq & ~black))}


def np_classified(c):
    tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]
    if tp == 0:
        recall = precision = fm = 0.0
    else:
        r = tp / (tp + fn)
        p = tp / (tp + fp)
        recall, precision, fm = r * 100, p * 100, (2 * r * p) / (r + p) * 100
    mse = (fp + fn) / (tp + fp + fn + tn)
    psnr = DBL_MAX if mse == 0 else 10 * math.log10(1 / mse)
    return {"fm": fm, "recall": recall, "precision": precision, "psnr": psnr}


def drd_sum(gt, b, w):
    """Sum over mismatched pixels k of sum_{window cells in the image} w * [gt(cell) != b(k)]."""
    h, wd = gt.shape
    mism = gt != b
    g = gt.astype(np.int32)
    pad = np.full((h + 4, wd + 4), -1, dtype=np.int32)  # -1: outside the image, never counts
    pad[2:-2, 2:-2] = g
    bk = b.astype(np.int32)
    total = np.zeros((h, wd), dtype=w.dtype)
    for iy in range(5):
        for ix in range(5):
            if w[iy, ix] == 0:
                continue
            s = pad[iy:iy + h, ix:ix + wd]
            total += w[iy, ix] * ((s != bk) & (s != -1))
    return total[mism].sum()


def nubn(gt, inner=8):
    """Non-uniform 8x8 blocks over the floor(W/8) x floor(H/8) grid (partial blocks ignored);
    inner=7 looks only at each block's top-left 7x7, as doxapy 0.9.2 does."""
    h, w = gt.shape
    by, bx = h // 8, w // 8
    if by == 0 or bx == 0:
        return 0
    blocks = gt[:by * 8, :bx * 8].reshape(by, 8, bx, 8)[:, :inner, :, :inner]
    return int(np.count_nonzero(blocks.min(axis=(1, 3)) != blocks.max(axis=(1, 3))))


def div(a, b):
    if b == 0:
        return float("nan") if a == 0 else float("inf")
    return a / b


def np_drd(gt, b):
    s6, s9, sx = int(drd_sum(gt, b, W_1E6)), int(drd_sum(gt, b, W_1E9)), float(drd_sum(gt, b, W_EXACT))
    n8, n7 = nubn(gt, 8), nubn(gt, 7)
    return {"doxapy_0_9_9": div(s9, n8 * 1_000_000_000), "doxapy_0_9_2": div(s6, n7 * 1_000_000),
            "exact_weights": div(sx, n8), "nubn": n8, "nubn_7x7": n7}


def np_pseudo(gt, b, pw, rw):
    """Pseudo recall / precision / F from doxapy 0.9.9's weight maps (CompareImages with weights)."""
    eq = gt == b
    black = b == 0
    tp_m, fp_m, fn_m = eq & black, ~eq & black, ~eq & ~black
    tp = float(np.count_nonzero(tp_m))
    fp = float(np.count_nonzero(fp_m))
    wr_tp, wr_fn = rw[tp_m].sum(), rw[fn_m].sum()
    wp_tp, wp_fp = pw[tp_m].sum(), pw[fp_m].sum()
    ptp, pfp = wp_tp + tp, wp_fp + fp
    prec = 0.0 if ptp == 0 else ptp / (ptp + pfp) * 100
    rec = 0.0 if wr_tp == 0 else wr_tp / (wr_tp + wr_fn) * 100
    if ptp == 0 or wr_tp == 0:
        f = 0.0
    else:
        pp, rr = ptp / (ptp + pfp), wr_tp / (wr_tp + wr_fn)
        f = 2 * rr * pp / (rr + pp) * 100
    return {"pfm": f, "pseudo_recall": rec, "pseudo_precision": prec}


def cross_check(tag, gt, b, m, pw, rw):
    c = counts(gt, b)
    ref = np_classified(c)
    for k in ("fm", "recall", "precision", "psnr"):
        check(close(ref[k], m[k]), f"{tag}: numpy {k} {ref[k]!r} != doxapy 0.9.9 {m[k]!r}")
    old = m["doxapy_0_9_2"]
    if c["tp"] > 0:
        check(close(ref["fm"], old["fm"]), f"{tag}: numpy fm {ref['fm']!r} != doxapy 0.9.2 {old['fm']!r}")
    if c["fp"] + c["fn"] > 0:
        check(close(ref["psnr"], old["psnr"]), f"{tag}: psnr vs doxapy 0.9.2")
    d = np_drd(gt, b)
    check(close(d["doxapy_0_9_9"], m["drdm"], 1e-12, rel=True), f"{tag}: numpy DRD {d['doxapy_0_9_9']!r} != 0.9.9 {m['drdm']!r}")
    check(close(d["doxapy_0_9_2"], old["drdm"], 1e-12, rel=True), f"{tag}: numpy DRD {d['doxapy_0_9_2']!r} != 0.9.2 {old['drdm']!r}")
    check(close(d["exact_weights"], m["drdm"], 1e-8, rel=True), f"{tag}: exact-weight DRD {d['exact_weights']!r} vs 0.9.9 {m['drdm']!r}")
    if pw is not None:
        p = np_pseudo(gt, b, pw, rw)
        for k in ("pfm", "pseudo_recall", "pseudo_precision"):
            check(close(p[k], m[k], 1e-9), f"{tag}: numpy {k} {p[k]!r} != doxapy 0.9.9 {m[k]!r}")
    return c, d


# ----------------------------------------------------------------------------- helpers

def sha256(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def weights(d099, gt):
    pw, rw = d099.generate_pseudo_weights(np.ascontiguousarray(gt))
    h, w = gt.shape
    return np.asarray(pw, dtype=np.float64).reshape(h, w), np.asarray(rw, dtype=np.float64).reshape(h, w)


def weight_summary(gt, pw, rw):
    ink = gt == 0
    check(not np.any(rw[~ink]), "recall weights must be 0 on the GT background")
    check(not np.any(pw[ink]), "precision weights must be 0 on the GT ink")
    return {"recall_sum": float(rw.sum()), "recall_nonzero": int(np.count_nonzero(rw)),
            "recall_max": float(rw.max()), "precision_sum": float(pw.sum()),
            "precision_nonzero": int(np.count_nonzero(pw)), "precision_max": float(pw.max()),
            "recall_sha256": sha256(rw.astype("<f8")), "precision_sha256": sha256(pw.astype("<f8"))}


def jsonable(o):
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return jsonable(o.tolist())
    if isinstance(o, (bool, np.bool_)):
        return bool(o)
    if isinstance(o, (int, np.integer)):
        return int(o)
    if isinstance(o, (float, np.floating)):
        f = float(o)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return f
    return o


def dumps(o):
    return json.dumps(jsonable(o), separators=(",", ":"), allow_nan=False, ensure_ascii=True)


def write_lines_object(path, obj, list_keys=()):
    parts = []
    for k, v in obj.items():
        if k in list_keys:
            body = ",\n".join(dumps(e) for e in v)
            parts.append(json.dumps(k) + ":[\n" + body + "\n]")
        else:
            parts.append(json.dumps(k) + ":" + dumps(v))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{\n" + ",\n".join(parts) + "\n}\n")


def mean_metrics(rows):
    keys = ("fm", "pfm", "psnr", "drdm", "recall", "precision", "pseudo_recall", "pseudo_precision")
    out = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    out["doxapy_0_9_2"] = {k: float(np.mean([r["doxapy_0_9_2"][k] for r in rows])) for k in ("fm", "psnr", "drdm")}
    return out


def rows_of(a):
    return ["".join("#" if v == 0 else "." for v in row) for row in a]


def from_rows(rows):
    return np.array([[0 if ch == "#" else 255 for ch in r] for r in rows], dtype=np.uint8)


def write_png(path, a, one_bit):
    img = Image.fromarray(a).convert("1") if one_bit else Image.fromarray(a, mode="L")
    img.save(path, optimize=False)
    back_pil = np.array(Image.open(path).convert("L"))
    back_cv = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    check(np.array_equal(back_pil, a), f"{path.name}: Pillow read-back differs")
    check(back_cv is not None and np.array_equal(back_cv, a), f"{path.name}: OpenCV read-back differs")


# ----------------------------------------------------------------------------- the dataset

def gray_of(path):
    """(imread gray, 15-bit gray, layout, colour chunks of the PNG).

    imread gray = cv2.imread(IMREAD_GRAYSCALE). For RGB PNGs OpenCV lets libpng convert
    (png_set_rgb_to_gray), which is NOT cvtColor's formula: its fixed-point rounding differs
    (-1 on about half the pixels of DIBCO2010_H01, which has only cHRM) and with a gAMA or sRGB
    chunk it converts gamma-corrected (differences up to about +-12). gray15 =
    (9798 R + 19235 G + 3735 B + 16384) >> 15 on the decoded samples (= cv2.cvtColor(BGR2GRAY)
    = cvseg's grayscale()); for gray PNGs both are the samples."""
    g = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    check(raw.dtype == np.uint8, f"{path}: not 8-bit")
    chunks = []
    for kind, _ in png.Reader(filename=str(path)).chunks():
        if kind == b"IDAT":
            break
        if kind in (b"gAMA", b"sRGB", b"cHRM", b"iCCP"):
            chunks.append(kind.decode())
    if raw.ndim == 2:
        layout = "gray"
        check(np.array_equal(g, raw), f"{path}: gray read differs from the stored gray")
        g15 = raw
    else:
        layout = {3: "rgb", 4: "rgba"}[raw.shape[2]]
        bb, gg, rr = (raw[..., i].astype(np.int64) for i in range(3))
        g15 = ((rr * 9798 + gg * 19235 + bb * 3735 + 16384) >> 15).astype(np.uint8)
        cvt = cv2.cvtColor(np.ascontiguousarray(raw[..., :3]), cv2.COLOR_BGR2GRAY)
        check(np.array_equal(cvt, g15), f"{path}: cvtColor is not the 15-bit BT.601 formula")
    return g, g15, layout, chunks


def dataset(d092, d099):
    pairs = [line.split("\t") for line in (DATA / "dibco" / "train.txt").read_text().splitlines() if line.strip()]
    check(len(pairs) == 20, f"dibco/train.txt lists {len(pairs)} pairs, expected the 20 dev images")
    images = []
    for img_rel, gt_rel in pairs:
        img_path, gt_path = DATA / "dibco" / img_rel, DATA / "dibco" / gt_rel
        gray, gray15, layout, chunks = gray_of(img_path)
        gt = cv2.imread(str(gt_path), cv2.IMREAD_GRAYSCALE)
        gt_pil = Image.open(gt_path)
        check(gt_pil.mode == "1", f"{gt_rel}: GT is mode {gt_pil.mode}, expected 1-bit")
        check(np.array_equal(np.where(np.array(gt_pil), 255, 0).astype(np.uint8), gt), f"{gt_rel}: Pillow/OpenCV GT differ")
        check(set(np.unique(gt).tolist()) <= {0, 255}, f"{gt_rel}: GT values {np.unique(gt)}")
        check(gt.shape == gray.shape, f"{gt_rel}: size differs from the image")

        def otsu_of(g, what):
            t, b = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
            t = int(t)
            check(np.array_equal(b, np.where(g > t, 255, 0).astype(np.uint8)), f"{img_rel}: {what} Otsu recreation differs")
            dx = g.copy()
            d092.Binarization.update_to_binary(d092.Binarization.Algorithms.OTSU, dx)
            check(np.array_equal(dx, b), f"{img_rel}: doxapy's Otsu differs from OpenCV's on the {what} gray")
            return t, b

        t, otsu = otsu_of(gray, "imread")
        t15, otsu15 = otsu_of(gray15, "gray15")
        _, fixed = cv2.threshold(gray15, FIXED_THRESHOLD, 255, cv2.THRESH_BINARY)
        check(np.array_equal(fixed, np.where(gray15 > FIXED_THRESHOLD, 255, 0).astype(np.uint8)), f"{img_rel}: fixed recreation")

        pw, rw = weights(d099, gt)
        entry = {"name": Path(img_rel).stem, "image": f"dibco/{img_rel}", "gt": f"dibco/{gt_rel}",
                 "width": gt.shape[1], "height": gt.shape[0], "layout": layout, "png_colour_chunks": chunks,
                 "imread_gray_differs_from_gray15": int(np.count_nonzero(gray != gray15)),
                 "gt_ink_pixels": int(np.count_nonzero(gt == 0)), "nubn": nubn(gt, 8), "nubn_7x7": nubn(gt, 7),
                 "pseudo_weights": weight_summary(gt, pw, rw), "otsu_threshold": t, "otsu_gray15_threshold": t15}
        for key, gray_name, b, thr in (("otsu", "imread", otsu, t), ("otsu_gray15", "gray15", otsu15, t15),
                                       ("fixed100", "gray15", fixed, FIXED_THRESHOLD)):
            m = doxa_metrics(d092, d099, gt, b, (pw.ravel().tolist(), rw.ravel().tolist()))
            c, _ = cross_check(f"{entry['name']}/{key}", gt, b, m, pw, rw)
            entry[key] = {"gray": gray_name, "threshold": thr, "white_pixels": int(np.count_nonzero(b)),
                          "sha256": sha256(b), **c, **m}
        entry["otsu"]["recreatable_from_gray15"] = bool(np.array_equal(otsu, np.where(gray15 > t, 255, 0)))
        images.append(entry)
        print(f"{entry['name']:<16} t={t:3d}  otsu fm {entry['otsu']['fm']:7.3f} pfm {entry['otsu']['pfm']:7.3f} "
              f"psnr {entry['otsu']['psnr']:6.3f} drd {entry['otsu']['drdm']:7.3f} (0.9.2 {entry['otsu']['doxapy_0_9_2']['drdm']:7.3f})"
              f"  | fixed100 fm {entry['fixed100']['fm']:7.3f}")
    means = {k: mean_metrics([e[k] for e in images]) for k in ("otsu", "otsu_gray15", "fixed100")}
    return images, means


# ----------------------------------------------------------------------------- synthetic cases

def synthetic_cases():
    """(case name, GT array, {prediction name: array}); black (0) = ink, white (255) = background."""
    cases = []

    # 20x20 (not a multiple of 8: the last 4 rows/columns are outside every NUBN block).
    gt = np.full((20, 20), 255, np.uint8)
    gt[3:17, 4:7] = 0          # vertical stroke, 3 px wide
    gt[9:11, 7:18] = 0         # horizontal stroke, 2 px high, touching it
    gt[14:16, 13:15] = 0       # a 2x2 dot (its own component)
    preds = {"exact": gt.copy()}
    preds["dilated"] = cv2.erode(gt, np.ones((3, 3), np.uint8))        # ink grows by 1 px: FP only
    shifted = np.full_like(gt, 255)
    shifted[:, 1:] = gt[:, :-1]
    preds["shifted"] = shifted                                          # FP + FN
    missing = gt.copy()
    missing[9:11, 7:18] = 255
    preds["missing_stroke"] = missing                                   # FN only
    noisy = gt.copy()
    for y, x in ((1, 1), (1, 18), (18, 1), (18, 18), (6, 12), (12, 9), (16, 8)):
        noisy[y, x] = 0 if noisy[y, x] else 255
    preds["speckles"] = noisy                                           # far and near FP, one FN
    preds["all_white"] = np.full_like(gt, 255)                         # no ink: TP = 0
    preds["all_black"] = np.zeros_like(gt)
    cases.append(("strokes", gt, preds))

    # 21 wide x 13 high (non-square, catches x/y swaps): a ring (background hole) and a diagonal.
    gt = np.full((13, 21), 255, np.uint8)
    gt[2:9, 2:9] = 0
    gt[4:7, 4:7] = 255
    for i in range(9):
        gt[2 + i, 11 + i] = 0
        gt[2 + i, 12 + i] = 0
    rng = np.random.default_rng(20240917)
    flips = rng.random(gt.shape) < 0.08
    edge = cv2.morphologyEx(gt, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    noisy = gt.copy()
    noisy[flips & edge] = 255 - noisy[flips & edge]
    cases.append(("ring_diagonal", gt, {"edge_noise": noisy, "exact": gt.copy()}))

    # 16x16 whose only ink sits in row 7 / column 7 of the first 8x8 block: doxapy 0.9.2's NUBN
    # (top-left 7x7 of each block) finds no non-uniform block, so its DRD divides by zero.
    gt = np.full((16, 16), 255, np.uint8)
    gt[7, 3:8] = 0
    gt[2:7, 7] = 0
    pred = gt.copy()
    pred[7, 2] = 0
    pred[12, 12] = 0
    cases.append(("block_edge", gt, {"two_fp": pred}))

    # 12x12 GT without ink: TP = 0 and NUBN = 0 (DRD = x / 0), no pseudo weights at all.
    gt = np.full((12, 12), 255, np.uint8)
    pred = gt.copy()
    pred[3, 3] = pred[3, 4] = pred[8, 9] = 0
    cases.append(("empty_gt", gt, {"three_fp": pred, "all_white": gt.copy()}))
    return cases


def synthetic(d092, d099):
    out = []
    for name, gt, preds in synthetic_cases():
        gt_file = f"syn_{name}_gt.png"
        write_png(OUT / gt_file, gt, one_bit=True)
        pw, rw = weights(d099, gt)
        case = {"name": name, "gt": gt_file, "width": gt.shape[1], "height": gt.shape[0],
                "gt_rows": rows_of(gt), "nubn": nubn(gt, 8), "nubn_7x7": nubn(gt, 7),
                "recall_weights": rw, "precision_weights": pw, "predictions": []}
        check(np.array_equal(from_rows(case["gt_rows"]), gt), f"{name}: rows round trip")
        for pname, b in preds.items():
            p_file = f"syn_{name}_{pname}.png"
            write_png(OUT / p_file, b, one_bit=False)
            m = doxa_metrics(d092, d099, gt, b, (pw.ravel().tolist(), rw.ravel().tolist()))
            c, _ = cross_check(f"synthetic {name}/{pname}", gt, b, m, pw, rw)
            case["predictions"].append({"name": pname, "file": p_file, "rows": rows_of(b), **c, **m})
        out.append(case)
    return out


# ----------------------------------------------------------------------------- main

def main():
    d092, d099 = load_doxapy()
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("syn_*.png"):
        old.unlink()
    images, means = dataset(d092, d099)
    syn = synthetic(d092, d099)
    versions = (f"doxapy 0.9.9 (PyPI sdist, built by scripts/reference/build_doxapy.sh) and doxapy {version('doxapy')}, "
                f"numpy {np.__version__}, opencv {cv2.__version__}, Pillow {Image.__version__}, "
                f"Python {sys.version.split()[0]}")
    notes = [
        "Convention: black (0) = ink = foreground = positive; anything else is background. GT and predictions are 0/255 8-bit arrays (GT files are 1-bit PNG: 0 -> 0, 1 -> 255).",
        "Binarisations (255 = white = background where gray > threshold, else 0 = ink): otsu: gray = cv2.imread(IMREAD_GRAYSCALE), threshold otsu_threshold from cv2 THRESH_OTSU (doxapy's own Otsu gives the same pixels); otsu_gray15: gray = gray15 = (9798 R + 19235 G + 3735 B + 16384) >> 15 of the decoded RGB samples (= cv2.cvtColor BGR2GRAY = cvseg's grayscale()), threshold otsu_gray15_threshold; fixed100: gray15 > 100. For gray PNGs imread gray = gray15 = the samples. For the 8 RGB dev images cv2.imread(IMREAD_GRAYSCALE) lets libpng convert (its own fixed-point rounding; gamma-corrected where the file has gAMA or sRGB), so it differs from gray15 (imread_gray_differs_from_gray15 pixels) and `otsu` can only be recreated from gray15 where otsu.recreatable_from_gray15 is true; otsu_gray15 and fixed100 always can. sha256 is over the 0/255 bytes, row-major; white_pixels counts the 255s.",
        "Top-level metric keys are doxapy 0.9.9: fm, recall, precision, psnr, drdm, pfm (pseudo_fm), pseudo_recall, pseudo_precision, accuracy, mcc, nrm. Percentages are 0..100. doxapy_0_9_2 holds what doxapy 0.9.2 (the pip-installable one on Python 3.11) returns: same fm/psnr/accuracy/mcc/nrm except in edge cases, a different drdm.",
        "tp/fp/fn/tn: doxapy's CompareImages: tp = gt == b == 0; fp = b == 0 != gt; fn = b != 0 and b != gt; tn = b == gt != 0.",
        "F = 2RP/(R+P)*100 with R = tp/(tp+fn), P = tp/(tp+fp); 0.9.9 returns 0 for fm, recall and precision when tp = 0 (0.9.2 returns nan). PSNR = 10 log10(1/MSE), MSE = (fp+fn)/N; when MSE = 0, 0.9.9 returns DBL_MAX 1.7976931348623157e308, 0.9.2 inf.",
        "DRD = sum over mismatched pixels of sum_{5x5 window cells inside the image} W * [gt(cell) != b(pixel)], divided by NUBN. W = 1/sqrt(dx^2+dy^2) normalised to sum 1 (centre 0); 0.9.9 uses W rounded to 1e-9 (integers / 1e9), 0.9.2 W rounded to 1e-6. NUBN = number of 8x8 blocks on the floor(W/8) x floor(H/8) grid (partial blocks at the right/bottom are ignored) that hold both values; 0.9.2 only looks at the top-left 7x7 pixels of each block (nubn_7x7). NUBN = 0 gives inf (or nan for 0/0).",
        "Pseudo measures: (pw, rw) = doxapy 0.9.9 generate_pseudo_weights(gt) (Ntirogiannis et al. 2013 weights, said to be bit-exact with DIBCO's BinEvalWeights .dat files; pw = PW - 1). Rps = sum_tp rw / (sum_tp rw + sum_fn rw); Pps = (tp + sum_tp pw) / (tp + sum_tp pw + fp + sum_fp pw) (sum_tp pw is always 0: pw is 0 on GT ink); pFM = 2 Rps Pps / (Rps + Pps) * 100; each is 0 when its numerator is 0. pseudo_weights summarises the maps (sums, nonzero counts, max, sha256 of the float64 little-endian row-major maps); the synthetic cases list them in full.",
        "means: arithmetic means over the 20 images of the per-image values (the DIBCO convention).",
        "Synthetic files: syn_<case>_gt.png (1-bit) and syn_<case>_<prediction>.png (8-bit gray 0/255), also given as rows ('#' = ink 0, '.' = background 255). Non-finite values are the strings inf / nan.",
        "Exact definitions and edge cases: scripts/reference/DIBCO_METRICS.md.",
    ]
    write_lines_object(OUT / "expected.json", {
        "generator": f"{SCRIPT} with {versions}",
        "notes": notes,
        "data_root": "paths are relative to $CVSEG_DATA, else <repo>/../shared/data",
        "fixed_threshold": FIXED_THRESHOLD,
        "means": means,
        "images": images,
        "synthetic": syn,
    }, list_keys=("notes", "images", "synthetic"))
    print(f"\nmeans over {len(images)} images:")
    for key in ("otsu", "otsu_gray15", "fixed100"):
        m, o = means[key], means[key]["doxapy_0_9_2"]
        print(f"  {key:<12} doxapy 0.9.9: FM {m['fm']:.4f}  pFM {m['pfm']:.4f}  PSNR {m['psnr']:.4f}  DRD {m['drdm']:.4f}"
              f"   doxapy 0.9.2: FM {o['fm']:.4f}  PSNR {o['psnr']:.4f}  DRD {o['drdm']:.4f}")
    if FAILURES:
        print(f"{len(FAILURES)} checks FAILED", file=sys.stderr)
        return 1
    print("all cross-checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
