#!/usr/bin/env python3
"""Reference fixtures for cvseg's classical thresholds (spec: scripts/reference/THRESHOLDS.md).

Writes Tests/CVSegClassicalTests/Fixtures/thresholds/:
  - syn_*.png        seeded synthetic 8-bit gray inputs (pypng), syn16_*.png a 16-bit one,
  - <image>_<method>_<params>.png   0/255 binary masks for the synthetic images,
  - expected.json    scalar thresholds, mask file names (synthetic) or sha256 + foreground
                     count (DIBCO crops; only the crop rectangle is stored, never the pixels),
                     float threshold surface summaries for niblack/sauvola.
Every value comes from scikit-image 0.26 / OpenCV 5.0 and is asserted equal (bit-exact masks,
identical thresholds) to the plain-numpy re-implementation in this file, which follows the
spec.  Exits non-zero on any mismatch.

Run:  PY=$(scripts/python-env)/bin/python; $PY scripts/reference/thresholds_reference.py
"""

import hashlib
import json
import math
import os
import sys
from fractions import Fraction
from importlib.metadata import version
from pathlib import Path

import cv2
import numpy as np
import png  # pypng
from PIL import Image
from skimage.filters import (threshold_multiotsu, threshold_niblack, threshold_sauvola,
                             threshold_triangle)

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("CVSEG_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "Tests" / "CVSegClassicalTests" / "Fixtures" / "thresholds"
SCRIPT = "scripts/reference/thresholds_reference.py"
f32 = np.float32
FAILS = []


def check(cond, msg):
    if not cond:
        FAILS.append(msg)
        print("MISMATCH:", msg, file=sys.stderr)


# ----------------------------------------------------------------------------- multi-Otsu
def histogram_int(img):
    """skimage.exposure.histogram for integer images: one bin per integer min..max."""
    lo, hi = int(img.min()), int(img.max())
    counts = np.bincount((img.astype(np.int64) - lo).ravel(), minlength=hi - lo + 1)
    return counts, np.arange(lo, hi + 1)


def multiotsu_ref(img, classes):
    counts, centers = histogram_int(img)
    # prob: float64 count/total, then rounded to float32
    prob = (counts / counts.sum()).astype(f32)
    nbins = prob.size
    nvalues = int(np.count_nonzero(prob))
    if nvalues < classes:
        raise ValueError(f"only {nvalues} values")
    if nvalues == classes:
        return centers[np.flatnonzero(prob)[:-1]]
    m = classes - 1
    # float32 cumulative moments; NOTE first_moment[0] = prob[0] (not 0*prob[0])
    P = np.empty(nbins, f32)
    S = np.empty(nbins, f32)
    P[0] = prob[0]
    S[0] = prob[0]
    for i in range(1, nbins):
        P[i] = f32(P[i - 1] + prob[i])
        S[i] = f32(S[i - 1] + f32(f32(i) * prob[i]))
    # H[i, j] (j >= i): class [i..j] term, float32; H[0, 0] = 0 (never set in the LUT)
    H = np.zeros((nbins, nbins), f32)
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in range(1, nbins):
            if P[j] > 0:
                H[0, j] = f32(f32(S[j] * S[j]) / P[j])
        for i in range(1, nbins):
            pij = (P[i:] - P[i - 1]).astype(f32)
            sij = (S[i:] - S[i - 1]).astype(f32)
            v = ((sij * sij).astype(f32) / pij).astype(f32)
            H[i, i:] = np.where(pij > 0, v, f32(0))
    last = H[:, nbins - 1]  # H[t+1, nbins-1] -> last[t+1]
    NEG = f32(-np.inf)
    best, best_idx = f32(0), None

    def consider(sig, prefix):
        nonlocal best, best_idx
        flat = int(np.argmax(sig))  # first maximum in lexicographic (C) order
        if sig.flat[flat] > best:
            best = sig.flat[flat]
            best_idx = list(prefix) + list(np.unravel_index(flat, sig.shape))

    n = nbins
    if m == 1:
        t0 = np.arange(0, n - 1)
        sig = (H[0, t0] + last[t0 + 1]).astype(f32)
        consider(sig, [])
    elif m == 2:
        t0 = np.arange(0, n - 2)[:, None]
        t1 = np.arange(0, n - 1)[None, :]
        ok = t1 > t0
        t1c = np.minimum(t1, n - 2)
        sig = (H[0, t0] + last[t1c + 1]).astype(f32)
        sig = (sig + H[np.minimum(t0 + 1, n - 1), t1c]).astype(f32)
        consider(np.where(ok, sig, NEG), [])
    elif m in (3, 4):
        for a in range(0, n - m):
            if m == 3:
                t1 = np.arange(0, n - 2)[:, None]
                t2 = np.arange(0, n - 1)[None, :]
                ok = (t1 > a) & (t2 > t1)
                t1c, t2c = np.clip(t1, a + 1, n - 1), np.clip(t2, 0, n - 2)
                sig = (H[0, a] + last[t2c + 1]).astype(f32)
                sig = (sig + H[a + 1, t1c]).astype(f32)
                sig = (sig + H[np.minimum(t1c + 1, n - 1), t2c]).astype(f32)
                consider(np.where(ok, sig, NEG), [a])
            else:
                t1 = np.arange(a + 1, n - 3)[:, None, None]
                t2 = np.arange(a + 2, n - 2)[None, :, None]
                t3 = np.arange(a + 3, n - 1)[None, None, :]
                if t1.size == 0:
                    continue
                ok = (t2 > t1) & (t3 > t2)
                t2c = np.maximum(t2, t1 + 1)
                t3c = np.maximum(t3, t2c + 1)
                t3c = np.minimum(t3c, n - 2)
                sig = (H[0, a] + last[t3c + 1]).astype(f32)
                sig = (sig + H[a + 1, t1]).astype(f32)
                sig = (sig + H[np.minimum(t1 + 1, n - 1), np.minimum(t2c, n - 1)]).astype(f32)
                sig = (sig + H[np.minimum(t2c + 1, n - 1), t3c]).astype(f32)
                sig = np.where(ok, sig, NEG)
                flat = int(np.argmax(sig))
                if sig.flat[flat] > best:
                    best = sig.flat[flat]
                    i1, i2, i3 = np.unravel_index(flat, sig.shape)
                    best_idx = [a, a + 1 + i1, a + 2 + i2, a + 3 + i3]
    else:
        raise NotImplementedError
    return centers[np.array(best_idx)]


# ----------------------------------------------------------------------------- triangle
def triangle_ref(img):
    hist, centers = histogram_int(img)
    nbins = hist.size
    peak = int(np.argmax(hist))  # first maximum
    peak_h = int(hist[peak])
    nz = np.flatnonzero(hist)
    low, high = int(nz[0]), int(nz[-1])
    if low == high:
        return int(img.ravel()[0])
    flip = (peak - low) < (high - peak)
    if flip:
        hist = hist[::-1]
        low = nbins - high - 1
        peak = nbins - peak - 1
    width = peak - low
    x1 = np.arange(width)
    y1 = hist[x1 + low]
    norm = math.sqrt(float(peak_h * peak_h + width * width))  # float64
    ph = peak_h / norm
    wd = width / norm
    length = ph * x1.astype(np.float64) - wd * y1.astype(np.float64)
    level = int(np.argmax(length)) + low  # first maximum (in flipped order if flipped)
    if flip:
        level = nbins - level - 1
    return int(centers[level])


# ----------------------------------------------------------------------------- niblack / sauvola
def reflect_index(p, n):
    """numpy 'reflect' (= OpenCV BORDER_REFLECT_101): ...c b | a b c ... | b a ..."""
    if n == 1:
        return np.zeros_like(p)
    period = 2 * (n - 1)
    p = np.mod(p, period)
    return np.where(p >= n, period - p, p)


def mean_std_ref(img, w):
    Hh, Ww = img.shape
    r = w // 2
    # window of pixel (y, x): rows y-r..y+r, cols x-r..x+r, out-of-range indices reflected
    ry = reflect_index(np.arange(-r, Hh + r), Hh)
    rx = reflect_index(np.arange(-r, Ww + r), Ww)
    P = img.astype(np.int64)[ry][:, rx]  # (H+2r, W+2r)
    I = np.zeros((P.shape[0] + 1, P.shape[1] + 1), np.int64)
    I[1:, 1:] = P.cumsum(0).cumsum(1)
    I2 = np.zeros_like(I)
    I2[1:, 1:] = (P * P).cumsum(0).cumsum(1)

    def box(I):
        return I[w:, w:] - I[:-w, w:] - I[w:, :-w] + I[:-w, :-w]

    s1 = box(I).astype(np.float64)  # exact integers (< 2**53)
    s2 = box(I2).astype(np.float64)
    N = float(w * w)
    m = s1 / N
    g2 = s2 / N
    s = np.sqrt(np.maximum(g2 - m * m, 0.0))
    return m, s


def niblack_ref(img, w, k):
    m, s = mean_std_ref(img, w)
    return m - k * s


def sauvola_ref(img, w, k, r=None):
    if r is None:
        info = np.iinfo(img.dtype)
        r = 0.5 * (float(info.max) - float(info.min))
    m, s = mean_std_ref(img, w)
    return m * (1.0 + k * ((s / r) - 1.0))


# ----------------------------------------------------------------------------- OpenCV adaptive
def replicate_index(p, n):
    return np.clip(p, 0, n - 1)


def adaptive_mean_ref(img, block):
    Hh, Ww = img.shape
    r = block // 2
    P = img.astype(np.int64)[replicate_index(np.arange(-r, Hh + r), Hh)][:, replicate_index(np.arange(-r, Ww + r), Ww)]
    I = np.zeros((P.shape[0] + 1, P.shape[1] + 1), np.int64)
    I[1:, 1:] = P.cumsum(0).cumsum(1)
    s = I[block:, block:] - I[:-block, block:] - I[block:, :-block] + I[:-block, :-block]
    area = block * block
    return ((2 * s + area) // (2 * area)).astype(np.int64)  # round(s/area); area odd => no ties


GAUSS_SMALL = {3: [1, 2, 1], 5: [1, 4, 6, 4, 1], 7: [1, 4, 7, 9, 7, 4, 1],  # /4, /16, /32
               9: [1, 3.25, 7.5, 12.75, 15, 12.75, 7.5, 3.25, 1]}              # /64
GAUSS_DIV = {3: 4, 5: 16, 7: 32, 9: 64}


def gaussian_kernel_f32(n):
    """cv::getGaussianKernel(n, sigma<=0, CV_32F)."""
    if n in GAUSS_SMALL:
        return (np.array(GAUSS_SMALL[n], np.float64) / GAUSS_DIV[n]).astype(f32)
    sigma = float(Fraction(n) * Fraction(0.15) + Fraction(0.35))  # fma(n, 0.15, 0.35)
    scale2x = -0.125 / (sigma * sigma)
    r = (n - 1) // 2
    vals, total = [], 0.0
    for i in range(r):
        x = 1 - n + 2 * i  # twice the offset
        t = math.exp(float(x * x) * scale2x)
        vals.append(t)
        total += t
    total = total * 2.0 + 1.0
    k = [0.0] * n
    for i in range(r):
        k[i] = k[n - 1 - i] = vals[i] / total
    k[r] = 1.0 / total
    return np.array(k, np.float64).astype(f32)


def _fma32(a, b, c):
    return (a.astype(np.float64) * np.float64(b) + c.astype(np.float64)).astype(f32)


def _pass(P, k, axis, mode):
    n = k.size
    r = n // 2
    L = P.shape[axis] - 2 * r

    def sl(o):
        idx = [slice(None)] * 2
        idx[axis] = slice(o, o + L)
        return P[tuple(idx)]

    if mode == "row_fma":  # s = 0; for i: s = fma(k[i], x[i], s)
        s = np.zeros(sl(0).shape, f32)
        for i in range(n):
            s = _fma32(sl(i), k[i], s)
    elif mode == "row_plain":  # s = k0*x0; for i: s = s + k[i]*x[i]  (each op rounded)
        s = (k[0] * sl(0)).astype(f32)
        for i in range(1, n):
            s = (s + (k[i] * sl(i)).astype(f32)).astype(f32)
    elif mode == "col_fma":  # s = kc*xc; for j: s = fma(k[c-j], x[c-j] + x[c+j], s)
        s = (k[r] * sl(r)).astype(f32)
        for j in range(1, r + 1):
            s = _fma32((sl(r - j) + sl(r + j)).astype(f32), k[r - j], s)
    elif mode == "col_plain":
        s = (k[r] * sl(r)).astype(f32)
        for j in range(1, r + 1):
            s = (s + (k[r - j] * (sl(r - j) + sl(r + j)).astype(f32)).astype(f32)).astype(f32)
    elif mode == "f64":  # exact-ish float64 accumulation, float32 result
        s = np.zeros(sl(0).shape, np.float64)
        for i in range(n):
            s = s + np.float64(k[i]) * sl(i).astype(np.float64)
        s = s.astype(f32)
    return s


def gaussian_blur_f32_ref(img, block, variant="opencv_avx2"):
    """float32 GaussianBlur(ksize=(block,block), sigma 0, BORDER_REPLICATE) of an 8-bit image.
    variant 'opencv_avx2' mimics the x86-64 AVX2 build's SIMD/tail split; 'plain' and 'f64'
    are simpler orders (see THRESHOLDS.md)."""
    k = gaussian_kernel_f32(block)
    r = block // 2
    Hh, Ww = img.shape
    x = img.astype(f32)
    P = x[:, replicate_index(np.arange(-r, Ww + r), Ww)]
    if variant == "opencv_avx2":
        t = _pass(P, k, 1, "row_fma")
        tr = (Ww // 4) * 4
        t[:, tr:] = _pass(P, k, 1, "row_plain")[:, tr:]
        Q = t[replicate_index(np.arange(-r, Hh + r), Hh)]
        g = _pass(Q, k, 0, "col_fma")
        tc = (Ww // 8) * 8
        g[:, tc:] = _pass(Q, k, 0, "col_plain")[:, tc:]
    elif variant == "plain":
        t = _pass(P, k, 1, "row_plain")
        g = _pass(t[replicate_index(np.arange(-r, Hh + r), Hh)], k, 0, "col_plain")
    else:
        t = _pass(P, k, 1, "f64")
        g = _pass(t[replicate_index(np.arange(-r, Hh + r), Hh)], k, 0, "f64")
    return g


def adaptive_gauss_mean_ref(img, block, variant="opencv_avx2"):
    g = gaussian_blur_f32_ref(img, block, variant)
    return np.clip(np.rint(g), 0, 255).astype(np.int64)  # cvRound: half to even


def adaptive_binarize(img, mean, C):
    idelta = math.ceil(C)  # THRESH_BINARY: cvCeil(delta)
    return np.where(img.astype(np.int64) - mean > -idelta, 255, 0).astype(np.uint8)


# ----------------------------------------------------------------------------- images
def synthetic_images():
    ims = {}
    rng = np.random.default_rng(20240611)
    # 1. gradient + blobs + noise, 61x47 (W x H)
    H, W = 47, 61
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    v = 40 + 120 * xx / (W - 1) + 30 * yy / (H - 1)
    for cy, cx, rad, amp in [(12, 15, 7, 80), (30, 40, 10, -90), (38, 12, 5, 60), (8, 50, 6, -50)]:
        v += amp * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rad * rad))
    v += rng.normal(0, 8, v.shape)
    ims["syn_blobs_61x47"] = np.clip(np.rint(v), 0, 255).astype(np.uint8)
    # 2. document-like: bright uneven background with dark strokes, 53x71 (W x H)
    H, W = 71, 53
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    v = 200 - 50 * ((xx - 10) ** 2 + (yy - 60) ** 2) / (W * W + H * H) + rng.normal(0, 6, (H, W))
    for row in range(6, H - 6, 9):
        for col in range(4, W - 6, 7):
            if rng.random() < 0.7:
                ww = int(rng.integers(2, 6))
                v[row:row + 5, col:col + 1] -= 110
                v[row + 4:row + 5, col:col + ww] -= 110
    ims["syn_text_53x71"] = np.clip(np.rint(v), 0, 255).astype(np.uint8)
    # 3. four flat levels with 1-pixel noise spots, 37x29 (exactly 4 gray values)
    H, W = 29, 37
    lv = np.array([30, 90, 160, 220], np.uint8)
    idx = ((np.arange(W)[None, :] // 10) + (np.arange(H)[:, None] // 8)) % 4
    img = lv[idx]
    spots = rng.random((H, W)) < 0.05
    img[spots] = lv[rng.integers(0, 4, int(spots.sum()))]
    ims["syn_levels_37x29"] = img
    # 4. constant image 19x13
    ims["syn_const_19x13"] = np.full((13, 19), 128, np.uint8)
    return ims


def synthetic16():
    rng = np.random.default_rng(77)
    H, W = 31, 43
    yy, xx = np.mgrid[0:H, 0:W]
    v = 1000 + 150 * (xx > 20) + 80 * (yy > 15) + rng.normal(0, 12, (H, W))
    return np.clip(np.rint(v), 1000, 1300).astype(np.uint16)


DIBCO_CROPS = [("dibco/images/DIBCO2009_H03.png", 200, 150, 128, 96),
               ("dibco/images/DIBCO2010_H04.png", 400, 200, 128, 96)]


def write_png(path, a):
    bd = 16 if a.dtype == np.uint16 else 8
    with open(path, "wb") as f:
        png.Writer(a.shape[1], a.shape[0], greyscale=True, bitdepth=bd).write(f, a.tolist())


def sha(mask):
    return hashlib.sha256(np.ascontiguousarray(mask, np.uint8).tobytes()).hexdigest()


LOCAL = [("niblack", 15, 0.2, None), ("niblack", 25, -0.2, None),
         ("sauvola", 15, 0.2, None), ("sauvola", 25, 0.5, 128.0)]
ADAPT = [("mean", 11, 2), ("mean", 35, -5), ("gaussian", 11, 2), ("gaussian", 35, -5)]


def fmt(x):
    return repr(float(x)).rstrip("0").rstrip(".") if float(x) != int(x) else str(int(x))


def process(name, img, synthetic):
    e = {}
    # multi-Otsu
    mo = {}
    for K in (3, 4, 5):
        try:
            lib = [int(t) for t in threshold_multiotsu(img, classes=K)]
        except ValueError as ex:
            lib = None
            err = str(ex).split(".")[0]
        try:
            ref = [int(t) for t in multiotsu_ref(img, K)]
        except ValueError:
            ref = None
        check(lib == ref, f"{name} multiotsu K={K}: skimage {lib} ref {ref}")
        mo[str(K)] = lib if lib is not None else {"error": "ValueError: " + err}
    e["multiotsu"] = mo
    tl = int(threshold_triangle(img))
    tr = triangle_ref(img)
    check(tl == tr, f"{name} triangle {tl} vs {tr}")
    e["triangle"] = tl
    e["triangle_foreground"] = int((img > tl).sum())
    masks = {}
    surfaces = {}
    for meth, w, k, r in LOCAL:
        if meth == "niblack":
            T = threshold_niblack(img, window_size=w, k=k)
            R = niblack_ref(img, w, k)
            key = f"niblack_w{w}_k{fmt(k)}"
        else:
            T = threshold_sauvola(img, window_size=w, k=k, r=r)
            R = sauvola_ref(img, w, k, r)
            key = f"sauvola_w{w}_k{fmt(k)}" + ("" if r is None else f"_r{fmt(r)}")
        check(T.dtype == np.float64, f"{name} {key} dtype {T.dtype}")
        mask = np.where(img > T, 255, 0).astype(np.uint8)
        rmask = np.where(img > R, 255, 0).astype(np.uint8)
        check(np.array_equal(mask, rmask), f"{name} {key} mask differs")
        diff = float(np.abs(T - R).max())
        d = np.abs(img.astype(np.float64) - T)
        surfaces[key] = {"min": float(T.min()), "max": float(T.max()), "mean": float(T.mean()),
                         "max_abs_diff_numpy_ref": diff,
                         "ties_within_1e-9": int((d <= 1e-9).sum()),
                         "exactly_equal": int((d == 0).sum()),
                         "closest_nonzero_gap": float(d[d > 0].min()) if (d > 0).any() else None}
        masks[key] = mask
    for meth, b, C in ADAPT:
        key = f"adaptive_{meth}_b{b}_C{fmt(C)}"
        lib = cv2.adaptiveThreshold(img, 255, cv2.ADAPTIVE_THRESH_MEAN_C if meth == "mean" else
                                    cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, b, C)
        if meth == "mean":
            mean = adaptive_mean_ref(img, b)
            box = cv2.boxFilter(img, cv2.CV_8U, (b, b), normalize=True,
                                borderType=cv2.BORDER_REPLICATE | cv2.BORDER_ISOLATED)
            check(np.array_equal(box.astype(np.int64), mean), f"{name} {key} box mean")
        else:
            mean = adaptive_gauss_mean_ref(img, b)
            gl = cv2.GaussianBlur(img.astype(f32), (b, b), 0, 0,
                                  borderType=cv2.BORDER_REPLICATE | cv2.BORDER_ISOLATED)
            nf = int((gaussian_blur_f32_ref(img, b) != gl).sum())
            lib_mean = np.clip(np.rint(gl), 0, 255).astype(np.int64)
            check(np.array_equal(lib_mean, mean), f"{name} {key} gaussian uint8 mean")
            GAUSS_STATS.append({"image": name, "block": b, "float_mismatch_avx2_model": nf,
                                "uint8_mismatch_plain_f32": int((adaptive_gauss_mean_ref(img, b, "plain") != lib_mean).sum()),
                                "uint8_mismatch_f64": int((adaptive_gauss_mean_ref(img, b, "f64") != lib_mean).sum()),
                                "max_abs_float_diff_f64": float(np.abs(gaussian_blur_f32_ref(img, b, "f64").astype(np.float64) - gl).max()),
                                "min_dist_to_half": float(np.abs(np.abs(gl - np.floor(gl)) - 0.5).min())})
        ref = adaptive_binarize(img, mean, C)
        check(np.array_equal(lib, ref), f"{name} {key} mask differs")
        masks[key] = lib
    e["surfaces"] = surfaces
    e["masks"] = {}
    for key, mask in masks.items():
        ent = {"sha256": sha(mask), "foreground": int((mask == 255).sum())}
        if synthetic:
            fn = f"{name}_{key}.png"
            write_png(OUT / fn, mask)
            ent["file"] = fn
        e["masks"][key] = ent
    return e


GAUSS_STATS = []


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for p in OUT.glob("*.png"):
        p.unlink()
    images = []
    for name, img in synthetic_images().items():
        write_png(OUT / f"{name}.png", img)
        e = {"name": name, "file": f"{name}.png", "width": img.shape[1], "height": img.shape[0],
             "input_sha256": sha(img)}
        e.update(process(name, img, True))
        images.append(e)
        print("done", name, flush=True)
    for rel, x, y, w, h in DIBCO_CROPS:
        full = np.asarray(Image.open(DATA / rel))
        assert full.ndim == 2 and full.dtype == np.uint8, rel
        img = np.ascontiguousarray(full[y:y + h, x:x + w])
        name = Path(rel).stem + f"_x{x}_y{y}"
        e = {"name": name, "dataset_path": rel, "x": x, "y": y, "w": w, "h": h,
             "input_sha256": sha(img)}
        e.update(process(name, img, False))
        images.append(e)
        print("done", name, flush=True)
    # 16-bit
    img16 = synthetic16()
    write_png(OUT / "syn16_43x31.png", img16)
    mo16 = {}
    for K in (3, 4):
        lib = [int(t) for t in threshold_multiotsu(img16, classes=K)]
        ref = [int(t) for t in multiotsu_ref(img16, K)]
        check(lib == ref, f"syn16 multiotsu K={K}: {lib} vs {ref}")
        mo16[str(K)] = lib
    sixteen = {"file": "syn16_43x31.png", "width": 43, "height": 31,
               "input_sha256_le": hashlib.sha256(img16.astype("<u2").tobytes()).hexdigest(),
               "min": int(img16.min()), "max": int(img16.max()),
               "histogram_bins": int(img16.max()) - int(img16.min()) + 1,
               "multiotsu": mo16, "triangle": int(threshold_triangle(img16))}
    check(sixteen["triangle"] == triangle_ref(img16), "syn16 triangle")
    doc = {
        "generator": {"script": SCRIPT, "numpy": np.__version__, "scikit-image": version("scikit-image"),
                      "opencv-python-headless": cv2.__version__, "pypng": version("pypng")},
        "spec": "scripts/reference/THRESHOLDS.md",
        "mask_hash_rule": "sha256 of the H*W mask bytes (0 or 255, uint8), row-major, no header",
        "input_hash_rule": "sha256 of the H*W gray bytes row-major (16-bit: little-endian uint16)",
        "binarization": "skimage methods: foreground (255) iff pixel > threshold (strict, pixel as float64); "
                        "OpenCV adaptive THRESH_BINARY: 255 iff src - mean > -ceil(C)",
        "crop_rule": "crop = gray[y:y+h, x:x+w] of the 8-bit gray PNG at <data>/dataset_path "
                     "(<data> = $CVSEG_DATA or <repo>/../shared/data)",
        "params": {"local": [{"method": m, "window": w, "k": k, "r": r} for m, w, k, r in LOCAL],
                   "adaptive": [{"method": m, "blockSize": b, "C": C, "maxValue": 255,
                                 "type": "THRESH_BINARY"} for m, b, C in ADAPT]},
        "images": images,
        "sixteen_bit": sixteen,
        "gaussian_precision": GAUSS_STATS,
    }
    with open(OUT / "expected.json", "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    if FAILS:
        print(f"{len(FAILS)} mismatches", file=sys.stderr)
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
