#!/usr/bin/env python3
"""Classical segmentation benchmark: every `cvseg segment` method against OpenCV and scikit-image.

Run through `scripts/bench/classical` (it builds cvseg, makes the images and picks the Python
environment); see scripts/bench/README.md.

Speed. For every method and image set (512², 1024², 2048², gray and RGB), each tool does the
same job for every image of the set's folder: read the PNG, convert colour to gray where the
method works on gray, segment, write a PNG (0/255 mask or label map):

  cvseg         `cvseg segment <method> DIR -o OUT --jobs 1 --quiet [options]`, timed as a whole
                process (wall clock, start-up, decoding and PNG writing included)
  opencv        a loop in this process: cv2.imread(IMREAD_UNCHANGED), cv2.cvtColor(BGR2GRAY) for
                colour, the OpenCV function, cv2.imwrite; cv2.setNumThreads(1)
  scikit-image  a loop in this process: skimage.io.imread, rgb2gray for colour, the scikit-image
                function, skimage.io.imsave

Each cell (method x set x tool) gets one untimed warm-up, then --runs R timed runs with the tools
interleaved; the median is reported. A tool whose warm-up takes --slow seconds or more keeps
that run as its only timing (marked *). Ratios are peer median / cvseg median (above 1: cvseg is
faster). The Python loops also record the time spent in the segmentation call alone ("core").

Memory. Every cvseg method once on the 8192x8192 gray image under `/usr/bin/time -v`, with an
address-space limit (--mem-cap-gb) so that a runaway method fails instead of exhausting the
machine; peak resident set size / 67,108,864 pixels against the target of 8 bytes per pixel.
"""

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import skimage
import skimage.io
from skimage import feature, measure, morphology, segmentation
from skimage.color import rgb2gray
from skimage.filters import threshold_local, threshold_multiotsu, threshold_otsu, threshold_sauvola

HAS_XIMGPROC = hasattr(cv2, "ximgproc")
SEED_GRID = 4           # region growing / flood: a 4x4 grid of seeds, the same file for every tool
FLOOD_TOLERANCE = 10
GRAPH = dict(k=100, sigma=0.8, min_size=20)
CANNY_LOW, CANNY_HIGH = 50, 150
CANNY_S1 = dict(sigma=1.0, low=0.8, high=0.9)   # quantiles, as scikit-image's use_quantiles
SPLIT_MAX_STD = 8
TARGET_BPP = 8.0


# ----------------------------------------------------------------------------- peer helpers

