#!/usr/bin/env python3
"""Write the image-I/O test fixtures read by Tests/CVSegIOTests.

Makes, under Tests/CVSegIOTests/Fixtures/ (located from this script's own path):

  png/   small PNGs written by pypng (deliberately an encoder other than libpng): every
         colour type and bit depth, palettes with and without tRNS, gray with tRNS, and
         Adam7-interlaced files; png/manifest.json holds the decoded samples the cvseg
         reader must deliver (palettes expanded to colour, low-bit gray scaled to 8 bits).
  jpeg/  small JPEGs written by Pillow (gray, 4:2:0, 4:4:4, progressive, CMYK);
         jpeg/manifest.json holds Pillow's decoded samples.
  bad/   files that must make the decoders throw (empty, truncated, bad CRC, corrupt
         zlib / entropy data, wrong extension, not an image, huge dimensions);
         bad/manifest.json says how each was made.

Everything is deterministic: each file draws its values from numpy.random.default_rng with
a fixed per-file seed (SEEDS below / literal seeds), so rerunning the script rewrites
byte-identical files as long as the package versions stay the same.

Expected values are computed with numpy from the generated values, never by reading the
files back; the files are then decoded again with pypng, Pillow, OpenCV and (for JPEG)
djpeg as a cross-check, and the script exits non-zero if any cross-check fails.

Run:  PY=$(scripts/python-env)/bin/python; $PY scripts/reference/make_io_fixtures.py
"""

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from importlib.metadata import version
from pathlib import Path

import cv2
import numpy as np
import png  # pypng
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "Tests" / "CVSegIOTests" / "Fixtures"
SCRIPT = "scripts/reference/make_io_fixtures.py"

W, H = 7, 5  # odd on purpose, to exercise bit packing of partial bytes

# Fixed seed per PNG file.
SEEDS = {
    "gray1.png": 101, "gray2.png": 102, "gray4.png": 104, "gray8.png": 108, "gray16.png": 116,
    "graya8.png": 208, "graya16.png": 216,
    "rgb8.png": 308, "rgb16.png": 316, "rgba8.png": 408, "rgba16.png": 416,
    "pal1.png": 501, "pal2.png": 502, "pal4.png": 504, "pal8.png": 508,
    "pal8_trns.png": 518, "pal4_trns.png": 514,
    "gray8_interlaced.png": 608, "rgb16_interlaced.png": 616,
    "pal2_interlaced.png": 602, "rgba8_interlaced.png": 618,
    "gray8_trns.png": 708,
    "rgb8_interlaced_33x17.png": 808,
}

FAILURES = []


def check(cond, msg):
    if not cond:
        FAILURES.append(msg)
        print("CROSS-CHECK FAILED:", msg, file=sys.stderr)


def versions():
    return {
        "pypng": version("pypng"),
        "pillow": version("pillow"),
        "numpy": version("numpy"),
        "opencv-python-headless": version("opencv-python-headless"),
        "opencv": cv2.__version__,
        "python": sys.version.split()[0],
    }


def dump_manifest(path, head, files):
    """JSON with one line per file entry (readable diffs, small files)."""
    lines = ["{"]
    for k, v in head.items():
        lines.append(f"  {json.dumps(k)}: {json.dumps(v)},")
    lines.append('  "files": [')
    for i, f in enumerate(files):
        lines.append("    " + json.dumps(f, separators=(", ", ": ")) + ("," if i + 1 < len(files) else ""))
    lines.append("  ]")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------- PNG chunk helpers

