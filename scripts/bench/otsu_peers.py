#!/usr/bin/env python3
"""End-to-end Otsu binarisation benchmark: cvseg against OpenCV-Python and scikit-image.

Run through `scripts/bench/otsu` (it builds cvseg, finds the data and picks the Python
environment); see scripts/bench/README.md. For every folder and job count, each tool reads every
image, converts it to gray, thresholds it with Otsu and writes a 0/255 PNG mask into a fresh
output folder:

  cvseg         `cvseg segment otsu DIR -o OUT --jobs J --quiet`, timed as a whole process
                (wall clock, process start-up included)
  opencv        cv2.imread(GRAYSCALE) -> cv2.threshold(THRESH_BINARY + THRESH_OTSU) -> cv2.imwrite,
                cv2.setNumThreads(1)
  scikit-image  skimage.io.imread -> rgb2gray (colour) -> threshold_otsu -> io.imsave

The Python loops run in this process, timed around the loop only (interpreter start-up and
imports excluded); at J > 1 a multiprocessing.Pool(J) (fork) maps over files, and its start-up
and teardown are inside the timing. Each configuration gets one untimed warm-up per tool, then R
timed repetitions with the tools interleaved (cvseg, opencv, scikit-image, cvseg, ...); the
table reports medians.
"""

import argparse
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

IMAGE_EXTS = {".png", ".jpg", ".jpeg"}  # what cvseg walks in folders (see `cvseg --help`)
TOOLS = ("cvseg", "opencv", "scikit-image")


# ----------------------------------------------------------------------------- the peer loops

def _init_worker():
    cv2.setNumThreads(1)


def opencv_one(job):
    src, dst = job
    g = cv2.imread(src, cv2.IMREAD_GRAYSCALE)
    if g is None:
        raise RuntimeError(f"opencv: cannot read {src}")
    _t, m = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if not cv2.imwrite(dst, m):
        raise RuntimeError(f"opencv: cannot write {dst}")


def skimage_one(job):
    # Imported here as well as at start-up, so that the functions are bound in forked workers;
    # the module is already imported (and cached) before any timing starts.
    import skimage.io
    from skimage.color import rgb2gray, rgba2rgb
    from skimage.filters import threshold_otsu

    src, dst = job
    img = skimage.io.imread(src)
    if img.ndim == 3:
        if img.shape[-1] == 4:
            img = rgba2rgb(img)
        elif img.shape[-1] == 2:  # gray + alpha
            img = img[..., 0]
        if img.ndim == 3:
            img = rgb2gray(img)
    t = threshold_otsu(img)
    skimage.io.imsave(dst, ((img > t) * 255).astype(np.uint8), check_contrast=False)


PEER_FUNCS = {"opencv": opencv_one, "scikit-image": skimage_one}


def run_peer(tool, jobs_list, jobs, out_dirs):
    """Timed: make the output folder(s), then process every file, sequentially or with a Pool."""
    fn = PEER_FUNCS[tool]
    t0 = time.perf_counter()
    for d in out_dirs:
        os.makedirs(d, exist_ok=True)
    if jobs == 1:
        for job in jobs_list:
            fn(job)
    else:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(jobs, initializer=_init_worker) as pool:
            pool.map(fn, jobs_list, chunksize=1)
            pool.close()
            pool.join()
    return time.perf_counter() - t0


def run_cvseg(binary, folder, out, jobs):
    cmd = [str(binary), "segment", "otsu", str(folder), "-o", str(out), "--jobs", str(jobs), "--quiet"]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        err = p.stderr.decode(errors="replace").strip()
        sys.exit(f"otsu bench: cvseg failed (exit {p.returncode}): {' '.join(cmd)}\n{err}")
    return dt


# ----------------------------------------------------------------------------- helpers

def list_images(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS)


def count_pngs(folder):
    return sum(1 for p in Path(folder).rglob("*.png") if p.is_file()) if Path(folder).exists() else 0


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions(cvseg_bin):
    import PIL
    import skimage
    v = [f"Python {platform.python_version()}", f"numpy {np.__version__}", f"opencv {cv2.__version__}",
         f"scikit-image {skimage.__version__}", f"Pillow {PIL.__version__}"]
    try:
        import imageio
        v.append(f"imageio {imageio.__version__}")
    except ImportError:
        pass
    if cvseg_bin is not None:
        try:
            p = subprocess.run([str(cvseg_bin), "--version"], capture_output=True, timeout=20)
            out = (p.stdout or p.stderr).decode(errors="replace").strip().splitlines()
            v.append(f"cvseg {out[0] if p.returncode == 0 and out else '(no --version)'}")
        except (OSError, subprocess.TimeoutExpired):
            v.append("cvseg (no --version)")
    return v