def cv_read(src):
    img = cv2.imread(src, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise RuntimeError(f"opencv: cannot read {src}")
    return img


def cv_gray(img):
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img


def cv_write(dst, arr):
    if not cv2.imwrite(dst, arr):
        raise RuntimeError(f"opencv: cannot write {dst}")


def label_dtype(lab):
    m = int(lab.max()) if lab.size else 0
    if m > 65535:
        raise RuntimeError(f"{m} labels do not fit a 16-bit PNG")
    return np.uint8 if m <= 255 else np.uint16


def sk_read(src):
    return skimage.io.imread(src)


def sk_gray(img):
    return rgb2gray(img) if img.ndim == 3 else img


def sk_write(dst, arr):
    skimage.io.imsave(dst, arr, check_contrast=False)


def sk_mask(g, t):
    return ((g > t) * 255).astype(np.uint8)


class Ctx:
    """Per-set context: the seed list for region growing / flood fill."""

    def __init__(self, seeds):
        self.seeds = seeds


# Each peer function: (src, dst, ctx) -> seconds spent in the segmentation call ("core").
# Reading, gray conversion and writing are outside "core" but inside the timed loop.

def cv_otsu(src, dst, ctx):
    g = cv_gray(cv_read(src))
    t0 = time.perf_counter()
    _t, m = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    dt = time.perf_counter() - t0
    cv_write(dst, m)
    return dt


def sk_otsu(src, dst, ctx):
    g = sk_gray(sk_read(src))
    t0 = time.perf_counter()
    m = sk_mask(g, threshold_otsu(g))
    dt = time.perf_counter() - t0
    sk_write(dst, m)
    return dt


def sk_multiotsu(src, dst, ctx):
    g = sk_gray(sk_read(src))
    t0 = time.perf_counter()
    th = threshold_multiotsu(g, classes=3)
    lab = np.digitize(g, th, right=True).astype(np.uint8)  # label = thresholds the value is above
    dt = time.perf_counter() - t0
    sk_write(dst, lab)
    return dt


def cv_adaptive(src, dst, ctx):
    g = cv_gray(cv_read(src))
    t0 = time.perf_counter()
    m = cv2.adaptiveThreshold(g, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 11, 2)
    dt = time.perf_counter() - t0
    cv_write(dst, m)
    return dt


def sk_adaptive(src, dst, ctx):
    g = sk_gray(sk_read(src))
    t0 = time.perf_counter()
    off = 2 if g.dtype == np.uint8 else 2 / 255
    m = sk_mask(g, threshold_local(g, 11, method="mean", offset=off))
    dt = time.perf_counter() - t0
    sk_write(dst, m)
    return dt


def cv_sauvola(src, dst, ctx):
    g = cv_gray(cv_read(src))
    t0 = time.perf_counter()
    m = cv2.ximgproc.niBlackThreshold(g, 255, cv2.THRESH_BINARY, 15, 0.2,
                                      binarizationMethod=cv2.ximgproc.BINARIZATION_SAUVOLA, r=127.5)
    dt = time.perf_counter() - t0
    cv_write(dst, m)
    return dt


def sk_sauvola(src, dst, ctx):
    g = sk_gray(sk_read(src))
    t0 = time.perf_counter()
    r = 127.5 if g.dtype == np.uint8 else 0.5  # cvseg's r: half the 8-bit range
    m = sk_mask(g, threshold_sauvola(g, window_size=15, k=0.2, r=r))
    dt = time.perf_counter() - t0
    sk_write(dst, m)
    return dt


def cv_canny(src, dst, ctx):
    g = cv_gray(cv_read(src))
    t0 = time.perf_counter()
    e = cv2.Canny(g, CANNY_LOW, CANNY_HIGH, apertureSize=3, L2gradient=True)
    dt = time.perf_counter() - t0
    cv_write(dst, e)
    return dt


def sk_canny_s1(src, dst, ctx):
    g = sk_gray(sk_read(src))
    t0 = time.perf_counter()
    e = feature.canny(g, sigma=CANNY_S1["sigma"], low_threshold=CANNY_S1["low"],
                      high_threshold=CANNY_S1["high"], use_quantiles=True)
    m = (e * 255).astype(np.uint8)
    dt = time.perf_counter() - t0
    sk_write(dst, m)
    return dt


KERNEL3 = np.ones((3, 3), np.uint8)


def cv_canny_cc(src, dst, ctx):
    """cvseg canny's label output: edges dilated 3x3, the rest 4-connected regions 1..N."""
    g = cv_gray(cv_read(src))
    t0 = time.perf_counter()
    e = cv2.Canny(g, CANNY_LOW, CANNY_HIGH, apertureSize=3, L2gradient=True)
    free = cv2.bitwise_not(cv2.dilate(e, KERNEL3))
    _n, lab, _stats, _cent = cv2.connectedComponentsWithStats(free, connectivity=4, ltype=cv2.CV_32S)
    lab = lab.astype(label_dtype(lab))
    dt = time.perf_counter() - t0
    cv_write(dst, lab)
    return dt


def sk_canny_s1_cc(src, dst, ctx):
    g = sk_gray(sk_read(src))
    t0 = time.perf_counter()
    e = feature.canny(g, sigma=CANNY_S1["sigma"], low_threshold=CANNY_S1["low"],
                      high_threshold=CANNY_S1["high"], use_quantiles=True)
    free = ~morphology.dilation(e, morphology.footprint_rectangle((3, 3)))
    lab = measure.label(free, connectivity=1)
    lab = lab.astype(label_dtype(lab))
    dt = time.perf_counter() - t0
    sk_write(dst, lab)
    return dt


def cv_graph(src, dst, ctx):
    img = cv_read(src)
    t0 = time.perf_counter()
    gs = cv2.ximgproc.segmentation.createGraphSegmentation(GRAPH["sigma"], GRAPH["k"], GRAPH["min_size"])
    lab = gs.processImage(img) + 1
    lab = lab.astype(label_dtype(lab))
    dt = time.perf_counter() - t0
    cv_write(dst, lab)
    return dt


def sk_graph(src, dst, ctx):
    img = sk_read(src)
    t0 = time.perf_counter()
    lab = segmentation.felzenszwalb(img, scale=GRAPH["k"], sigma=GRAPH["sigma"], min_size=GRAPH["min_size"]) + 1
    lab = lab.astype(label_dtype(lab))
    dt = time.perf_counter() - t0
    sk_write(dst, lab)
    return dt


def cv_flood(src, dst, ctx):
    """cv2.floodFill per seed, FIXED_RANGE (relative to the seed), 4-connected, into one mask;
    colour: per-channel tolerance (a box), where cvseg uses the Euclidean RGB distance."""
    img = cv_read(src)
    t0 = time.perf_counter()
    h, w = img.shape[:2]
    mask = np.zeros((h + 2, w + 2), np.uint8)
    c = 1 if img.ndim == 2 else img.shape[2]
    tol = (FLOOD_TOLERANCE,) * c
    for x, y, label in ctx.seeds:
        if mask[y + 1, x + 1]:
            continue
        flags = 4 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (label << 8)
        cv2.floodFill(img, mask, (x, y), 0, tol, tol, flags)
    lab = mask[1:-1, 1:-1]
    dt = time.perf_counter() - t0
    cv_write(dst, lab)
    return dt


def sk_flood(src, dst, ctx):
    """skimage.segmentation.flood per seed; earlier seeds win overlaps (as cvseg)."""
    g = sk_read(src)
    if g.ndim != 2:
        raise RuntimeError("flood: gray images only")
    t0 = time.perf_counter()
    lab = np.zeros(g.shape, np.uint8)
    for x, y, label in ctx.seeds:
        m = segmentation.flood(g, (y, x), connectivity=1, tolerance=FLOOD_TOLERANCE)
        lab[m & (lab == 0)] = label
    dt = time.perf_counter() - t0
    sk_write(dst, lab)
    return dt


# ----------------------------------------------------------------------------- the methods

# peers: tool -> (function, target ratio or None, colours it runs on)
# compare: (peer, how) — agreement check on gray sets ("exact": pixel equality; "fg": label > 0
#          equality and region counts; "regions": region counts only)
BOTH = ("gray", "rgb")
METHODS = [
    dict(name="otsu", args=["otsu"],
         peers={"opencv": (cv_otsu, 1.0, BOTH), "scikit-image": (sk_otsu, 5.0, BOTH)}, compare=("opencv", "exact")),
    dict(name="multi-otsu", args=["otsu", "--classes", "3", "--format", "labels"],
         peers={"scikit-image": (sk_multiotsu, 5.0, BOTH)}, compare=("scikit-image", "exact")),
    dict(name="adaptive", args=["adaptive", "--method", "mean", "--block-size", "11", "--offset", "2"],
         peers={"opencv": (cv_adaptive, 1.0, BOTH), "scikit-image": (sk_adaptive, 5.0, BOTH)},
         compare=("opencv", "exact")),
    dict(name="sauvola", args=["sauvola", "--window", "15", "--k", "0.2"],
         peers={"opencv": (cv_sauvola, None, BOTH), "scikit-image": (sk_sauvola, 5.0, BOTH)},
         compare=("scikit-image", "exact"), needs_ximgproc=("opencv",)),
    dict(name="canny", args=["canny", "--low", str(CANNY_LOW), "--high", str(CANNY_HIGH), "--edges-only"],
         peers={"opencv": (cv_canny, 0.5, BOTH)}, compare=("opencv", "exact")),
    dict(name="canny-s1", args=["canny", "--sigma", "1", "--quantiles", "--low", "0.8", "--high", "0.9", "--edges-only"],
         peers={"scikit-image": (sk_canny_s1, 5.0, BOTH)}, compare=("scikit-image", "exact")),
    dict(name="canny+cc", args=["canny", "--low", str(CANNY_LOW), "--high", str(CANNY_HIGH), "--format", "labels"],
         peers={"opencv": (cv_canny_cc, 1.0, BOTH)}, compare=("opencv", "fg")),
    dict(name="canny-s1+cc", args=["canny", "--sigma", "1", "--quantiles", "--low", "0.8", "--high", "0.9",
                                   "--format", "labels"],
         peers={"scikit-image": (sk_canny_s1_cc, 5.0, BOTH)}, compare=("scikit-image", "fg")),
    dict(name="graph", args=["graph", "--k", str(GRAPH["k"]), "--sigma", str(GRAPH["sigma"]),
                             "--min-size", str(GRAPH["min_size"]), "--format", "labels"],
         peers={"opencv": (cv_graph, 0.5, BOTH), "scikit-image": (sk_graph, 5.0, BOTH)},
         compare=("scikit-image", "regions"), needs_ximgproc=("opencv",)),
    dict(name="grow-flood", args=["grow", "--seeds", "{seeds}", "--tolerance", str(FLOOD_TOLERANCE), "--format", "labels"],
         peers={"opencv": (cv_flood, None, BOTH), "scikit-image": (sk_flood, 5.0, ("gray",))},
         compare=("scikit-image", "exact")),
    dict(name="grow", args=["grow", "--seeds", "{seeds}", "--format", "labels"], peers={}),
    dict(name="split-merge", args=["split-merge", "--max-std", str(SPLIT_MAX_STD), "--format", "labels"], peers={}),
]
TOOLS = ("cvseg", "opencv", "scikit-image")


def seeds_for(w, h):
    return [(int((i + 0.5) * w / SEED_GRID), int((j + 0.5) * h / SEED_GRID), j * SEED_GRID + i + 1)
            for j in range(SEED_GRID) for i in range(SEED_GRID)]


def write_seeds(path, seeds):
    path.write_text("# x,y,label\n" + "".join(f"{x},{y},{l}\n" for x, y, l in seeds))


# ----------------------------------------------------------------------------- running

def cvseg_cmd(binary, method, folder, out, seeds_file):
    args = [a.replace("{seeds}", str(seeds_file)) for a in method["args"]]
    return [str(binary), "segment", args[0], str(folder), "-o", str(out), "--jobs", "1", "--quiet", *args[1:]]


def run_cvseg(cmd):
    """Whole process wall time, and cvseg's own peak RSS in bytes.

    The process runs under `/usr/bin/time -f %M` (a fork and exec more, about a millisecond): the
    ru_maxrss of a child forked straight from this Python process would include the RSS of the
    interpreter it was forked from, OpenCV and scikit-image loaded."""
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss:
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            err.seek(0)
            sys.exit(f"classical bench: cvseg failed (exit {p.returncode}): {' '.join(cmd)}\n"
                     f"{err.read().decode(errors='replace').strip()}")
        kb = re.findall(r"^(\d+)\s*$", rss.read(), re.M)
    return dt, (int(kb[-1]) * 1024 if kb else 0)


def run_peer(fn, files, out, ctx):
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    core = 0.0
    for f in files:
        core += fn(str(f), str(out / (f.stem + ".png")), ctx)
    return time.perf_counter() - t0, core


def read_any(p):
    return cv2.imread(str(p), cv2.IMREAD_UNCHANGED)


def agreement(how, dir_a, dir_b, files):
    """Compare cvseg's outputs (dir_a) with the peer's (dir_b) for the first image."""
    f = files[0].stem + ".png"
    a, b = read_any(Path(dir_a) / f), read_any(Path(dir_b) / f)
    if a is None or b is None or a.shape != b.shape:
        return "missing or different size"
    if how == "exact":
        return f"{100 * np.count_nonzero(a == b) / a.size:.3f} % pixels equal"
    na, nb = len(np.unique(a[a > 0])), len(np.unique(b[b > 0]))
    if how == "fg":
        return (f"{100 * np.count_nonzero((a > 0) == (b > 0)) / a.size:.3f} % pixels equal in "
                f"'labelled or not', regions {na} vs {nb}")
    # graph: every pixel belongs to a region (cvseg numbers them from 0, the peers' from 1)
    return f"regions {len(np.unique(a))} vs {len(np.unique(b))}"


def fmt_s(v, single):
    if v is None:
        return "-"
    return f"{v:.3f}{'*' if single else ' '}"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_available():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 << 30


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cvseg", type=Path, required=True)
    ap.add_argument("--images", type=Path, required=True, help="folder made by classical_images.py")
    ap.add_argument("--out", type=Path, required=True, help="scratch folder for outputs (emptied)")
    ap.add_argument("--sets", default="512:8,1024:4,2048:2")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--slow", type=float, default=4.0)
    ap.add_argument("--only", default="")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--memory-only", action="store_true")
    ap.add_argument("--mem-cap-gb", type=float, default=None)
    ap.add_argument("--memory-size", type=int, default=8192)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--core-bench", type=Path, default=None,
                    help="CVSegBench binary: also time cvseg's segmentation call alone (in process)")
    args = ap.parse_args()

    methods = METHODS
    if args.only:
        want = [m.strip() for m in args.only.split(",") if m.strip()]
        unknown = [w for w in want if w not in {m["name"] for m in METHODS}]
        if unknown:
            sys.exit(f"classical bench: unknown method(s) {', '.join(unknown)}; "
                     f"choose from {', '.join(m['name'] for m in METHODS)}")
        methods = [m for m in METHODS if m["name"] in want]
    sizes = [int(s.split(":")[0]) for s in args.sets.split(",")]

    cv2.setNumThreads(1)
    binary = args.cvseg.resolve()
    t_start = time.perf_counter()
    print("Classical segmentation benchmark: cvseg vs OpenCV vs scikit-image, one job, end to end")
    print(f"machine: nproc {os.cpu_count()}, CPU {cpu_model()}, {platform.system()} {platform.release()}, "
          f"load average at start {os.getloadavg()[0]:.2f}")
    ver = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout.strip()
    print(f"versions: cvseg {ver or '?'} ({binary}), Python {platform.python_version()}, numpy {np.__version__}, "
          f"opencv {cv2.__version__}{' (contrib)' if HAS_XIMGPROC else ' (no contrib: no ximgproc)'}, "
          f"scikit-image {skimage.__version__}")
    print(f"runs: 1 warm-up + {args.runs} timed per cell, tools interleaved, median; '*' = the warm-up took "
          f"{args.slow:g} s or more and is the only run")
    print("timing: cvseg = whole process (`--jobs 1`, start-up, decode, PNG write); peers = the Python loop "
          "(read, gray, segment, write), imports excluded; core = the segmentation call alone")
    print("ratio = peer median / cvseg median (> 1: cvseg faster); target: >= 1 (OpenCV: otsu, adaptive, "
          "CC), >= 0.5 (OpenCV: canny, graph), >= 5 (scikit-image)")
    print()

    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    results = []   # (method, size, colour, {tool: (median, single, core_median)}, rss_bpp)
    decode_best = {}  # (size, colour) -> cvseg's decoding of the set alone, best run, s
    checks = []
    empty = args.out / "empty"
    empty.mkdir()
    startup = statistics.median(run_cvseg([str(binary), "segment", "otsu", str(empty), "-o", str(args.out / "empty-out"),
                                           "--jobs", "1", "--quiet"])[0] for _ in range(7))

    if not args.memory_only:
        for size in sizes:
            seeds = seeds_for(size, size)
            seeds_file = args.out / f"seeds_{size}.csv"
            write_seeds(seeds_file, seeds)
            ctx = Ctx(seeds)
            for colour in ("gray", "rgb"):
                folder = args.images / f"{colour}_{size}"
                files = sorted(folder.glob("*.png"))
                if not files:
                    sys.exit(f"classical bench: no images in {folder}")
                px = max(cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED).shape[:2]) ** 2
                for method in methods:
                    tools = ["cvseg"] + [t for t, (_f, _tg, cols) in method["peers"].items()
                                         if colour in cols and not (t == "opencv" and not HAS_XIMGPROC
                                                                    and t in method.get("needs_ximgproc", ()))]
                    times = {t: [] for t in tools}
                    cores = {t: [] for t in tools}
                    single = {t: False for t in tools}
                    rss = [0]
                    last = {}
                    n = [0]

                    def one(tool):
                        n[0] += 1
                        out = args.out / f"{colour}_{size}" / method["name"] / f"{tool}-{n[0]}"
                        if tool == "cvseg":
                            dt, r = run_cvseg(cvseg_cmd(binary, method, folder, out, seeds_file))
                            rss[0] = max(rss[0], r)
                            core = None
                        else:
                            dt, core = run_peer(method["peers"][tool][0], files, out, ctx)
                        if tool in last:
                            shutil.rmtree(last[tool], ignore_errors=True)
                        last[tool] = out
                        return dt, core

                    warm = {t: one(t) for t in tools}
                    for t in tools:
                        if warm[t][0] >= args.slow:
                            single[t] = True
                            times[t].append(warm[t][0])
                            cores[t].append(warm[t][1])
                    for _ in range(args.runs):
                        for t in tools:
                            if not single[t]:
                                dt, core = one(t)
                                times[t].append(dt)
                                cores[t].append(core)
                    # (median s, single run?, core median s, core best s); cvseg's core comes from
                    # CVSegBench, in process.
                    row = {t: (statistics.median(times[t]), single[t],
                               statistics.median(cores[t]) if t != "cvseg" else None,
                               min(cores[t]) if t != "cvseg" else None) for t in tools}
                    if args.core_bench and method["name"] in CORE_METHODS:
                        row["cvseg"] = row["cvseg"][:2] + cvseg_core(args.core_bench, method["name"], folder,
                                                                     seeds_file, 1 if single["cvseg"] else args.runs)
                    if args.core_bench and (size, colour) not in decode_best:
                        decode_best[(size, colour)] = cvseg_core(args.core_bench, "decode", folder, None, args.runs)[1]
                    results.append((method, size, colour, row, rss[0] / px))
                    print_row(method, size, colour, row, rss[0] / px, len(files), header=not results[:-1])
                    cmp = method.get("compare")
                    if cmp and colour == "gray" and cmp[0] in last:
                        checks.append((method["name"], size, cmp[0],
                                       agreement(cmp[1], last["cvseg"], last[cmp[0]], files)))
                    if not args.keep:
                        shutil.rmtree(args.out / f"{colour}_{size}" / method["name"], ignore_errors=True)
        print()
        print(f"cvseg process start-up (segment otsu on an empty folder, median of 7): {1000 * startup:.1f} ms; "
              "it is inside every cvseg time above")
        print_summary(results, startup)
        if checks:
            print()
            print("Agreement, gray sets, first image, last run (cvseg vs the reference it follows):")
            for name, size, peer, text in checks:
                print(f"  {name:<12} {size:>5}²  vs {peer:<13} {text}")
        print()
        if any(m["name"] in ("canny", "canny+cc") for m in methods):
            print_cc_marginal(results)
        if args.core_bench:
            print()
            print_core(results)
            print()
            print_ceiling(results, decode_best)

    if not args.no_memory:
        memory(args, methods, binary)
    print(f"total wall time {time.perf_counter() - t_start:.0f} s, load average at end {os.getloadavg()[0]:.2f}")
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)
    else:
        print(f"outputs kept in {args.out}")
    return 0