def png_chunks(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, out = 8, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        typ = data[pos + 4:pos + 8]
        out.append((typ, pos, n, data[pos + 8:pos + 8 + n]))
        pos += 12 + n
    return out


def chunk(typ, payload):
    return struct.pack(">I", len(payload)) + typ + payload + struct.pack(">I", zlib.crc32(typ + payload))


# ---------------------------------------------------------------- PNG fixtures

def rand_samples(rng, h, w, c, maxval):
    """Random samples covering the full range: pixel (0,0) is all 0, the last pixel all max."""
    a = rng.integers(0, maxval + 1, size=(h, w, c), dtype=np.int64)
    a[0, 0, :] = 0
    a[-1, -1, :] = maxval
    return a


def rand_indices(rng, h, w, n):
    a = rng.integers(0, n, size=(h, w), dtype=np.int64)
    a[0, 0] = 0
    a[-1, -1] = n - 1
    return a


def make_palette(rng, n, n_alpha):
    """n RGB entries; the first n_alpha also carry alpha (pypng wants 4-tuples first)."""
    rgb = rng.integers(0, 256, size=(n, 3), dtype=np.int64)
    rgb[0] = (0, 0, 0)
    rgb[-1] = (255, 255, 255)
    alpha = np.full(n, 255, dtype=np.int64)
    if n_alpha:
        a = rng.integers(1, 255, size=n_alpha, dtype=np.int64)
        a[0] = 0  # fully transparent entry
        if n_alpha > 2:
            a[2] = 255  # an explicit opaque entry inside tRNS
        alpha[:n_alpha] = a
    pal_tuples = [tuple(int(x) for x in rgb[i]) + ((int(alpha[i]),) if i < n_alpha else ()) for i in range(n)]
    return rgb, alpha, pal_tuples


def write_png(path, writer, rows):
    with open(path, "wb") as f:
        writer.write(f, rows)


def verify_png_structure(path, e, has_trns, trns_len=None):
    chunks = png_chunks(path.read_bytes())
    typ, _, _, ihdr = chunks[0]
    assert typ == b"IHDR"
    w, h, bd, ct, _, _, il = struct.unpack(">IIBBBBB", ihdr)
    ctmap = {0: "gray", 2: "rgb", 3: "palette", 4: "gray_alpha", 6: "rgba"}
    check((w, h, bd, ctmap[ct], bool(il)) == (e["width"], e["height"], e["bit_depth"], e["color_type"], e["interlaced"]),
          f"{path.name}: IHDR {(w, h, bd, ct, il)} does not match manifest")
    trns = [c for c in chunks if c[0] == b"tRNS"]
    check(bool(trns) == has_trns, f"{path.name}: tRNS present={bool(trns)} expected {has_trns}")
    if trns and trns_len is not None:
        check(trns[0][2] == trns_len, f"{path.name}: tRNS length {trns[0][2]} expected {trns_len}")
    for typ, pos, n, payload in chunks:
        check(zlib.crc32(typ + payload) == struct.unpack(">I", path.read_bytes()[pos + 8 + n:pos + 12 + n])[0],
              f"{path.name}: bad CRC in {typ}")


def crosscheck_png(path, e, raw, kind):
    """raw: generated values before expansion (indices for palette; unscaled gray)."""
    exp = np.array(e["expected"]["samples"], dtype=np.int64).reshape(e["height"], e["width"], e["expected"]["channels"])
    name = path.name

    # pypng, asDirect(): palette/tRNS expanded, low-bit gray NOT scaled.
    w, h, rows, info = png.Reader(filename=str(path)).asDirect()
    d = np.array([list(r) for r in rows], dtype=np.int64).reshape(h, w, -1)
    if kind == "gray" and e["bit_depth"] < 8:
        check(info["bitdepth"] == e["bit_depth"], f"{name}: pypng bitdepth {info['bitdepth']}")
        check(np.array_equal(d, raw), f"{name}: pypng asDirect differs from generated values")
        check(np.array_equal(d * 255 // (2 ** e["bit_depth"] - 1), exp), f"{name}: scaled pypng values differ")
    else:
        check(np.array_equal(d, exp), f"{name}: pypng asDirect differs from expected")
    # pypng, read(): raw palette indices and palette
    if kind == "palette":
        w, h, rows, info = png.Reader(filename=str(path)).read()
        idx = np.array([list(r) for r in rows], dtype=np.int64).reshape(h, w)
        check(np.array_equal(idx, raw), f"{name}: pypng indices differ")
        pal = [list(p) + [255] * (4 - len(p)) for p in info["palette"]]
        check(pal == e["palette"], f"{name}: pypng palette differs")

    # Pillow, where it does not truncate 16-bit samples.
    im = Image.open(path)
    im.load()
    pil = None
    if kind == "palette":
        check(im.mode == "P", f"{name}: Pillow mode {im.mode}")
        pil = np.array(im.convert("RGBA" if e["expected"]["channels"] == 4 else "RGB"), dtype=np.int64)
        check(np.array_equal(np.array(im, dtype=np.int64), raw), f"{name}: Pillow indices differ")
    elif e["color_type"] == "gray" and "transparent" in e:
        check(im.info.get("transparency") == e["transparent"], f"{name}: Pillow transparency {im.info.get('transparency')}")
        g = np.array(im, dtype=np.int64)
        pil = np.stack([g, np.where(g == e["transparent"], 0, 255)], axis=-1)
    elif e["bit_depth"] == 16 and e["color_type"] != "gray":
        pil = None  # Pillow reduces 16-bit LA/RGB/RGBA to 8 bits
    elif im.mode == "1":
        pil = np.array(im, dtype=np.int64) * 255
    else:
        pil = np.array(im, dtype=np.int64)
    if pil is not None:
        pil = pil.reshape(exp.shape)
        check(np.array_equal(pil, exp), f"{name}: Pillow ({im.mode}) differs from expected")

    # OpenCV (libpng or spng underneath): BGR(A) order; only compare when the layout matches.
    cvim = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    note = "opencv: not decoded"
    if cvim is not None:
        c = cvim.astype(np.int64)
        if c.ndim == 2:
            c = c[..., None]
        if c.shape[2] >= 3:
            c = c[..., [2, 1, 0] + list(range(3, c.shape[2]))]
        ch = exp.shape[2]
        if c.shape == exp.shape:
            check(np.array_equal(c, exp), f"{name}: OpenCV differs from expected")
            note = "opencv: equal"
        elif ch == 2 and c.shape[2] == 4:
            check(np.array_equal(c[..., [0, 3]], exp) and np.array_equal(c[..., 0], c[..., 1]),
                  f"{name}: OpenCV (as RGBA) differs from expected")
            note = "opencv: equal (delivered gray+alpha as RGBA)"
        elif ch == 2 and c.shape[2] == 1:
            check(np.array_equal(c[..., 0], exp[..., 0]), f"{name}: OpenCV gray differs")
            note = "opencv: gray equal (alpha dropped)"
        else:
            note = f"opencv: layout {c.shape} vs {exp.shape}, not compared"
    return note


def make_pngs():
    out = FIX / "png"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    entries, notes = [], []

    def add(name, width, height, bit_depth, color_type, interlaced, writer, rows, exp, raw, kind,
            has_trns=False, trns_len=None, extra=None):
        path = out / name
        write_png(path, writer, rows)
        e = {"file": name, "width": width, "height": height, "bit_depth": bit_depth, "color_type": color_type,
             "interlaced": interlaced}
        e.update(extra or {})
        e["expected"] = {"channels": int(exp.shape[2]), "bit_depth": 16 if bit_depth == 16 else 8,
                         "samples": [int(x) for x in exp.reshape(-1)]}
        verify_png_structure(path, e, has_trns, trns_len)
        note = crosscheck_png(path, e, raw, kind)
        notes.append(f"{name}: {note}")
        entries.append(e)

    # gray 1/2/4/8/16 (+ interlaced 8)
    for bd, name, il in [(1, "gray1.png", False), (2, "gray2.png", False), (4, "gray4.png", False),
                         (8, "gray8.png", False), (16, "gray16.png", False), (8, "gray8_interlaced.png", True)]:
        rng = np.random.default_rng(SEEDS[name])
        maxv = 2 ** bd - 1
        a = rand_samples(rng, H, W, 1, maxv)
        exp = a * 255 // maxv if bd < 8 else a
        wr = png.Writer(W, H, greyscale=True, bitdepth=bd, interlace=il)
        add(name, W, H, bd, "gray", il, wr, a[..., 0].tolist(), exp, a, "gray")

    # gray 8 with tRNS: transparent value occurs in the image
    name = "gray8_trns.png"
    rng = np.random.default_rng(SEEDS[name])
    a = rand_samples(rng, H, W, 1, 255)
    tv = int(a[2, 3, 0])
    a[[1, 4], [5, 0], 0] = tv  # make it occur a few times
    exp = np.concatenate([a, np.where(a == tv, 0, 255)], axis=-1)
    wr = png.Writer(W, H, greyscale=True, bitdepth=8, transparent=tv)
    add(name, W, H, 8, "gray", False, wr, a[..., 0].tolist(), exp, a, "gray", has_trns=True, trns_len=2,
        extra={"transparent": tv})

    # gray+alpha, RGB, RGBA at 8 and 16 (+ interlaced rgb16, rgba8, larger rgb8)
    specs = [("graya8.png", 8, "gray_alpha", 2, W, H, False), ("graya16.png", 16, "gray_alpha", 2, W, H, False),
             ("rgb8.png", 8, "rgb", 3, W, H, False), ("rgb16.png", 16, "rgb", 3, W, H, False),
             ("rgba8.png", 8, "rgba", 4, W, H, False), ("rgba16.png", 16, "rgba", 4, W, H, False),
             ("rgb16_interlaced.png", 16, "rgb", 3, W, H, True), ("rgba8_interlaced.png", 8, "rgba", 4, W, H, True),
             ("rgb8_interlaced_33x17.png", 8, "rgb", 3, 33, 17, True)]
    for name, bd, ct, c, w, h, il in specs:
        rng = np.random.default_rng(SEEDS[name])
        a = rand_samples(rng, h, w, c, 2 ** bd - 1)
        wr = png.Writer(w, h, greyscale=ct.startswith("gray"), alpha=ct in ("gray_alpha", "rgba"), bitdepth=bd,
                        interlace=il)
        add(name, w, h, bd, ct, il, wr, a.reshape(h, w * c).tolist(), a, a, "direct")

    # palettes
    pspecs = [("pal1.png", 1, 2, 0, False), ("pal2.png", 2, 4, 0, False), ("pal4.png", 4, 16, 0, False),
              ("pal8.png", 8, 21, 0, False), ("pal8_trns.png", 8, 21, 9, False), ("pal4_trns.png", 4, 16, 5, False),
              ("pal2_interlaced.png", 2, 4, 0, True)]
    for name, bd, n, n_alpha, il in pspecs:
        rng = np.random.default_rng(SEEDS[name])
        rgb, alpha, tuples = make_palette(rng, n, n_alpha)
        idx = rand_indices(rng, H, W, n)
        if n_alpha:
            exp = np.concatenate([rgb[idx], alpha[idx][..., None]], axis=-1)
        else:
            exp = rgb[idx]
        wr = png.Writer(W, H, palette=tuples, bitdepth=bd, interlace=il)
        pal = [[int(x) for x in rgb[i]] + [int(alpha[i])] for i in range(n)]
        add(name, W, H, bd, "palette", il, wr, idx.tolist(), exp, idx, "palette", has_trns=n_alpha > 0,
            trns_len=n_alpha or None,
            extra={"indices": [int(x) for x in idx.reshape(-1)], "palette": pal})
        # keep manifest key order as documented: indices/palette after expected
        e = entries[-1]
        for k in ("indices", "palette"):
            e[k] = e.pop(k)

    order = list(SEEDS)
    entries.sort(key=lambda e: order.index(e["file"]))
    dump_manifest(out / "manifest.json",
                  {"generator": f"{SCRIPT} (pypng {version('pypng')})",
                   "versions": versions(),
                   "notes": "expected = what the reader delivers with palettes expanded to colour: low-bit gray "
                            "scaled v*255//(2**depth-1); palette -> RGB 8-bit, or RGBA 8-bit when tRNS is present "
                            "(alpha 255 past the end of tRNS); gray8+tRNS -> gray,alpha. Pixel (0,0) is all zeros "
                            "and the last pixel all max so the full range occurs."},
                  entries)
    return notes


# ---------------------------------------------------------------- JPEG fixtures

JW, JH = 16, 12


def gradient_image(seed, channels):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:JH, 0:JW].astype(np.float64)
    planes = [x / (JW - 1) * 255, y / (JH - 1) * 255, (x + y) / (JW + JH - 2) * 255,
              (1 - x / (JW - 1)) * 200 + 20]
    base = np.stack(planes[:channels], axis=-1)
    base = base + rng.normal(0, 4, size=base.shape)
    return np.clip(np.rint(base), 0, 255).astype(np.uint8)


def jpeg_markers(data):
    """List of (marker, payload) for header segments up to SOS."""
    pos, out = 2, []
    assert data[:2] == b"\xff\xd8"
    while pos < len(data):
        assert data[pos] == 0xFF, pos
        m = data[pos + 1]
        (n,) = struct.unpack(">H", data[pos + 2:pos + 4])
        out.append((m, pos, data[pos + 4:pos + 2 + n]))
        if m == 0xDA:
            break
        pos += 2 + n
    return out


def sof_info(data):
    for m, pos, p in jpeg_markers(data):
        if m in (0xC0, 0xC1, 0xC2):
            nc = p[5]
            factors = [(p[6 + 3 * i + 1] >> 4, p[6 + 3 * i + 1] & 15) for i in range(nc)]
            return {"marker": m, "pos": pos, "height": struct.unpack(">H", p[1:3])[0],
                    "width": struct.unpack(">H", p[3:5])[0], "components": nc, "factors": factors}
    raise ValueError("no SOF")


def djpeg(path, extra=()):
    if not shutil.which("djpeg"):
        return None, "djpeg not installed"
    r = subprocess.run(["djpeg", *extra, "-pnm", str(path)], capture_output=True)
    return r, r.stderr.decode(errors="replace").strip()


def parse_pnm(data):
    magic = data[:2]
    parts, pos = [], 2
    while len(parts) < 3:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        start = pos
        while not data[pos:pos + 1].isspace():
            pos += 1
        parts.append(int(data[start:pos]))
    pos += 1
    w, h, _ = parts
    c = 3 if magic == b"P6" else 1
    return np.frombuffer(data[pos:pos + w * h * c], dtype=np.uint8).reshape(h, w, c)


def make_jpegs():
    out = FIX / "jpeg"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    specs = [
        ("gray_q90.jpg", "L", 1, dict(quality=90), 901),
        ("rgb_q90.jpg", "RGB", 3, dict(quality=90), 902),
        ("rgb_q75_444.jpg", "RGB", 3, dict(quality=75, subsampling=0), 903),
        ("rgb_progressive.jpg", "RGB", 3, dict(quality=90, progressive=True), 904),
        ("cmyk.jpg", "CMYK", 4, dict(quality=90), 905),
    ]
    entries, report = [], []
    for name, mode, c, opts, seed in specs:
        a = gradient_image(seed, c)
        im = Image.fromarray(a[..., 0] if c == 1 else a, mode=mode)
        path = out / name
        im.save(path, "JPEG", **opts)
        data = path.read_bytes()
        sof = sof_info(data)
        progressive = sof["marker"] == 0xC2
        check(progressive == bool(opts.get("progressive")), f"{name}: SOF marker {sof['marker']:#x}")
        check((sof["width"], sof["height"], sof["components"]) == (JW, JH, c), f"{name}: SOF {sof}")
        sub = None
        if c == 3:
            sub = {(2, 2): "4:2:0", (1, 1): "4:4:4", (2, 1): "4:2:2"}[sof["factors"][0]]
            check(sof["factors"][1:] == [(1, 1), (1, 1)], f"{name}: chroma factors {sof['factors']}")
            check(sub == ("4:4:4" if opts.get("subsampling") == 0 else "4:2:0"), f"{name}: subsampling {sub}")
        dec = Image.open(path)
        check(dec.mode == mode, f"{name}: Pillow decoded mode {dec.mode}")
        pil = np.array(dec).reshape(JH, JW, c).astype(np.int64)
        err = int(np.abs(pil - a.reshape(JH, JW, c)).max())
        e = {"file": name, "width": JW, "height": JH, "channels": c, "progressive": progressive,
             "cmyk": mode == "CMYK"}
        if sub:
            e["subsampling"] = sub
        e["quality"] = opts["quality"]
        if mode == "CMYK":
            adobe = [pl for m, _, pl in jpeg_markers(data) if m == 0xEE and pl[:5] == b"Adobe"]
            check(len(adobe) == 1, f"{name}: no Adobe APP14 marker")
            e["note"] = (f"Adobe APP14 marker present (transform {adobe[0][11] if adobe else '?'}); Pillow stores "
                         "inverted CMYK (Adobe/Photoshop convention, rawmode CMYK;I) and re-inverts on decode")
        e["expected"] = None if mode == "CMYK" else [int(v) for v in pil.reshape(-1)]
        # other decoders
        line = f"{name}: |Pillow-source| max {err}"
        cvim = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if cvim is not None and mode != "CMYK":
            cvv = cvim.reshape(JH, JW, -1).astype(np.int64)
            if c == 3:
                cvv = cvv[..., ::-1]
            d = np.abs(cvv - pil)
            line += f"; |Pillow-OpenCV| max {int(d.max())} ({int((d > 0).sum())} samples differ)"
            e["max_diff_opencv"] = int(d.max())
        r, msg = djpeg(path)
        if r is not None and r.returncode == 0 and mode != "CMYK":
            dj = parse_pnm(r.stdout).astype(np.int64)
            d = np.abs(dj.reshape(pil.shape) - pil)
            line += f"; |Pillow-djpeg(system libjpeg-turbo)| max {int(d.max())} ({int((d > 0).sum())} samples differ)"
            e["max_diff_djpeg"] = int(d.max())
        elif r is not None and mode == "CMYK":
            line += f"; djpeg -pnm rc={r.returncode} stderr={msg!r}"
        report.append(line)
        entries.append(e)
    dump_manifest(out / "manifest.json",
                  {"generator": f"{SCRIPT} (Pillow {version('pillow')}, encoder/decoder libjpeg-turbo "
                                f"{Image.core.libjpeg_turbo_version if hasattr(Image.core, 'libjpeg_turbo_version') else '?'})",
                   "versions": versions(),
                   "notes": "expected = row-major interleaved uint8 samples decoded by Pillow (islow DCT, fancy "
                            "upsampling); max_diff_* = max |Pillow - other decoder| seen when generating."},
                  entries)
    return report


# ---------------------------------------------------------------- bad files

def pypng_bytes(a, **kw):
    h, w = a.shape[:2]
    c = 1 if a.ndim == 2 else a.shape[2]
    buf = io.BytesIO()
    png.Writer(w, h, greyscale=c in (1, 2), alpha=c in (2, 4), bitdepth=8, **kw).write(buf, a.reshape(h, w * c).tolist())
    return buf.getvalue()


def pil_decode_error(data, fmt=None):
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
        return f"Pillow decoded {im.mode} {im.size} without error"
    except Exception as ex:  # noqa: BLE001
        return f"Pillow: {type(ex).__name__}: {ex}"


def inflate_until_error(data):
    """Inflate in small steps; return (bytes produced before any error, error message or None)."""
    d = zlib.decompressobj()
    out = bytearray()
    buf = data
    try:
        while True:
            out += d.decompress(buf, 16)
            buf = d.unconsumed_tail
            if d.eof:
                return bytes(out), None
            if not buf:
                out += d.flush()
                return bytes(out), "incomplete stream"
    except zlib.error as ex:
        return bytes(out), str(ex)


def opencv_says(path):
    """What OpenCV's imread (libpng / its bundled libjpeg-turbo) prints and returns for a file, for the notes."""
    code = ("import cv2, sys\ntry:\n im = cv2.imread(sys.argv[1], cv2.IMREAD_UNCHANGED)\n"
            " print('->', None if im is None else 'image ' + 'x'.join(map(str, im.shape)))\n"
            "except cv2.error as e:\n print('-> cv2.error', str(e).strip().splitlines()[-1][-90:])\n")
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, timeout=60)
    msgs = [l.strip() for l in (r.stderr.decode(errors="replace") + r.stdout.decode(errors="replace")).splitlines()
            if l.strip() and not l.startswith("[")]
    return "OpenCV imread: " + " | ".join(msgs)


def noise_jpeg(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a, "RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def make_bad():
    out = FIX / "bad"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    entries = []

    def put(name, data, kind, note):
        (out / name).write_bytes(data)
        if data:
            note += "; " + opencv_says(out / name)
        entries.append({"file": name, "kind": kind, "note": note})

    put("empty.png", b"", "empty", "0 bytes")
    put("empty.jpg", b"", "empty", "0 bytes")

    # truncated.png
    rng = np.random.default_rng(1001)
    full = pypng_bytes(rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8))
    cut = full[: len(full) * 60 // 100]
    check(b"IEND" not in cut, "truncated.png still has IEND")
    put("truncated.png", cut, "truncated",
        f"valid 64x64 RGB 8-bit noise PNG (pypng, {len(full)} bytes) cut to its first 60% ({len(cut)} bytes), "
        f"ends inside IDAT; {pil_decode_error(cut)}")

    # bad_crc.png
    # Gradient with sparse noise: compresses with dynamic Huffman blocks and LZ77 matches (pure noise would be
    # written as stored blocks, where a flipped byte only breaks the Adler-32 check).
    y, x = np.mgrid[0:32, 0:32]
    g = ((x * 8 + y * 3) % 256).astype(np.uint8)
    g[np.random.default_rng(1002).random((32, 32)) < 0.1] ^= 0x55
    good = pypng_bytes(g)
    idats = [c for c in png_chunks(good) if c[0] == b"IDAT"]
    check(len(idats) == 1, "bad_crc: expected a single IDAT")
    _, pos, n, payload = idats[0]
    crc_off = pos + 8 + n + 1
    bad = bytearray(good)
    bad[crc_off] ^= 0xFF
    put("bad_crc.png", bytes(bad), "crc",
        f"valid 32x32 gray 8-bit PNG (pypng; gradient + sparse noise, {n}-byte IDAT); byte {crc_off} (2nd byte of the IDAT CRC) xor 0xFF, data intact; "
        f"{pil_decode_error(bytes(bad))}")

    # bad_idat_data.png: corrupt deflate data with a valid CRC; choose a flip that makes inflate itself fail
    # (not merely the Adler-32 check, which libpng reports only as a benign error), scanning deterministically
    # from the middle of the stream.
    # Also require that every filter-type byte inflated before the error is valid (0..4), so that a row-by-row
    # decoder such as libpng meets the zlib error itself rather than a "bad adaptive filter value" first.
    chosen = None
    for off in list(range(len(payload) // 2, len(payload) - 6)) + list(range(3, len(payload) // 2)):
        p = bytearray(payload)
        p[off] ^= 0xFF
        produced, zerr = inflate_until_error(bytes(p))
        if zerr and "incorrect data check" not in zerr and all(b <= 4 for b in produced[::33]) \
                and len(produced) < 32 * 33:
            chosen = (off, zerr, bytes(p), len(produced))
            break
    assert chosen, "no corrupting flip found"
    off, zerr, p, nprod = chosen
    new_idat = chunk(b"IDAT", p)
    bad = good[:pos] + new_idat + good[pos + 12 + n:]
    put("bad_idat_data.png", bad, "corrupt_data",
        f"the 32x32 gray PNG of bad_crc.png with IDAT data byte {off} (of {n}; zlib header included) xor 0xFF "
        f"and the IDAT CRC recomputed (valid); zlib inflates {nprod} of the 1056 filtered bytes (all filter bytes "
        f"valid) and then fails: {zerr!r}; {pil_decode_error(bad)}")

    # wrong extensions
    jpg_ok = noise_jpeg(1003)
    small = io.BytesIO()
    Image.fromarray(gradient_image(1004, 3), "RGB").save(small, "JPEG", quality=85)
    put("jpeg_named.png", small.getvalue(), "wrong_extension",
        "valid 16x12 RGB baseline JPEG (Pillow, q85) saved with a .png extension")
    put("png_named.jpg", pypng_bytes(g[:8, :8]), "wrong_extension",
        "valid 8x8 gray 8-bit PNG (pypng) saved with a .jpg extension")

    put("text.png", b"this is not an image\n", "not_image", "plain text 'this is not an image\\n'")
    put("text.jpg", b"this is not an image\n", "not_image", "plain text 'this is not an image\\n'")

    # huge.png
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)
    huge = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 8)) + chunk(b"IEND", b"")
    put("huge.png", huge, "huge",
        "hand-built: IHDR 100000x100000 8-bit gray non-interlaced (valid CRC; under libpng's default 1e6 "
        "width/height limit, so the size check must be cvseg's own), IDAT = zlib of 8 zero bytes, IEND")

    # huge.jpg
    base = small.getvalue()
    sof = sof_info(base)
    hb = bytearray(base)
    hoff = sof["pos"] + 5  # FF C0, len(2), precision(1), height(2), width(2)
    hb[hoff:hoff + 4] = struct.pack(">HH", 65000, 65000)
    check(sof_info(bytes(hb))["width"] == 65000, "huge.jpg patch failed")
    # Not fed to djpeg: it would happily decode 4.2 Gpixel (12.7 GB) of mostly-missing scan data.
    put("huge.jpg", bytes(hb), "huge",
        f"the 16x12 baseline JPEG of jpeg_named.png (Pillow) with the SOF0 height/width fields (bytes "
        f"{hoff}..{hoff + 3}) patched to 65000x65000 (65000*65000*3 bytes = 12.7 GB decoded); scan data untouched; "
        f"libjpeg accepts it (limit 65500), so the size check must be cvseg's own")

    # truncated.jpg
    cut = jpg_ok[: len(jpg_ok) * 60 // 100]
    r, msg = djpeg_bytes(cut)
    check(r is None or "Premature end of JPEG file" in msg, f"truncated.jpg: djpeg said {msg!r}")
    put("truncated.jpg", cut, "jpeg_premature_end",
        f"valid 64x64 RGB baseline noise JPEG (Pillow, q90, {len(jpg_ok)} bytes) cut to its first 60% "
        f"({len(cut)} bytes). djpeg: {summarize_djpeg(r, msg)}; {pil_decode_error(cut)}")

    # corrupt_huffman.jpg: in the middle of the scan, write pairs FF 00 (byte-stuffed 0xFF data, i.e. runs of
    # 1-bits, which are never a valid Huffman code in Pillow's standard tables); no marker is created.
    data = jpg_ok
    sos = [m for m in jpeg_markers(data) if m[0] == 0xDA][0]
    scan_start = sos[1] + 2 + 2 + len(sos[2])
    scan_end = data.rindex(b"\xff\xd9")
    mid = (scan_start + scan_end) // 2
    while data[mid - 1] == 0xFF:
        mid += 1
    run = b"\xff\x00" * 8
    cb = bytearray(data)
    cb[mid:mid + len(run)] = run
    # the byte after the run must not be a 0x00 that used to be a stuffing byte of an overwritten 0xFF: harmless
    # either way (0xFF 0x00 then 0x00 is plain data), and no FF xx (xx != 0) pair was created:
    for i in range(scan_start, scan_end - 1):
        if cb[i] == 0xFF:
            check(cb[i + 1] == 0x00 or 0xD0 <= cb[i + 1] <= 0xD7, f"corrupt_huffman.jpg: marker created at {i}")
    r, msg = djpeg_bytes(bytes(cb))
    check(r is None or "Corrupt JPEG data" in msg, f"corrupt_huffman.jpg: djpeg said {msg!r}")
    put("corrupt_huffman.jpg", bytes(cb), "jpeg_corrupt_data",
        f"the 64x64 noise JPEG of truncated.jpg (uncut) with bytes {mid}..{mid + len(run) - 1} of the entropy-coded "
        f"scan (scan {scan_start}..{scan_end - 1}) overwritten by 8 x 'FF 00' (stuffed 0xFF data = long runs of "
        f"1-bits, an invalid Huffman code; no marker created). djpeg: {summarize_djpeg(r, msg)}; "
        f"{pil_decode_error(bytes(cb))}")

    # truncated_header.png
    th = good[:8 + 12]
    put("truncated_header.png", th, "truncated",
        "8-byte PNG signature + the first 12 of the 25 bytes of the IHDR chunk (length, type, 4 bytes of width)")

    dump_manifest(out / "manifest.json",
                  {"generator": f"{SCRIPT} (pypng {version('pypng')}, Pillow {version('pillow')})",
                   "versions": versions(),
                   "djpeg": djpeg_version()},
                  entries)
    return entries


def djpeg_bytes(data):
    with tempfile.NamedTemporaryFile(suffix=".jpg") as t:
        t.write(data)
        t.flush()
        return djpeg(t.name)


def summarize_djpeg(r, msg):
    if r is None:
        return msg
    return f"exit {r.returncode}, stderr {msg!r}"


def djpeg_version():
    if not shutil.which("djpeg"):
        return None
    r = subprocess.run(["djpeg", "-version"], capture_output=True)
    v = (r.stderr or r.stdout).decode(errors="replace").strip().splitlines()
    dpkg = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libjpeg62-turbo"], capture_output=True)
    return (v[0] if v else "?") + (f" (Debian libjpeg62-turbo {dpkg.stdout.decode()})" if dpkg.returncode == 0 else "")


def main():
    print("versions:", versions())
    notes = make_pngs()
    print("\n".join(notes))
    report = make_jpegs()
    print("\n".join(report))
    entries = make_bad()
    for e in entries:
        print(f"bad/{e['file']}: {e['kind']}: {e['note']}")
    total = sum(p.stat().st_size for p in FIX.rglob("*") if p.is_file())
    print(f"fixtures: {sum(1 for p in FIX.rglob('*') if p.is_file())} files, {total} bytes under {FIX.relative_to(ROOT)}")
    if FAILURES:
        print(f"{len(FAILURES)} cross-check(s) FAILED", file=sys.stderr)
        sys.exit(1)
    print("all cross-checks passed")


if __name__ == "__main__":
    main()
