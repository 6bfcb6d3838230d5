#!/usr/bin/env python3
"""Reference fixtures for cvseg's connected components and binary morphology.

Writes Tests/CVSegClassicalTests/Fixtures/regions/:
  - <name>.png       seeded synthetic binary masks, 8-bit gray 0/255 (pypng),
  - expected.json    for every mask:
      input_sha256                  sha256 of the 0/1 uint8 bytes, row-major,
      labels["4"], labels["8"]      scipy.ndimage.label with the cross / 3x3 structure:
                                    count, sha256 of the label map as int32 little-endian
                                    row-major, and per component (label 1...N) area, box
                                    [x, y, width, height] and centroid [x, y] (mean column, mean
                                    row), all computed from scipy's label map,
      opencv                        which of OpenCV's connectedComponentsWithStats algorithms
                                    (CCL_DEFAULT, ...) give scipy's numbering exactly, and
                                    whether their stats equal the ones above,
      morphology[op][element]       sha256 of the 0/1 uint8 result of skimage.morphology's
                                    binary_erosion / binary_dilation / binary_opening /
                                    binary_closing (mode='ignore', the default) for square(3),
                                    square(5), disk(1), disk(2), disk(3), plus its foreground count.

Asserted here (exit status 1 on any failure):
  - scipy numbers components in raster order of their first pixel (row by row, left to right),
  - the stats agree with OpenCV's connectedComponentsWithStats after mapping OpenCV's labels to
    scipy's (area, box exactly; centroid to 1e-12),
  - skimage's binary_* equal the non-deprecated erosion/dilation/opening/closing of
    skimage.morphology on the same bool image, and a plain-numpy model of the border rule
    "pixels outside the image never influence the result" (erosion: outside counts as
    foreground; dilation: outside counts as background).
Which OpenCV algorithms agree with scipy's numbering is recorded, not asserted.

Run:  PY=$(scripts/python-env)/bin/python; $PY scripts/reference/regions_reference.py
"""

import hashlib
import json
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

import cv2
import numpy as np
import png  # pypng
import scipy
from scipy import ndimage as ndi
import skimage
from skimage import morphology as morph

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "CVSegClassicalTests" / "Fixtures" / "regions"
SCRIPT = "scripts/reference/regions_reference.py"
FAILS = []


def check(cond, message):
    if not cond:
        FAILS.append(message)
        print("FAIL:", message, file=sys.stderr)


def sha(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


# MARK: - Masks


def mask_blobs():
    """40x32: seeded elliptic blobs, plus hand-placed pairs touching only at a corner."""
    rng = np.random.default_rng(20240407)
    h, w = 32, 40
    m = np.zeros((h, w), bool)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(7):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(1.5, 5), rng.uniform(1.5, 6)
        m |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    # Diagonal touches: two 3x3 squares meeting at one corner, a diagonal line of single pixels,
    # and an anti-diagonal pair (the second pixel's first appearance comes before the first's row).
    m[2:5, 30:33] = True
    m[5:8, 33:36] = True
    for i in range(5):
        m[20 + i, 2 + i] = True
    m[28, 20] = True
    m[29, 19] = True
    m[27:30, 36:39] = False
    m[27, 38] = True
    m[28, 37] = True
    m[29, 36] = True
    return m


def mask_rings():
    """33x29: rings with holes (one with a one-pixel gap), objects on every border, a U shape
    whose arms are joined only below (two provisional labels merged late)."""
    h, w = 29, 33
    m = np.zeros((h, w), bool)
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - 9, xx - 10)
    m |= (r >= 3) & (r <= 5.2)
    r2 = np.hypot(yy - 20, xx - 22)
    ring2 = (r2 >= 2.5) & (r2 <= 4.5)
    ring2[20, 26:28] = False  # a gap
    m |= ring2
    m[9, 10] = True  # an island inside the first hole
    m[0, 0:6] = True  # top edge
    m[10:20, 0] = True  # left edge
    m[h - 1, 5:15] = True  # bottom edge
    m[3:8, w - 1] = True  # right edge
    m[h - 3:h, w - 3:w] = True  # bottom-right corner
    # U shape: arms at columns 27 and 31, joined at row 16.
    m[10:17, 27] = True
    m[10:17, 31] = True
    m[16, 27:32] = True
    # W-like shape: three arms joined at the bottom in an order that chains merges.
    m[22:27, 2] = True
    m[24:27, 5] = True
    m[20:27, 8] = True
    m[26, 2:9] = True
    return m