HEADER = (f"{'method':<12} {'size':>5} {'colour':<6} {'n':>2} {'cvseg s':>9} {'OpenCV s':>9} {'(core)':>7} "
          f"{'skimage s':>10} {'(core)':>7} {'CV/cvseg':>9} {'SK/cvseg':>9} {'targets':<22} {'cvseg RSS B/px':>14}")


def target_text(method, row):
    out = []
    for tool, short in (("opencv", "CV"), ("scikit-image", "SK")):
        if tool not in row or tool not in method["peers"]:
            continue
        tgt = method["peers"][tool][1]
        if tgt is None:
            continue
        ratio = row[tool][0] / row["cvseg"][0]
        out.append(f"{short}>={tgt:g} {'ok' if ratio >= tgt else 'MISS'}")
    return ", ".join(out) or "-"


def print_row(method, size, colour, row, bpp, n, header):
    if header:
        print(HEADER)
        print("-" * len(HEADER))
    c = row["cvseg"]
    cv = row.get("opencv")
    sk = row.get("scikit-image")
    line = (f"{method['name']:<12} {size:>5} {colour:<6} {n:>2} {fmt_s(c[0], c[1]):>9} "
            f"{fmt_s(cv[0], cv[1]) if cv else '-':>9} {f'{cv[2]:.3f}' if cv else '-':>7} "
            f"{fmt_s(sk[0], sk[1]) if sk else '-':>10} {f'{sk[2]:.3f}' if sk else '-':>7} "
            f"{f'{cv[0] / c[0]:.2f}x' if cv else '-':>9} {f'{sk[0] / c[0]:.2f}x' if sk else '-':>9} "
            f"{target_text(method, row):<22} {bpp:>14.1f}")
    print(line, flush=True)


