#!/usr/bin/env python3
"""Write Tests/CVSegClassicalTests/Fixtures/otsu.json: reference Otsu thresholds.

For every image in <data>/dibco/images and <data>/weizmann_horse/images (<data> = $CVSEG_DATA or ../shared/data)
(and <repo>/samples/images when that folder exists; a missing folder is skipped) it records
  - the 8-bit gray image as cvseg computes it: gray as is; RGB(A), alpha ignored, by OpenCV 5's
    BT.601 integer formula (R*9798 + G*19235 + B*3735 + 16384) >> 15, asserted equal to
    cv2.cvtColor(RGB2GRAY) on every image; palette images are expanded to colour first,
  - skimage.filters.threshold_otsu(gray) and the threshold OpenCV's THRESH_OTSU returns,
  - foreground = number of pixels with gray > skimage threshold,
  - skimage_bt709: threshold_otsu of round(0.2125 R + 0.7154 G + 0.0721 B) (np.rint, uint8).
The dataset images are only read, never copied; paths in the JSON are relative to
<data> (or to the repository for samples/).

It also writes two seeded synthetic 16-bit gray PNGs (pypng) next to the JSON,
otsu16_a.png (bimodal over 0..65535) and otsu16_b.png (narrow range 1000..1300), with their
threshold_otsu on the uint16 array (skimage uses one histogram bin per integer value).
16-bit gray PNGs found under samples/images go to "sixteen_bit_samples" (paths relative to the
repository; the "sixteen_bit" paths are relative to the fixtures folder). Folders are searched
recursively.

Run:  PY=$(scripts/python-env)/bin/python; $PY scripts/reference/otsu_reference.py
"""

import json
import os
import struct
import sys
from importlib.metadata import version
from pathlib import Path

import cv2
import numpy as np
import png  # pypng
import skimage
from PIL import Image
from skimage.filters import threshold_otsu

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("CVSEG_DATA", ROOT.parent / "shared" / "data"))
OUT_DIR = ROOT / "Tests" / "CVSegClassicalTests" / "Fixtures"
SCRIPT = "scripts/reference/otsu_reference.py"
IMAGE_EXT = {".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".bmp", ".tif", ".tiff"}


def png_bit_depth(path):
    with open(path, "rb") as f:
        head = f.read(29)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return head[24]


def load(path):
    """Return (array HxW or HxWxC uint8, channels in the file) or (None, reason)."""
    bd = png_bit_depth(path)
    if bd == 16:
        return None, "16-bit PNG (8-bit Otsu reference only)"
    im = Image.open(path)
    im.load()
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode == "1":
        im = im.convert("L")
    if im.mode not in ("L", "LA", "RGB", "RGBA"):
        return None, f"mode {im.mode} not handled"
    a = np.asarray(im)
    return a, (1 if a.ndim == 2 else a.shape[2])


def gray15(rgb):
    r, g, b = (rgb[..., i].astype(np.int32) for i in range(3))
    return ((r * 9798 + g * 19235 + b * 3735 + 16384) >> 15).astype(np.uint8)


def to_gray(a):
    """Return (gray, bt709); both equal to the input for 1-channel images.

    NOTE: OpenCV 5.0's cvtColor RGB2GRAY uses 15-bit fixed point (checked on all 2^24 colours);
    OpenCV 4's 14-bit weights (4899, 9617, 1868) differ from it by +-1 on 43864 colours. The
    assertion pins OpenCV's behaviour down so that a change is noticed.
    """
    if a.ndim == 2:
        return a, a
    if a.shape[2] == 2:  # gray + alpha: alpha ignored
        return a[..., 0], a[..., 0]
    rgb = np.ascontiguousarray(a[..., :3])
    gray = gray15(rgb)
    assert np.array_equal(gray, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)), "BT.601 gray differs from cv2.cvtColor"
    f = rgb.astype(np.float64)
    bt709 = np.clip(np.rint(0.2125 * f[..., 0] + 0.7154 * f[..., 1] + 0.0721 * f[..., 2]), 0, 255).astype(np.uint8)
    return gray, bt709


def image_sets():
    sets = [(DATA / "dibco" / "images", DATA), (DATA / "weizmann_horse" / "images", DATA),
            (ROOT / "samples" / "images", ROOT)]
    for folder, base in sets:
        if not folder.is_dir():
            print(f"skip (missing): {folder}")
            continue
        for p in sorted(folder.rglob("*")):
            if p.is_file() and p.suffix.lower() in IMAGE_EXT:
                yield p, p.relative_to(base).as_posix()


def otsu_cv(gray):
    t, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return t


