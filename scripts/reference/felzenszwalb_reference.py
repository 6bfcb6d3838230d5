#!/usr/bin/env python3
"""Write the Felzenszwalb-Huttenlocher fixtures read by Tests/CVSegClassicalTests/FelzenszwalbTests.swift.

Makes Tests/CVSegClassicalTests/Fixtures/felzenszwalb/ (located from this script's own path):

  expected.json   per case (an image path relative to <data> or to the fixture folder, a crop
                  [x, y, width, height] taken before anything else, and the parameters scale,
                  sigma, min_size): scikit-image 0.26's segment count and the sha256 of its
                  label map as int32 little-endian row-major; the sha256 of the decoded crop's
                  bytes (so a decoder difference is told apart from an algorithm difference);
                  and a few Gaussian-filter values (scipy.ndimage.gaussian_filter, the smoothing
                  step) for a tiny synthetic image.
                  "full_cases": the same for three whole images (one also at skimage's defaults,
                  scale 1, sigma 0.8, min_size 20), for an opt-in test.
  syn_rgb.png     small seeded synthetic 8-bit RGB image (blocks + noise).
  syn_gray16.png  small seeded synthetic 16-bit gray image (gradient + disc + noise).

<data> = $CVSEG_DATA, else <repo>/../shared/data; dataset images are read in place, never copied.

How scikit-image computes felzenszwalb (skimage/segmentation/_felzenszwalb_cy.pyx, 0.26), as
reimplemented by `felzenszwalb_numpy` below, which must give identical labels (checked here):
  1. image = img_as_float(image) (uint8 * (1/255), uint16 * (1/65535), float64), as (H, W, C);
     all C channels are used (an RGBA image's alpha would count as a 4th channel).
  2. scale = scale / 255.
  3. image = ndi.gaussian_filter(image, sigma=[sigma, sigma, 0]) (mode 'reflect', truncate 4.0).
  4. costs = Euclidean channel distance of the 8-neighbour edges, concatenated in the order
     right (y, x)-(y, x+1), down, down-right, up-right (y+1, x)-(y, x+1); each block raster
     ordered.
  5. order = np.argsort(costs) (numpy's default kind, not stable).
  6. for each edge in order: a, b = roots; if a != b and cost < min(float32(int_a + scale/size_a),
     float32(int_b + scale/size_b)) then merge, int = cost (the thresholds are C floats).
  7. for each edge in order: merge if either root's size < min_size.
  8. labels = np.unique(root, return_inverse=True): roots are the smallest pixel index of each
     component, so labels are numbered in raster order of first appearance.

Run:  $(scripts/python-env)/bin/python scripts/reference/felzenszwalb_reference.py
"""

import hashlib
import json
import os
import sys

import numpy as np
import scipy.ndimage as ndi
from PIL import Image
from skimage.segmentation import felzenszwalb
from skimage.util import img_as_float

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DATA = os.environ.get("CVSEG_DATA", os.path.join(REPO, "..", "shared", "data"))
OUT = os.path.join(REPO, "Tests", "CVSegClassicalTests", "Fixtures", "felzenszwalb")

PARAMS = [dict(scale=100.0, sigma=0.5, min_size=50), dict(scale=300.0, sigma=0.8, min_size=20)]
CROP = 96


def felzenszwalb_numpy(image, scale, sigma, min_size, float32_thresholds=True, kind=None):
    image = img_as_float(np.atleast_3d(image)).astype(np.float64, copy=False)
    scale = float(scale) / 255.0
    image = ndi.gaussian_filter(image, sigma=[sigma, sigma, 0])
    h, w = image.shape[:2]

    def cost(a, b):
        d = a - b
        return np.sqrt(np.sum(d * d, axis=-1))

    costs = np.hstack([cost(image[:, 1:], image[:, :-1]).ravel(), cost(image[1:, :], image[:-1, :]).ravel(),
                       cost(image[1:, 1:], image[:-1, :-1]).ravel(), cost(image[1:, :-1], image[:-1, 1:]).ravel()])
    idx = np.arange(h * w).reshape(h, w)
    edges = np.vstack([np.c_[idx[:, 1:].ravel(), idx[:, :-1].ravel()], np.c_[idx[1:, :].ravel(), idx[:-1, :].ravel()],
                       np.c_[idx[1:, 1:].ravel(), idx[:-1, :-1].ravel()], np.c_[idx[:-1, 1:].ravel(), idx[1:, :-1].ravel()]])
    order = np.argsort(costs) if kind is None else np.argsort(costs, kind=kind)
    edges, costs = edges[order].tolist(), costs[order].tolist()
    parent = list(range(h * w))
    size = [1] * (h * w)
    inner = [0.0] * (h * w)
    rnd = (lambda v: float(np.float32(v))) if float32_thresholds else (lambda v: v)

    def find(i):
        r = i
        while parent[r] != r:
            r = parent[r]
        while parent[i] != r:
            parent[i], i = r, parent[i]
        return r

    def union(a, b):  # roots; the smaller index becomes the root
        r, o = (a, b) if a < b else (b, a)
        parent[o] = r
        size[r] += size[o]
        return r

    for (p, q), c in zip(edges, costs):
        a, b = find(p), find(q)
        if a == b:
            continue
        if c < min(rnd(inner[a] + scale / size[a]), rnd(inner[b] + scale / size[b])):
            inner[union(a, b)] = c
    for p, q in edges:
        a, b = find(p), find(q)
        if a != b and (size[a] < min_size or size[b] < min_size):
            union(a, b)
    roots = np.array([find(i) for i in range(h * w)])
    return np.unique(roots, return_inverse=True)[1].reshape(h, w)