def print_summary(results, startup):
    print("Targets (over all sizes and colours): cells holding / cells, worst and median ratio; 'no start-up': "
          "worst ratio with cvseg's start-up taken off its time")
    seen = {}
    for method, size, colour, row, _bpp in results:
        for tool in ("opencv", "scikit-image"):
            if tool not in row:
                continue
            tgt = method["peers"][tool][1]
            seen.setdefault((method["name"], tool, tgt), []).append(
                (row[tool][0] / row["cvseg"][0], size, colour, row[tool][0] / max(row["cvseg"][0] - startup, 1e-6)))
    for (name, tool, tgt), v in seen.items():
        ratios = [r[0] for r in v]
        no_start = min(r[3] for r in v)
        worst = min(v)
        if tgt is None:
            verdict = "no target"
            held = ""
        else:
            held_n = sum(r >= tgt for r in ratios)
            verdict = "HOLDS" if held_n == len(ratios) else f"MISSED (worst {worst[0]:.2f}x at {worst[1]}² {worst[2]}, " \
                                                              f"{worst[0] / tgt:.2f} of the target)"
            held = f"{held_n}/{len(ratios)}"
        print(f"  {name:<12} vs {tool:<13} target {'>= ' + format(tgt, 'g') + 'x' if tgt else '-':<7} "
              f"{held:>5}  worst {worst[0]:.2f}x  median {statistics.median(ratios):.2f}x  "
              f"no start-up {no_start:.2f}x  {verdict}")


