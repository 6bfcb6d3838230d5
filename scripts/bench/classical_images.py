#!/usr/bin/env python3
"""Deterministic test images for scripts/bench/classical, made from the shared real photos.

Every image is a mosaic of 512x512 tiles: a 512x512 image is one tile, 1024x1024 is 2x2,
2048x2048 is 4x4 and the 8192x8192 memory image 16x16, so every size has the local statistics
of a real photo at about its native resolution (edge density, texture, flat areas) and the work
per pixel stays comparable across sizes. A tile is one photo, its shorter side resized to 512
(OpenCV INTER_AREA when shrinking, INTER_CUBIC when enlarging; the photos' shorter sides are 321
to 600 pixels) and centre-cropped, mirrored left-right for every other use of the same photo.

Photos: every `.jpg`/`.png` under $CVSEG_DATA/{bsds500/images, coco128/images,
pennfudan/PNGImages, weizmann_horse/images}, sorted, shuffled with numpy.random.default_rng(SEED).
The tiles are drawn from that list in order, round robin, so the same call writes the same
pixels. RGB images are written as 8-bit RGB PNG; the gray images are the same pictures through
cv2.cvtColor(BGR2GRAY) (BT.601), 8-bit gray PNG. PNG compression: OpenCV's default.

Layout under OUT:  rgb_512/  gray_512/  rgb_1024/ ... gray_2048/  gray_8192/  (one folder per
set, files img_00.png, img_01.png, ...). Sets already present with the expected files and a
matching stamp are left as they are (make them once, reuse them); --force rewrites.
"""

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

SEED = 20261129
TILE = 512
SOURCES = ("bsds500/images", "coco128/images", "pennfudan/PNGImages", "weizmann_horse/images")
DEFAULT_SETS = "512:8,1024:4,2048:2"


def photos(data):
    files = []
    for s in SOURCES:
        d = data / s
        if not d.is_dir():
            sys.exit(f"classical images: missing photo folder {d}")
        files += sorted(p for p in d.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not files:
        sys.exit("classical images: no photos found")
    order = np.random.default_rng(SEED).permutation(len(files))
    return [files[i] for i in order]


def tile(path, flip):
    im = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if im is None:
        sys.exit(f"classical images: cannot read {path}")
    h, w = im.shape[:2]
    s = TILE / min(h, w)
    nh, nw = max(TILE, round(h * s)), max(TILE, round(w * s))
    im = cv2.resize(im, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    y, x = (nh - TILE) // 2, (nw - TILE) // 2
    im = im[y:y + TILE, x:x + TILE]
    return im[:, ::-1] if flip else im


class TileSource:
    def __init__(self, files):
        self.files, self.i, self.cache = files, 0, {}

    def next(self):
        k = self.i
        self.i += 1
        f = self.files[k % len(self.files)]
        flip = (k // len(self.files)) % 2 == 1
        key = (f, flip)
        if key not in self.cache:
            self.cache[key] = tile(f, flip)
        return self.cache[key]


def mosaic(src, size):
    n = size // TILE
    img = np.empty((size, size, 3), np.uint8)
    for r in range(n):
        for c in range(n):
            img[r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE] = src.next()
    return img


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", type=Path, required=True, help="the shared datasets folder")
    ap.add_argument("--sets", default=DEFAULT_SETS, help=f"SIZE:COUNT,... (default {DEFAULT_SETS})")
    ap.add_argument("--memory-size", type=int, default=8192, help="side of the gray memory image (0: none)")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()

    sets = []
    for item in args.sets.split(","):
        size, count = (int(v) for v in item.split(":"))
        if size % TILE:
            sys.exit(f"classical images: size {size} is not a multiple of {TILE}")
        sets.append((size, count))
    files = photos(args.data)
    args.out.mkdir(parents=True, exist_ok=True)

    # Each set gets its own tile source started at a fixed offset, so that sets do not depend on
    # which other sets were asked for.
    def write_set(name, size, count, colours):
        stamp = {"seed": SEED, "tile": TILE, "size": size, "count": count, "photos": len(files)}
        dirs = {c: args.out / f"{c}_{name}" for c in colours}
        ok = not args.force and all(
            (d / "stamp.json").is_file() and json.loads((d / "stamp.json").read_text()) == stamp
            and all((d / f"img_{i:02d}.png").is_file() for i in range(count)) for d in dirs.values())
        if ok:
            return False
        src = TileSource(files)
        src.i = size * 7 + count  # fixed, per set
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
            for p in d.glob("*.png"):
                p.unlink()
        for i in range(count):
            rgb_bgr = mosaic(src, size)
            if "rgb" in dirs:
                cv2.imwrite(str(dirs["rgb"] / f"img_{i:02d}.png"), rgb_bgr)
            if "gray" in dirs:
                cv2.imwrite(str(dirs["gray"] / f"img_{i:02d}.png"), cv2.cvtColor(rgb_bgr, cv2.COLOR_BGR2GRAY))
        for d in dirs.values():
            (d / "stamp.json").write_text(json.dumps(stamp) + "\n")
        return True

    made = []
    for size, count in sets:
        if write_set(str(size), size, count, ("rgb", "gray")):
            made.append(f"{size}:{count}")
    if args.memory_size:
        if args.memory_size % TILE:
            sys.exit(f"classical images: memory size {args.memory_size} is not a multiple of {TILE}")
        if write_set(str(args.memory_size), args.memory_size, 1, ("gray",)):
            made.append(f"memory {args.memory_size}")
    print(f"classical images: {args.out} ({'made ' + ', '.join(made) if made else 'reused'})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
