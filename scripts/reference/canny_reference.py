#!/usr/bin/env python3
"""Reference edge masks for cvseg's `canny` (Tests/CVSegClassicalTests/CannyTests.swift).

Writes Tests/CVSegClassicalTests/Fixtures/canny/:
  - syn_*.png            two seeded synthetic 96x80 gray inputs (shapes + Gaussian noise),
  - syn_*_<case>.png     their reference edge masks (0/255),
  - expected.json        the cases, and for three BSDS500 crops (dataset path + crop rectangle +
                         sha256 of the gray crop, never the pixels) the edge pixels as flat
                         row-major indices into the crop.

Cases:
  - opencv_50_150, opencv_100_200: cv2.Canny(img, low, high, apertureSize=3, L2gradient=True)
    (cvseg: sigma 0, .absolute(low, high), .l2).
  - skimage_s1_q, skimage_s2_q: skimage.feature.canny(img, sigma, 0.8, 0.9, use_quantiles=True)
    (cvseg: sigma, .quantiles(0.8, 0.9)). Quantiles are scale-free, so scikit-image's 0..1
    image scale and OpenCV's 0..255 Sobel scale need no conversion (absolute thresholds would:
    cvseg's = scikit-image's x 255).

Gray conversion of the BSDS JPEGs: PIL decode, then OpenCV 5's BT.601 integer formula
(9798 R + 19235 G + 3735 B + 16384) >> 15, as cvseg's `grayscale()`.

Run: $(scripts/python-env)/bin/python scripts/reference/canny_reference.py
"""
import hashlib
import json
import os
from importlib.metadata import version
from pathlib import Path

import cv2
import numpy as np
import png  # pypng
from PIL import Image
from skimage import feature

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "CVSegClassicalTests" / "Fixtures" / "canny"
DATA = Path(os.environ.get("CVSEG_DATA", ROOT.parent / "shared" / "data"))

CROPS = [("bsds500/images/train/113009.jpg", 100, 80, 128, 96),
         ("bsds500/images/train/117054.jpg", 200, 150, 128, 96),
         ("bsds500/images/train/118035.jpg", 60, 200, 128, 96)]

CASES = [
    {"name": "opencv_50_150", "library": "opencv", "sigma": 0.0, "kind": "absolute", "low": 50.0, "high": 150.0},
    {"name": "opencv_100_200", "library": "opencv", "sigma": 0.0, "kind": "absolute", "low": 100.0, "high": 200.0},
    {"name": "skimage_s1_q", "library": "skimage", "sigma": 1.0, "kind": "quantiles", "low": 0.8, "high": 0.9},
    {"name": "skimage_s2_q", "library": "skimage", "sigma": 2.0, "kind": "quantiles", "low": 0.8, "high": 0.9},
]


def reference(img, case):
    if case["library"] == "opencv":
        return cv2.Canny(img, case["low"], case["high"], apertureSize=3, L2gradient=True) > 0
    return feature.canny(img, sigma=case["sigma"], low_threshold=case["low"],
                         high_threshold=case["high"], use_quantiles=True)


def synthetic(seed):
    rng = np.random.default_rng(seed)
    h, w = 80, 96
    yy, xx = np.mgrid[0:h, 0:w]
    v = np.full((h, w), 60.0)
    v[15:55, 10:45] = 170
    v[(yy - 45) ** 2 + (xx - 68) ** 2 < 20 ** 2] = 120 + 40 * seed
    v[(xx + yy > 110) & (xx - yy < 20)] += 45
    v += rng.normal(0, 6 + 4 * seed, v.shape)
    return np.clip(np.rint(v), 0, 255).astype(np.uint8)


def write_png(path, a):
    with open(path, "wb") as f:
        png.Writer(a.shape[1], a.shape[0], greyscale=True, bitdepth=8).write(f, a.tolist())


def gray_bt601(rgb):
    r, g, b = (rgb[..., k].astype(np.int64) for k in range(3))
    return ((9798 * r + 19235 * g + 3735 * b + 16384) >> 15).astype(np.uint8)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    images = []
    for seed in (1, 2):
        img = synthetic(seed)
        name = f"syn_{seed}"
        write_png(OUT / f"{name}.png", img)
        entry = {"name": name, "file": f"{name}.png", "masks": {}}
        for case in CASES:
            mask = reference(img, case)
            write_png(OUT / f"{name}_{case['name']}.png", mask.astype(np.uint8) * 255)
            entry["masks"][case["name"]] = f"{name}_{case['name']}.png"
        images.append(entry)
    for path, x, y, w, h in CROPS:
        rgb = np.asarray(Image.open(DATA / path).convert("RGB"))
        img = np.ascontiguousarray(gray_bt601(rgb)[y:y + h, x:x + w])
        entry = {"name": Path(path).stem, "dataset_path": path, "x": x, "y": y, "w": w, "h": h,
                 "input_sha256": hashlib.sha256(img.tobytes()).hexdigest(), "edges": {}}
        for case in CASES:
            entry["edges"][case["name"]] = np.flatnonzero(reference(img, case)).tolist()
        images.append(entry)
    doc = {"generator": "scripts/reference/canny_reference.py",
           "versions": {"opencv": cv2.__version__, "scikit-image": version("scikit-image"), "numpy": np.__version__},
           "cases": CASES, "images": images}
    text = json.dumps(doc, separators=(",", ":"))
    (OUT / "expected.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