# Methods CVSegBench --classical-core times (Sources/CVSegBench/ClassicalCore.swift).
CORE_METHODS = {"otsu", "multi-otsu", "adaptive", "sauvola", "canny", "canny-s1", "canny+cc", "canny-s1+cc",
                "graph", "grow-flood"}


def cvseg_core(bench, name, folder, seeds_file, runs):
    """cvseg's segmentation call alone over the folder's decoded images: (median, best) of `runs`."""
    cmd = [str(bench), "--classical-core", name, "--dir", str(folder), "--runs", str(runs)]
    if name == "grow-flood":
        cmd += ["--seeds", str(seeds_file)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"classical bench: {' '.join(cmd)} failed: {p.stdout}{p.stderr}")
    out = json.loads(p.stdout)
    return out["seconds"], out["min"]


def print_core(results):
    """The segmentation call alone: cvseg's library call in process (CVSegBench, on images decoded
    and converted to gray beforehand) against the peers' "core" column (the same call inside their
    loops). No start-up, decoding or PNG writing on either side."""
    print("Core: the segmentation call alone (no start-up, decoding, gray conversion or PNG writing), "
          "milliseconds for the whole set, the best of the runs on each side (the calls are short: the "
          "best run is the one least disturbed by the shared machine)")
    print(f"{'method':<12} {'size':>5} {'colour':<6} {'cvseg ms':>9} {'OpenCV ms':>10} {'skimage ms':>11} "
          f"{'CV/cvseg':>9} {'SK/cvseg':>9}")
    seen = {}
    for method, size, colour, row, _bpp in results:
        core = row["cvseg"][3]
        if core is None:
            continue
        cells = []
        for tool in ("opencv", "scikit-image"):
            if tool in row and row[tool][3]:
                ratio = row[tool][3] / core
                cells.append(f"{1000 * row[tool][3]:>{10 if tool == 'opencv' else 11}.2f}")
                seen.setdefault((method["name"], tool, method["peers"][tool][1]), []).append((ratio, size, colour))
            else:
                cells.append(" " * (10 if tool == "opencv" else 11))
        ratios = [f"{row[t][3] / core:>8.2f}x" if t in row and row[t][3] else " " * 9 for t in ("opencv", "scikit-image")]
        print(f"{method['name']:<12} {size:>5} {colour:<6} {1000 * core:>9.2f} {cells[0]} {cells[1]} {ratios[0]} {ratios[1]}")
    print("Core targets (the issue's ratios applied to the call alone):")
    for (name, tool, tgt), v in seen.items():
        ratios = [r[0] for r in v]
        worst = min(v)
        if tgt is None:
            verdict, held = "no target", ""
        else:
            held_n = sum(r >= tgt for r in ratios)
            held = f"{held_n}/{len(ratios)}"
            verdict = "HOLDS" if held_n == len(ratios) else f"MISSED (worst {worst[0]:.2f}x at {worst[1]}² {worst[2]})"
        print(f"  {name:<12} vs {tool:<13} target {'>= ' + format(tgt, 'g') + 'x' if tgt else '-':<7} "
              f"{held:>5}  worst {worst[0]:.2f}x  median {statistics.median(ratios):.2f}x  {verdict}")