def mask_noise():
    """24x20 seeded random pixels at 45% density: many 8- vs 4-connectivity differences."""
    rng = np.random.default_rng(7)
    return rng.random((20, 24)) < 0.45


def mask_strip():
    """1x57: a single row (runs of different lengths, touching both ends)."""
    rng = np.random.default_rng(11)
    m = rng.random((1, 57)) < 0.5
    m[0, 0] = True
    m[0, -1] = True
    return m


MASKS = [
    ("blobs_40x32", mask_blobs),
    ("rings_33x29", mask_rings),
    ("noise_24x20", mask_noise),
    ("strip_57x1", mask_strip),
]

# MARK: - Labels


def raster_first_appearance(labels):
    """Labels in order of first appearance in a row-major scan (0 skipped)."""
    seen = []
    s = set()
    for v in labels.ravel():
        if v and v not in s:
            s.add(v)
            seen.append(int(v))
    return seen


def stats_of(labels, n):
    out = []
    ys, xs = np.nonzero(labels)
    ls = labels[ys, xs]
    for k in range(1, n + 1):
        sel = ls == k
        y, x = ys[sel], xs[sel]
        out.append({
            "area": int(sel.sum()),
            "box": [int(x.min()), int(y.min()), int(x.max() - x.min() + 1), int(y.max() - y.min() + 1)],
            "centroid": [float(x.sum() / sel.sum()), float(y.sum() / sel.sum())],
        })
    return out


CCL = [("CCL_DEFAULT", cv2.CCL_DEFAULT), ("CCL_WU", cv2.CCL_WU), ("CCL_SAUF", cv2.CCL_SAUF),
       ("CCL_GRANA", cv2.CCL_GRANA), ("CCL_BBDT", cv2.CCL_BBDT), ("CCL_SPAGHETTI", cv2.CCL_SPAGHETTI),
       ("CCL_BOLELLI", cv2.CCL_BOLELLI)]


def labels_entry(name, m, conn):
    structure = ndi.generate_binary_structure(2, 1 if conn == 4 else 2)
    lab, n = ndi.label(m, structure=structure)
    lab = lab.astype("<i4")
    check(raster_first_appearance(lab) == list(range(1, n + 1)),
          f"{name} conn={conn}: scipy does not number in raster order of first pixel")
    stats = stats_of(lab, n)
    u8 = m.astype(np.uint8)
    agree = {}
    for cname, algo in CCL:
        cn, clab, cstats, ccent = cv2.connectedComponentsWithStatsWithAlgorithm(u8, conn, cv2.CV_32S, algo)
        same = (cn - 1 == n) and np.array_equal(clab, lab)
        # Map OpenCV's labels to scipy's and compare the statistics in scipy's numbering.
        ok = cn - 1 == n
        if ok:
            mapping = {}
            for a, b in zip(clab.ravel(), lab.ravel()):
                if mapping.setdefault(int(a), int(b)) != int(b):
                    ok = False
                    break
        stats_ok = False
        if ok:
            stats_ok = True
            for a in range(1, cn):
                s = stats[mapping[a] - 1]
                x, y, w, h, area = (int(v) for v in cstats[a])
                if [x, y, w, h] != s["box"] or area != s["area"] \
                        or abs(ccent[a][0] - s["centroid"][0]) > 1e-12 or abs(ccent[a][1] - s["centroid"][1]) > 1e-12:
                    stats_ok = False
        check(ok and stats_ok, f"{name} conn={conn} {cname}: OpenCV's partition or stats differ from scipy's")
        agree[cname] = {"same_numbering": bool(same), "same_stats": bool(stats_ok)}
    return {"count": int(n), "sha256": sha(lab), "components": stats}, agree


