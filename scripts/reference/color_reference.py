#!/usr/bin/env python3
"""Reference colour conversions for cvseg's ColorSpaces (Tests/CVSegCoreTests/ColorSpaceTests.swift).

Checks, on all 2^24 8-bit colours, that cvseg's integer formula for 8-bit HSV equals OpenCV's
cvtColor(COLOR_RGB2HSV) (asserted), and measures how far OpenCV's 8-bit COLOR_RGB2Lab (lookup
tables with interpolation) is from the exactly rounded scikit-image Lab that cvseg's lab8()
writes (printed, and stored in the fixture as `lab8_opencv_diff`).

Also writes label_pictures.json: scikit-image's find_boundaries(mode="thick") and
label2rgb(kind="avg", bg_label=-1) on a small seeded label map and image.

Writes Tests/CVSegCoreTests/Fixtures/color/expected.json: a sample of colours (a 16-level
grid, every tie pattern, and seeded random colours; plus a few 16-bit colours) with
scikit-image 0.26's rgb2hsv and rgb2lab (float64, repr-exact) and OpenCV's 8-bit HSV.

Run: $(scripts/python-env)/bin/python scripts/reference/color_reference.py
"""
import json
from importlib.metadata import version
from pathlib import Path

import cv2
import numpy as np
from skimage import color

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "CVSegCoreTests" / "Fixtures" / "color"

SHIFT = 12
SDIV = np.array([0] + [int(np.round((255 << SHIFT) / i)) for i in range(1, 256)], dtype=np.int64)
HDIV = np.array([0] + [int(np.round((180 << SHIFT) / (6.0 * i))) for i in range(1, 256)], dtype=np.int64)


def hsv8(rgb):
    """cvseg's formula (ColorSpaces.hsv8) in numpy."""
    r, g, b = (rgb[..., k].astype(np.int64) for k in range(3))
    v = np.maximum(r, np.maximum(g, b))
    diff = v - np.minimum(r, np.minimum(g, b))
    s = (diff * SDIV[v] + (1 << (SHIFT - 1))) >> SHIFT
    h = np.where(v == r, g - b, np.where(v == g, b - r + 2 * diff, r - g + 4 * diff))
    h = (h * HDIV[diff] + (1 << (SHIFT - 1))) >> SHIFT
    h = np.where(h < 0, h + 180, h)
    return np.stack([h, s, v], axis=-1)


def all_colours():
    c = np.arange(1 << 24, dtype=np.uint32)
    img = np.stack([(c >> 16) & 255, (c >> 8) & 255, c & 255], axis=-1).astype(np.uint8)
    return img.reshape(4096, 4096, 3)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    img = all_colours()
    ocv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.int64)
    mine = hsv8(img)
    bad = np.count_nonzero(np.any(ocv != mine, axis=-1))
    print(f"hsv8: {bad} of {1 << 24} colours differ from OpenCV")
    assert bad == 0

    ocv_lab = cv2.cvtColor(img, cv2.COLOR_RGB2Lab).astype(np.int64)
    diffs = {}
    for rows in range(0, 4096, 256):
        part = img[rows:rows + 256]
        lab = color.rgb2lab(part)
        enc = np.stack([lab[..., 0] * 255.0 / 100.0, lab[..., 1] + 128, lab[..., 2] + 128], axis=-1)
        enc = np.clip(np.round(enc), 0, 255).astype(np.int64)
        d = np.abs(enc - ocv_lab[rows:rows + 256]).max(axis=-1)
        for k, n in zip(*np.unique(d, return_counts=True)):
            diffs[int(k)] = diffs.get(int(k), 0) + int(n)
    print("lab8 vs OpenCV, max channel difference -> colours:", diffs)

    rng = np.random.default_rng(20261129)
    grid = np.array([(r, g, b) for r in range(0, 256, 51) for g in range(0, 256, 51) for b in range(0, 256, 51)])
    ties = np.array([(a, a, b) for a in (0, 1, 128, 255) for b in (0, 2, 127, 255)]
                    + [(a, b, a) for a in (0, 1, 128, 255) for b in (0, 2, 127, 255)]
                    + [(b, a, a) for a in (0, 1, 128, 255) for b in (0, 2, 127, 255)])
    rand = rng.integers(0, 256, size=(300, 3))
    sample = np.concatenate([grid, ties, rand]).astype(np.uint8)
    px = sample[np.newaxis]
    hsv = color.rgb2hsv(px)[0]
    lab = color.rgb2lab(px)[0]
    h8 = cv2.cvtColor(px, cv2.COLOR_RGB2HSV)[0]
    wide = rng.integers(0, 65536, size=(100, 3)).astype(np.uint16)
    whsv = color.rgb2hsv(wide[np.newaxis])[0]
    wlab = color.rgb2lab(wide[np.newaxis])[0]
    out = {
        "versions": {"scikit-image": version("scikit-image"), "opencv": cv2.__version__, "numpy": np.__version__},
        "lab8_opencv_diff": {str(k): v for k, v in sorted(diffs.items())},
        "rgb8": sample.tolist(),
        "hsv": [[float(x) for x in row] for row in hsv],
        "lab": [[float(x) for x in row] for row in lab],
        "hsv8_opencv": h8.tolist(),
        "rgb16": wide.tolist(),
        "hsv16": [[float(x) for x in row] for row in whsv],
        "lab16": [[float(x) for x in row] for row in wlab],
    }
    (OUT / "expected.json").write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print("wrote", OUT / "expected.json", len(sample), "colours")


def label_pictures():
    """find_boundaries(mode="thick") and label2rgb(kind="avg", bg_label=-1) on a seeded case."""
    from skimage import segmentation
    rng = np.random.default_rng(7)
    h, w = 14, 17
    labels = np.zeros((h, w), dtype=np.int32)
    labels[:, 6:] = 1
    labels[5:10, 3:12] = 2
    labels[11:, 14:] = 300
    labels[0, 0] = -4
    image = rng.integers(0, 256, size=(h, w, 3)).astype(np.uint8)
    bounds = segmentation.find_boundaries(labels, mode="thick")
    avg = color.label2rgb(labels, image=image, kind="avg", bg_label=-1)
    return {
        "width": w, "height": h,
        "labels": labels.ravel().tolist(),
        "image": image.ravel().tolist(),
        "boundaries": bounds.ravel().astype(int).tolist(),
        "mean": [float(x) for x in avg.ravel()],
    }


if __name__ == "__main__":
    main()
    (OUT / "label_pictures.json").write_text(json.dumps(label_pictures(), separators=(",", ":")) + "\n")
    print("wrote", OUT / "label_pictures.json")