def print_ceiling(results, decode_best):
    """For every end-to-end cell under its target: the ratio cvseg could not exceed even with
    zero start-up, segmentation and PNG writing, as long as its PNGs are decoded by libpng: the
    peer's end-to-end median over cvseg's decoding of the same files alone (CVSegBench
    --classical-core decode, best run, in process)."""
    print("Ceiling of the missed end-to-end cells: peer end-to-end median / cvseg's libpng decoding of the "
          "same images alone (best run, in process), the most cvseg could reach if start-up, segmentation "
          "and writing cost nothing")
    print(f"{'method':<12} {'vs':<13} {'size':>5} {'colour':<6} {'target':>6} {'ratio':>7} {'decode ms':>10} "
          f"{'ceiling':>8}  reachable")
    below = 0
    missed = 0
    for method, size, colour, row, _bpp in results:
        decode = decode_best.get((size, colour))
        for tool in ("opencv", "scikit-image"):
            tgt = method["peers"].get(tool, (None, None))[1]
            if tool not in row or tgt is None or decode is None:
                continue
            ratio = row[tool][0] / row["cvseg"][0]
            if ratio >= tgt:
                continue
            missed += 1
            ceiling = row[tool][0] / decode
            below += ceiling < tgt
            print(f"{method['name']:<12} {tool:<13} {size:>5} {colour:<6} {tgt:>6g} {ratio:>6.2f}x "
                  f"{1000 * decode:>10.1f} {ceiling:>7.2f}x  {'no' if ceiling < tgt else 'yes'}")
    print(f"{missed} missed cells, {below} of them with a ceiling under the target")