# MARK: - Morphology


ELEMENTS = {
    "square3": np.ones((3, 3), bool),
    "square5": np.ones((5, 5), bool),
    "disk1": morph.disk(1).astype(bool),
    "disk2": morph.disk(2).astype(bool),
    "disk3": morph.disk(3).astype(bool),
}


def model_dilate(m, fp):
    """Dilation with pixels outside the image counted as background."""
    h, w = m.shape
    r = fp.shape[0] // 2
    p = np.zeros((h + 2 * r, w + 2 * r), bool)
    p[r:r + h, r:r + w] = m
    out = np.zeros_like(m)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if fp[dy + r, dx + r]:
                out |= p[r + dy:r + dy + h, r + dx:r + dx + w]
    return out


def model_erode(m, fp):
    """Erosion with pixels outside the image counted as foreground (= not dilation of not m)."""
    return ~model_dilate(~m, fp)


def morphology_entry(name, m):
    out = {}
    ops = {
        "erosion": (morph.binary_erosion, morph.erosion, model_erode),
        "dilation": (morph.binary_dilation, morph.dilation, model_dilate),
        "opening": (morph.binary_opening, morph.opening, lambda a, f: model_dilate(model_erode(a, f), f)),
        "closing": (morph.binary_closing, morph.closing, lambda a, f: model_erode(model_dilate(a, f), f)),
    }
    for op, (binary_fn, gray_fn, model_fn) in ops.items():
        out[op] = {}
        for ename, fp in ELEMENTS.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                got = binary_fn(m, fp)
            gray = gray_fn(m, fp).astype(bool)
            check(np.array_equal(got, gray), f"{name} {op} {ename}: binary_{op} != {op}")
            check(np.array_equal(got, model_fn(m, fp)), f"{name} {op} {ename}: the border model differs")
            b = got.astype(np.uint8)
            out[op][ename] = {"sha256": sha(b), "foreground": int(b.sum())}
    return out


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, make in MASKS:
        m = make()
        h, w = m.shape
        path = OUT / f"{name}.png"
        with open(path, "wb") as f:
            png.Writer(w, h, greyscale=True, bitdepth=8).write(f, (m.astype(np.uint8) * 255).tolist())
        u8 = m.astype(np.uint8)
        entry = {"name": name, "file": path.name, "width": w, "height": h,
                 "input_sha256": sha(u8), "foreground": int(u8.sum()), "labels": {}, "opencv": {}}
        for conn in (4, 8):
            entry["labels"][str(conn)], entry["opencv"][str(conn)] = labels_entry(name, m, conn)
        entry["morphology"] = morphology_entry(name, m)
        entries.append(entry)
        print(name, {c: entry["labels"][c]["count"] for c in ("4", "8")},
              {c: [k for k, v in entry["opencv"][c].items() if not v["same_numbering"]] for c in ("4", "8")})
    doc = {
        "generator": SCRIPT,
        "versions": {"scipy": scipy.__version__, "scikit-image": skimage.__version__,
                     "opencv": cv2.__version__, "numpy": np.__version__, "pypng": version("pypng")},
        "notes": "labels: scipy.ndimage.label; stats computed from scipy's labels, checked against "
                 "cv2.connectedComponentsWithStats; morphology: skimage.morphology.binary_* with "
                 "mode='ignore' (outside pixels never influence the result).",
        "masks": entries,
    }
    (OUT / "expected.json").write_text(json.dumps(doc, indent=1) + "\n")
    if FAILS:
        print(f"{len(FAILS)} failure(s)", file=sys.stderr)
        sys.exit(1)
    print("ok:", OUT.relative_to(ROOT))


if __name__ == "__main__":
    main()