def synthetic16():
    """Two seeded 40x30 16-bit images written with pypng; returns their JSON entries."""
    h, w = 30, 40
    rng = np.random.default_rng(1616)
    # a: bimodal, modes near 14000 and 47000, spread over the whole 0..65535 range
    n = h * w
    which = rng.random(n) < 0.4
    v = np.where(which, rng.normal(47000, 9000, n), rng.normal(14000, 7000, n))
    a = np.clip(np.rint(v), 0, 65535).astype(np.uint16)
    a[0], a[-1] = 0, 65535
    # b: narrow range 1000..1300, two overlapping modes
    rng = np.random.default_rng(1617)
    which = rng.random(n) < 0.55
    v = np.where(which, rng.normal(1210, 30, n), rng.normal(1080, 35, n))
    b = np.clip(np.rint(v), 1000, 1300).astype(np.uint16)
    entries = []
    for name, img in (("otsu16_a.png", a.reshape(h, w)), ("otsu16_b.png", b.reshape(h, w))):
        path = OUT_DIR / name
        with open(path, "wb") as f:
            png.Writer(w, h, greyscale=True, bitdepth=16).write(f, img.tolist())
        # cross-check the file and the threshold
        rw, rh, rows, info = png.Reader(filename=str(path)).asDirect()
        back = np.array([list(r) for r in rows], dtype=np.uint16)
        assert info["bitdepth"] == 16 and np.array_equal(back, img), f"{name}: pypng read-back differs"
        cvb = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert cvb.dtype == np.uint16 and np.array_equal(cvb, img), f"{name}: OpenCV read-back differs"
        t = int(threshold_otsu(img))
        e = {"path": name, "width": w, "height": h, "min": int(img.min()), "max": int(img.max()),
             "skimage": t, "foreground": int((img > t).sum())}
        try:  # recent OpenCV accepts CV_16UC1 for THRESH_OTSU; informational only
            e["opencv"] = int(otsu_cv(img))
        except cv2.error:
            pass
        entries.append(e)
        print(f"{name}: {e}")
    return entries


def dump(path, head, images, sixteen, samples16):
    lines = ["{"]
    for k, v in head.items():
        lines.append(f"  {json.dumps(k)}: {json.dumps(v)},")
    lists = [("images", images), ("sixteen_bit", sixteen)]
    if samples16:
        lists.append(("sixteen_bit_samples", samples16))
    for i, (key, items) in enumerate(lists):
        last = i + 1 == len(lists)
        lines.append(f'  "{key}": [')
        lines += ["    " + json.dumps(e) + ("," if i + 1 < len(items) else "") for i, e in enumerate(items)]
        lines.append("  ]" + ("" if last else ","))
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")


def main():
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    vers = {"scikit-image": skimage.__version__, "opencv": cv2.__version__, "numpy": version("numpy"),
            "pillow": version("pillow"), "pypng": version("pypng"), "python": sys.version.split()[0]}
    print("versions:", vers)
    images, disagree, samples16 = [], [], []
    for path, rel in image_sets():
        a, ch = load(path)
        if a is None and png_bit_depth(path) == 16:
            g = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            if g is not None and g.ndim == 2 and g.dtype == np.uint16:
                t = int(threshold_otsu(g))
                samples16.append({"path": rel, "width": int(g.shape[1]), "height": int(g.shape[0]), "skimage": t,
                                  "foreground": int((g > t).sum())})
                print(f"16-bit gray {rel}: {samples16[-1]}")
                continue
        if a is None:
            print(f"skip {rel}: {ch}")
            continue
        gray, bt709 = to_gray(a)
        t_sk = int(threshold_otsu(gray))
        t_cv = otsu_cv(gray)
        assert float(t_cv).is_integer()
        t_cv = int(t_cv)
        e = {"path": rel, "width": int(gray.shape[1]), "height": int(gray.shape[0]), "channels": ch,
             "skimage": t_sk, "opencv": t_cv, "foreground": int((gray > t_sk).sum()),
             "skimage_bt709": int(threshold_otsu(bt709))}
        if Image.open(path).mode == "P":
            e["palette"] = True  # channels = after expanding the palette to colour
        if path.suffix.lower() in (".jpg", ".jpeg"):
            e["lossy"] = True  # decoded by Pillow; another libjpeg may differ by +-1
        if t_sk != t_cv:
            disagree.append((rel, t_sk, t_cv))
        images.append(e)
    print(f"{len(images)} images; skimage != opencv on {len(disagree)}: {disagree}")
    bt = [(e["path"], e["skimage"], e["skimage_bt709"]) for e in images if e["skimage"] != e["skimage_bt709"]]
    print(f"BT.601 vs BT.709 threshold differs on {len(bt)} images; max |diff| "
          f"{max((abs(x[1] - x[2]) for x in bt), default=0)}")
    sixteen = synthetic16()
    head = {"generator": f"{SCRIPT} (scikit-image {skimage.__version__}, OpenCV {cv2.__version__}, "
                         f"numpy {version('numpy')}, Pillow {version('pillow')}, pypng {version('pypng')})",
            "convention": "foreground = gray > threshold",
            "gray": "1 channel: as is; RGB(A), alpha ignored: (R*9798 + G*19235 + B*3735 + 16384) >> 15, "
                    f"equal to cv2.cvtColor RGB2GRAY (OpenCV {cv2.__version__}); bt709: np.rint(0.2125R + 0.7154G + 0.0721B)",
            "skimage_opencv_disagreements": len(disagree)}
    dump(OUT_DIR / "otsu.json", head, images, sixteen, samples16)
    print("wrote", (OUT_DIR / "otsu.json").relative_to(ROOT), (OUT_DIR / "otsu.json").stat().st_size, "bytes")


if __name__ == "__main__":
    main()