def print_cc_marginal(results):
    """Connected components: cvseg has no CC-only command; the cost of `canny` with region labels
    over `canny --edges-only` is the 3x3 dilation + 4-connected labelling + a label PNG instead of
    a binary one, for both cvseg and the OpenCV loop (cv2.dilate + connectedComponentsWithStats)."""
    by = {(m["name"], s, c): row for m, s, c, row, _ in results}
    lines = []
    for (name, s, c), row in by.items():
        if name != "canny+cc" or ("canny", s, c) not in by:
            continue
        e = by[("canny", s, c)]
        if "opencv" not in row or "opencv" not in e:
            continue
        dc = row["cvseg"][0] - e["cvseg"][0]
        do = row["opencv"][0] - e["opencv"][0]
        lines.append(f"  {s:>5}² {c:<5} cvseg {dc:+.3f} s, OpenCV {do:+.3f} s"
                     + (f", ratio {do / dc:.2f}x" if dc > 0 and do > 0 else ", within the noise"))
    if lines:
        print("Connected components (no standalone cvseg command): extra time of canny+cc over canny")
        print("(dilate + 4-connected labelling + label PNG instead of edge PNG; noisy differences of medians):")
        print("\n".join(lines))
        print()


def memory(args, methods, binary):
    size = args.memory_size
    folder = args.images / f"gray_{size}"
    files = sorted(folder.glob("*.png"))
    if not files:
        print(f"memory: no image in {folder}; skipped")
        return
    px = size * size
    cap = (args.mem_cap_gb * (1 << 30)) if args.mem_cap_gb else min(0.4 * mem_available(), 12 * (1 << 30))
    seeds_file = args.out / f"seeds_{size}.csv"
    write_seeds(seeds_file, seeds_for(size, size))
    print(f"Memory: one {size}x{size} gray image ({px:,} pixels, {files[0].stat().st_size / 1e6:.1f} MB PNG), "
          f"`/usr/bin/time -v`, --jobs 1, address space capped at {cap / (1 << 30):.1f} GiB; target < "
          f"{TARGET_BPP:g} B/px ({TARGET_BPP * px / (1 << 20):.0f} MiB)")

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (int(cap), int(cap)))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    def timed(cmd):
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-v", *cmd], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, preexec_fn=limit)
        wall = time.perf_counter() - t0
        err = p.stderr.decode(errors="replace")
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
        kb = int(m.group(1)) if m else 0
        sig = re.search(r"Command terminated by signal (\d+)", err)
        status = re.search(r"Exit status: (\d+)", err)
        ok = p.returncode == 0 and not sig
        why = "" if ok else (f"killed by signal {sig.group(1)}" if sig else f"exit {status.group(1) if status else p.returncode}")
        tail = "" if ok else err.strip().splitlines()[0][:100] if err.strip() else ""
        return kb * 1024, wall, ok, why, tail

    base, _w, _ok, _why, _t = timed([str(binary), "--help"])
    print(f"{'method':<12} {'peak RSS MiB':>12} {'B/px':>7} {'- baseline':>10} {'< 8 B/px':>9} {'wall s':>7}")
    print(f"{'(cvseg --help)':<12} {base / (1 << 20):>12.1f} {base / px:>7.3f} {'':>10} {'':>9} {'':>7}")
    for method in methods:
        out = args.out / "memory" / method["name"]
        rss, wall, ok, why, tail = timed(cvseg_cmd(binary, method, folder, out, seeds_file))
        if ok:
            verdict = "pass" if rss / px < TARGET_BPP else "FAIL"
            print(f"{method['name']:<12} {rss / (1 << 20):>12.1f} {rss / px:>7.2f} {(rss - base) / px:>10.2f} "
                  f"{verdict:>9} {wall:>7.1f}", flush=True)
        else:
            print(f"{method['name']:<12} {'> cap':>12} {'>' + format(cap / px, '.0f'):>7} {'':>10} {'FAIL':>9} "
                  f"{wall:>7.1f}  ({why} at the {cap / (1 << 30):.1f} GiB address-space cap; peak RSS before "
                  f"that {rss / (1 << 20):.0f} MiB) {tail}", flush=True)
        shutil.rmtree(out, ignore_errors=True)
    print()


if __name__ == "__main__":
    sys.exit(main())