def mask_agreement(dir_a, dir_b, rels):
    """Mean fraction of equal pixels and number of identical masks, over masks present in both."""
    fracs, identical, missing = [], 0, 0
    for rel in rels:
        pa, pb = Path(dir_a) / rel, Path(dir_b) / rel
        a = cv2.imread(str(pa), cv2.IMREAD_GRAYSCALE) if pa.is_file() else None
        b = cv2.imread(str(pb), cv2.IMREAD_GRAYSCALE) if pb.is_file() else None
        if a is None or b is None or a.shape != b.shape:
            missing += 1
            continue
        a, b = a > 127, b > 127
        fracs.append(np.count_nonzero(a == b) / a.size)
        identical += bool(np.array_equal(a, b))
    return (float(np.mean(fracs)) if fracs else float("nan")), identical, len(fracs), missing


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", type=Path, help="image folders to binarise")
    ap.add_argument("--cvseg", type=Path, help="cvseg binary (required unless --peers-only)")
    ap.add_argument("--runs", type=int, default=5, help="timed repetitions per configuration (default 5)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count(), help="the 'all cores' job count (default nproc)")
    ap.add_argument("--peers-only", action="store_true", help="time only the OpenCV and scikit-image loops")
    ap.add_argument("--keep", action="store_true", help="keep the temporary output folder and print its path")
    args = ap.parse_args()

    if args.runs < 1 or args.jobs < 1:
        ap.error("--runs and --jobs must be at least 1")
    if not args.peers_only and args.cvseg is None:
        ap.error("--cvseg is required unless --peers-only")
    tools = [t for t in TOOLS if not (args.peers_only and t == "cvseg")]
    job_counts = [1] if args.jobs == 1 else [1, args.jobs]

    cv2.setNumThreads(1)
    import skimage.io  # noqa: F401  (import before timing; forked workers inherit it)
    from skimage.color import rgb2gray  # noqa: F401
    from skimage.filters import threshold_otsu  # noqa: F401

    folders = []
    for f in args.folders:
        f = f.resolve()
        imgs = list_images(f) if f.is_dir() else []
        if not imgs:
            sys.exit(f"otsu bench: no images in {f}")
        folders.append((f, imgs))

    print("Otsu binarisation benchmark (read -> gray -> Otsu -> write 0/255 PNG mask), end to end")
    print(f"machine: nproc {os.cpu_count()}, CPU {cpu_model()}, {platform.system()} {platform.release()}")
    print("versions: " + ", ".join(versions(args.cvseg if not args.peers_only else None)))
    print(f"runs: 1 warm-up + {args.runs} timed per tool and configuration, tools interleaved; median reported")
    print("timing: cvseg = whole process wall clock (start-up included); Python loops = timed inside")
    print("        one Python process, interpreter start-up and imports excluded; at J > 1 the")
    print("        multiprocessing.Pool (fork) start-up and teardown are included")
    if args.peers_only:
        print("mode: --peers-only (cvseg not run)")
    print()

    tmp_root = Path(tempfile.mkdtemp(prefix="cvseg-bench-otsu-"))
    counter = [0]

    def fresh(tag):
        counter[0] += 1
        return tmp_root / f"{counter[0]:05d}-{tag}"

    try:
        for folder, imgs in folders:
            rels = [p.relative_to(folder).with_suffix(".png") for p in imgs]
            n = len(imgs)
            last_out = {}
            for jobs in job_counts:
                times = {t: [] for t in tools}
                warned = []

                def one(tool, timed):
                    out = fresh(f"{tool}-j{jobs}")
                    if tool == "cvseg":
                        dt = run_cvseg(args.cvseg, folder, out, jobs)
                        got = count_pngs(out)
                        if got != n and not warned:
                            warned.append(True)
                            print(f"  warning: cvseg wrote {got} PNG masks for {n} images in {folder}", file=sys.stderr)
                    else:
                        job_list = [(str(src), str(out / rel)) for src, rel in zip(imgs, rels)]
                        out_dirs = sorted({str(out / rel.parent) for rel in rels})
                        dt = run_peer(tool, job_list, jobs, out_dirs)
                    if timed:
                        times[tool].append(dt)
                    prev = last_out.get((tool, jobs))
                    if prev is not None:
                        shutil.rmtree(prev, ignore_errors=True)
                    last_out[(tool, jobs)] = out
                    return dt

                for tool in tools:  # warm-up: page cache, lazy imports, binary in memory
                    one(tool, timed=False)
                for _ in range(args.runs):
                    for tool in tools:
                        one(tool, timed=True)

                med = {t: statistics.median(v) for t, v in times.items()}
                print(f"{folder}  ({n} images)  jobs = {jobs}")
                print(f"  {'tool':<13} {'images':>6} {'median s':>9} {'min s':>8} {'max s':>8} {'images/s':>9}"
                      + ("   cvseg speedup" if "cvseg" in tools else ""))
                for t in tools:
                    v = times[t]
                    line = f"  {t:<13} {n:>6} {med[t]:>9.3f} {min(v):>8.3f} {max(v):>8.3f} {n / med[t]:>9.1f}"
                    if "cvseg" in tools and t != "cvseg":
                        line += f"   {med[t] / med['cvseg']:.2f}x"
                    print(line)
                if "cvseg" in tools:
                    print(f"  cvseg/OpenCV speedup {med['opencv'] / med['cvseg']:.2f}x, "
                          f"cvseg/scikit-image speedup {med['scikit-image'] / med['cvseg']:.2f}x "
                          "(peer median time / cvseg median time; > 1 means cvseg is faster)")
                print()

            # Sanity check that the tools did the same work: compare masks with OpenCV's (jobs = 1).
            ref = last_out.get(("opencv", 1))
            for t in tools:
                if t == "opencv" or ref is None or (t, 1) not in last_out:
                    continue
                frac, ident, compared, missing = mask_agreement(last_out[(t, 1)], ref, rels)
                extra = f", {missing} missing or differently sized" if missing else ""
                print(f"  masks {t} vs opencv: {100 * frac:.3f} % of pixels equal, "
                      f"{ident}/{compared} masks identical{extra}")
            print()
    finally:
        if args.keep:
            print(f"outputs kept in {tmp_root}")
        else:
            shutil.rmtree(tmp_root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