def label_sha(labels):
    return hashlib.sha256(np.ascontiguousarray(labels, dtype="<i4").tobytes()).hexdigest()


def load(path, crop):
    with Image.open(path) as im:
        arr = np.array(im)
    if arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if crop is not None:
        x, y, w, h = crop
        arr = arr[y:y + h, x:x + w]
    return np.ascontiguousarray(arr)


def synthetic():
    rng = np.random.default_rng(20240611)
    rgb = np.zeros((30, 40, 3), np.float64)
    rgb[:, :] = (40, 60, 200)
    rgb[5:20, 4:18] = (220, 40, 30)
    rgb[12:28, 22:37] = (30, 200, 60)
    rgb[2:9, 25:38] = (240, 240, 90)
    rgb += rng.normal(0, 12, rgb.shape)
    rgb = np.clip(np.round(rgb), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[0:24, 0:32]
    g = 8000 + 1500.0 * xx + 300.0 * yy
    g[(yy - 12) ** 2 + (xx - 14) ** 2 < 36] = 60000
    g += rng.normal(0, 900, g.shape)
    g16 = np.clip(np.round(g), 0, 65535).astype(np.uint16)
    return rgb, g16


def main():
    os.makedirs(OUT, exist_ok=True)
    rgb, g16 = synthetic()
    Image.fromarray(rgb, "RGB").save(os.path.join(OUT, "syn_rgb.png"))
    Image.fromarray(g16).save(os.path.join(OUT, "syn_gray16.png"))
    assert np.array_equal(load(os.path.join(OUT, "syn_rgb.png"), None), rgb)
    back = load(os.path.join(OUT, "syn_gray16.png"), None)
    assert back.dtype == np.uint16 and np.array_equal(back, g16), back.dtype

    sources = [("fixture", "syn_rgb.png", None), ("fixture", "syn_gray16.png", None)]
    for rel in ["bsds500/images/train/12003.jpg", "bsds500/images/train/135037.jpg",
                "bsds500/images/train/181091.jpg", "weizmann_horse/images/horse005.png",
                "weizmann_horse/images/horse009.png"]:
        with Image.open(os.path.join(DATA, rel)) as im:
            w, h = im.size
        # A CROP x CROP window at the centre (integer division, as the Swift test recomputes).
        sources.append(("data", rel, [(w - CROP) // 2, (h - CROP) // 2, CROP, CROP]))

    # Whole images, for the opt-in test (CVSEG_FELZENSZWALB_FULL=1), also with skimage's defaults.
    full = [("data", rel, None) for rel in ["bsds500/images/train/12003.jpg", "bsds500/images/train/135037.jpg",
                                             "weizmann_horse/images/horse005.png"]]
    cases, full_cases, mismatches = [], [], 0
    for root, rel, crop in sources + full:
        path = os.path.join(OUT if root == "fixture" else DATA, rel)
        img = load(path, crop)
        for p in PARAMS + ([dict(scale=1.0, sigma=0.8, min_size=20)] if crop is None and root == "data" else []):
            sk = felzenszwalb(img, channel_axis=-1 if img.ndim == 3 else None, **p)
            mine = felzenszwalb_numpy(img, **p)
            same = np.array_equal(sk, mine)
            stable = np.array_equal(sk, felzenszwalb_numpy(img, kind="stable", **p))
            f64 = np.array_equal(sk, felzenszwalb_numpy(img, float32_thresholds=False, **p))
            print(f"{rel} {crop} {p}: segments {sk.max() + 1}, numpy same={same} stable-sort same={stable} "
                  f"float64-threshold same={f64}", file=sys.stderr)
            mismatches += not (same and stable)
            (full_cases if crop is None and root == "data" else cases).append(dict(root=root, path=rel, crop=crop, scale=p["scale"], sigma=p["sigma"],
                              min_size=p["min_size"], segments=int(sk.max() + 1), labels_sha256=label_sha(sk),
                              pixels_sha256=hashlib.sha256(img.tobytes()).hexdigest()))

    # Gaussian smoothing values for a tiny 5x7 float image, both sigmas plus a wide one.
    tiny = (np.arange(35, dtype=np.float64).reshape(5, 7) ** 2 % 17) / 16.0
    gauss = []
    for s in (0.5, 0.8, 2.0):
        out = ndi.gaussian_filter(tiny, sigma=s)
        gauss.append(dict(sigma=s, output=[float(v) for v in out.ravel()]))
    doc = dict(generator="scripts/reference/felzenszwalb_reference.py", skimage=__import__("skimage").__version__,
               numpy=np.__version__, scipy=__import__("scipy").__version__,
               gaussian_input=[float(v) for v in tiny.ravel()], gaussian_shape=[5, 7], gaussian=gauss, cases=cases, full_cases=full_cases)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases; numpy reimplementation mismatches: {mismatches}", file=sys.stderr)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
