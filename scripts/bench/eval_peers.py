#!/usr/bin/env python3
"""Evaluation benchmark: cvseg eval det / eval seg against pycocotools and a numpy loop.

Run through `scripts/bench/eval` (it builds cvseg and picks the Python environment); see
scripts/bench/README.md. Two tasks on seeded synthetic data written to a temporary folder:

  det  COCO box AP on 5,000 images, 80 categories, ~7 GT boxes per image (about 1 % crowd),
       34,000 detections (jittered GT, duplicates, false positives; scores rounded to 0.001,
       so with ties):
         cvseg        `cvseg eval det --pred dt.json --gt gt.json --json out.json`, one process,
                      wall clock: start-up, JSON parsing, evaluation and output included
         pycocotools  COCOeval(gt, dt, 'bbox'): evaluate() + accumulate(), and the same
                      + summarize(), timed in this process from COCOeval construction on; the
                      COCO() / loadRes() JSON loading is done once, outside the timing
       check: the 12 stats agree to 1e-6 (max |difference| printed)

  seg  1,000 pairs of 512x512 8-bit label PNGs (21 classes, ignore label 255 along the GT
       region borders, blocky so that they compress like real masks):
         cvseg  `cvseg eval seg --pred pred --gt gt --num-classes 21 --json out.json --jobs J`
         numpy  cv2.imread both (IMREAD_UNCHANGED), np.bincount(gt * 21 + pred) over pixels
                with gt != 255, summed; sequential at J = 1, multiprocessing.Pool(J) over files
                (fork, chunksize 8) at J > 1; timed inside this process, pool start-up included
       check: mIoU agrees to 1e-9 (and the confusion matrices are compared)

Each configuration gets one untimed warm-up per tool, then R timed runs with the tools
interleaved; medians are reported with the ratio peer median / cvseg median (> 1: cvseg faster).
"""

import argparse
import contextlib
import io
import json
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

NUM_CLASSES = 21
IGNORE = 255
SIZE = 512
# The 80 COCO category ids (1..90 with the usual gaps), so that ids are not contiguous.
COCO_IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
            27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51,
            52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77,
            78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90]
STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def die(msg):
    sys.exit(f"eval bench: {msg}")


# ----------------------------------------------------------------------------- data

def make_coco(folder, n_images, n_dets, seed=20251129):
    rng = np.random.default_rng(seed)
    cat_p = rng.dirichlet(np.full(len(COCO_IDS), 0.7))  # skewed category frequencies
    images, anns, dets = [], [], []
    ann_id = 1
    for i in range(n_images):
        img_id = 100000 + 7 * i  # not contiguous either
        w, h = int(rng.integers(320, 641)), int(rng.integers(240, 481))
        images.append({"id": img_id, "width": w, "height": h, "file_name": f"{img_id:012d}.jpg"})
        for _ in range(int(rng.poisson(7.0))):
            crowd = rng.random() < 0.01
            # log-uniform sizes: small, medium and large boxes all occur
            bw = float(min(w - 1, np.exp(rng.uniform(np.log(4), np.log(w * (0.9 if crowd else 0.6))))))
            bh = float(min(h - 1, np.exp(rng.uniform(np.log(4), np.log(h * (0.9 if crowd else 0.6))))))
            x, y = float(rng.uniform(0, w - bw)), float(rng.uniform(0, h - bh))
            box = [round(x, 2), round(y, 2), round(bw, 2), round(bh, 2)]
            cat = int(COCO_IDS[rng.choice(len(COCO_IDS), p=cat_p)])
            area = round(box[2] * box[3] * float(rng.uniform(0.55, 1.0)), 2)  # segmentation-like area
            anns.append({"id": ann_id, "image_id": img_id, "category_id": cat, "bbox": box,
                         "area": area, "iscrowd": int(crowd)})
            ann_id += 1
    # Detections: jittered copies of most non-crowd GT, some duplicates, the rest false positives.
    for a in anns:
        if a["iscrowd"] or rng.random() >= 0.8:
            continue
        for _ in range(2 if rng.random() < 0.1 else 1):
            x, y, bw, bh = a["bbox"]
            j = rng.normal(0, 0.08, 4)
            box = [x + j[0] * bw, y + j[1] * bh, bw * np.exp(j[2]), bh * np.exp(j[3])]
            cat = a["category_id"] if rng.random() < 0.93 else int(rng.choice(COCO_IDS))
            dets.append({"image_id": a["image_id"], "category_id": cat,
                         "bbox": [round(float(v), 2) for v in box], "score": round(float(rng.beta(5, 2)), 3)})
    if len(dets) > n_dets:
        keep = np.sort(rng.choice(len(dets), n_dets, replace=False))
        dets = [dets[k] for k in keep]
    img_by_id = {im["id"]: im for im in images}
    ids = [im["id"] for im in images]
    while len(dets) < n_dets:
        im = img_by_id[ids[int(rng.integers(len(ids)))]]
        bw, bh = float(rng.uniform(4, im["width"] * 0.5)), float(rng.uniform(4, im["height"] * 0.5))
        x, y = float(rng.uniform(0, im["width"] - bw)), float(rng.uniform(0, im["height"] - bh))
        dets.append({"image_id": im["id"], "category_id": int(rng.choice(COCO_IDS)),
                     "bbox": [round(x, 2), round(y, 2), round(bw, 2), round(bh, 2)],
                     "score": round(float(rng.beta(2, 5)), 3)})
    gt = {"info": {"description": "cvseg eval bench, synthetic"}, "images": images, "annotations": anns,
          "categories": [{"id": c, "name": f"class{c}", "supercategory": "none"} for c in COCO_IDS]}
    (folder / "gt.json").write_text(json.dumps(gt))
    (folder / "dt.json").write_text(json.dumps(dets))
    return len(images), len(anns), sum(a["iscrowd"] for a in anns), len(dets)


def _seg_pair(args):
    folder, k, seed = args
    rng = np.random.default_rng([seed, k])
    base = rng.integers(0, NUM_CLASSES, (16, 16), dtype=np.uint8)  # 32-pixel blocks
    gt = cv2.resize(base, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST)
    pred = gt.copy()
    # relabel ~20 % of 16-pixel blocks, and a few 4-pixel blocks, in the prediction
    flip = cv2.resize((rng.random((32, 32)) < 0.2).astype(np.uint8), (SIZE, SIZE), interpolation=cv2.INTER_NEAREST)
    relabel = cv2.resize(rng.integers(0, NUM_CLASSES, (32, 32), dtype=np.uint8), (SIZE, SIZE), interpolation=cv2.INTER_NEAREST)
    pred[flip > 0] = relabel[flip > 0]
    fine = cv2.resize((rng.random((128, 128)) < 0.03).astype(np.uint8), (SIZE, SIZE), interpolation=cv2.INTER_NEAREST)
    pred[fine > 0] = (pred[fine > 0] + 1) % NUM_CLASSES
    # ignore band (VOC-like) along GT region borders
    edge = cv2.morphologyEx(gt, cv2.MORPH_GRADIENT, np.ones((5, 5), np.uint8)) > 0
    gt[edge] = IGNORE
    name = f"{k:05d}.png"
    cv2.imwrite(str(folder / "gt" / name), gt)
    cv2.imwrite(str(folder / "pred" / name), pred)


def make_seg(folder, n_pairs, jobs, seed=7):
    (folder / "gt").mkdir(parents=True)
    (folder / "pred").mkdir(parents=True)
    tasks = [(folder, k, seed) for k in range(n_pairs)]
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        pool.map(_seg_pair, tasks, chunksize=16)
    return sorted(p.name for p in (folder / "gt").iterdir())


# ----------------------------------------------------------------------------- the tools

def run_cvseg(cmd):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        die(f"cvseg failed (exit {p.returncode}): {' '.join(map(str, cmd))}\n{p.stderr.decode(errors='replace').strip()}")
    return dt


def load_coco(folder):
    from pycocotools.coco import COCO
    with contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        gt = COCO(str(folder / "gt.json"))
        dt = gt.loadRes(str(folder / "dt.json"))
        return gt, dt, time.perf_counter() - t0


def run_cocoeval(gt, dt):
    """Returns (evaluate+accumulate seconds, +summarize seconds, stats)."""
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        e = COCOeval(gt, dt, "bbox")
        e.evaluate()
        e.accumulate()
        t1 = time.perf_counter()
        e.summarize()
        t2 = time.perf_counter()
    return t1 - t0, t2 - t0, np.asarray(e.stats, dtype=np.float64)


def _init_worker():
    cv2.setNumThreads(1)


def confusion_one(pair):
    pred_path, gt_path = pair
    g = cv2.imread(gt_path, cv2.IMREAD_UNCHANGED)
    p = cv2.imread(pred_path, cv2.IMREAD_UNCHANGED)
    if g is None or p is None:
        raise RuntimeError(f"cannot read {gt_path} or {pred_path}")
    m = g != IGNORE
    return np.bincount(g[m].astype(np.int64) * NUM_CLASSES + p[m], minlength=NUM_CLASSES * NUM_CLASSES)


def miou(conf):
    conf = conf.reshape(NUM_CLASSES, NUM_CLASSES).astype(np.float64)
    tp = np.diag(conf)
    union = conf.sum(0) + conf.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = tp / union
    return float(np.nanmean(iou))


def run_numpy_seg(pairs, jobs):
    t0 = time.perf_counter()
    if jobs == 1:
        total = np.zeros(NUM_CLASSES * NUM_CLASSES, dtype=np.int64)
        for pair in pairs:
            total += confusion_one(pair)
    else:
        with multiprocessing.get_context("fork").Pool(jobs, initializer=_init_worker) as pool:
            total = np.sum(pool.map(confusion_one, pairs, chunksize=8), axis=0)
    m = miou(total)
    return time.perf_counter() - t0, total, m


# ----------------------------------------------------------------------------- reporting

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
    import pycocotools
    v = [f"Python {platform.python_version()}", f"numpy {np.__version__}", f"opencv {cv2.__version__}"]
    try:
        from importlib.metadata import version
        v.append(f"pycocotools {version('pycocotools')}")
    except Exception:
        v.append(f"pycocotools {getattr(pycocotools, '__version__', '?')}")
    if cvseg_bin is not None:
        try:
            p = subprocess.run([str(cvseg_bin), "--version"], capture_output=True, timeout=20)
            out = (p.stdout or p.stderr).decode(errors="replace").strip().splitlines()
            v.append(f"cvseg {out[0] if p.returncode == 0 and out else '(no --version)'} ({cvseg_bin})")
        except (OSError, subprocess.TimeoutExpired):
            v.append("cvseg (no --version)")
    return v


def table(title, rows, ref="cvseg"):
    """rows: list of (label, [times], n_items, unit). Ratio = row median / ref median."""
    med = {label: statistics.median(ts) for label, ts, _, _ in rows}
    print(title)
    has_ref = ref in med
    print(f"  {'tool':<32} {'median s':>9} {'min s':>8} {'max s':>8} {'per s':>10}" + ("   vs cvseg" if has_ref else ""))
    for label, ts, n, unit in rows:
        line = f"  {label:<32} {med[label]:>9.3f} {min(ts):>8.3f} {max(ts):>8.3f} {n / med[label]:>8.0f} {unit}"
        if has_ref and label != ref:
            line += f"   {med[label] / med[ref]:.2f}x"
        print(line)
    return med


# ----------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cvseg", type=Path, help="cvseg binary (required unless --peers-only)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--peers-only", action="store_true")
    ap.add_argument("--only", choices=("det", "seg"))
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--detections", type=int, default=34000)
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if args.runs < 1 or args.jobs < 1 or args.images < 1 or args.detections < 1 or args.pairs < 1:
        ap.error("--runs, --jobs, --images, --detections and --pairs must be at least 1")
    if not args.peers_only and args.cvseg is None:
        ap.error("--cvseg is required unless --peers-only")
    use_cvseg = not args.peers_only
    cv2.setNumThreads(1)
    import pycocotools.cocoeval  # noqa: F401  (imported before any timing)

    print("Evaluation benchmark: cvseg eval det / eval seg vs pycocotools / numpy")
    print(f"machine: nproc {os.cpu_count()}, CPU {cpu_model()}, {platform.system()} {platform.release()}")
    print("versions: " + ", ".join(versions(args.cvseg if use_cvseg else None)))
    print(f"runs: 1 warm-up + {args.runs} timed per tool and configuration, tools interleaved; median reported")
    print("ratios: peer median / cvseg median (> 1 means cvseg is faster)")
    print()

    tmp = Path(tempfile.mkdtemp(prefix="cvseg-bench-eval-"))
    failed = []
    try:
        if args.only in (None, "det"):
            folder = tmp / "coco"
            folder.mkdir()
            t0 = time.perf_counter()
            n_img, n_gt, n_crowd, n_dt = make_coco(folder, args.images, args.detections)
            print(f"det: {n_img} images, {n_gt} GT boxes ({n_crowd} crowd), {n_dt} detections, 80 categories "
                  f"(generated in {time.perf_counter() - t0:.1f} s; gt.json {(folder / 'gt.json').stat().st_size / 1e6:.1f} MB, "
                  f"dt.json {(folder / 'dt.json').stat().st_size / 1e6:.1f} MB)")
            gt, dt, load_s = load_coco(folder)
            print(f"  pycocotools JSON loading, COCO(gt.json) + loadRes(dt.json): {load_s:.2f} s, once, NOT in its timings")
            out = folder / "cvseg.json"
            cmd = [str(args.cvseg), "eval", "det", "--pred", str(folder / "dt.json"), "--gt", str(folder / "gt.json"),
                   "--json", str(out)] if use_cvseg else None
            times = {"cvseg": [], "ea": [], "eas": []}
            stats = None
            for r in range(args.runs + 1):  # run 0 is the warm-up
                if use_cvseg:
                    t = run_cvseg(cmd)
                    if r:
                        times["cvseg"].append(t)
                ea, eas, stats = run_cocoeval(gt, dt)
                if r:
                    times["ea"].append(ea)
                    times["eas"].append(eas)
            rows = []
            if use_cvseg:
                rows.append(("cvseg", times["cvseg"], n_img, "img/s"))
            rows += [("pycocotools evaluate+accumulate", times["ea"], n_img, "img/s"),
                     ("pycocotools + summarize", times["eas"], n_img, "img/s")]
            table(("  cvseg: whole process incl. JSON parsing; " if use_cvseg else "  ") +
                  "pycocotools: in-process from COCOeval() on", rows)
            if use_cvseg:
                got = json.loads(out.read_text())
                mine = np.array([got[k] for k in STAT_NAMES], dtype=np.float64)
                diff = float(np.max(np.abs(mine - stats)))
                ok = diff <= 1e-6
                print(f"  agreement: max |cvseg - pycocotools| over the 12 stats = {diff:.3g} "
                      f"({'OK' if ok else 'FAILED'}, tolerance 1e-6); AP {stats[0]:.6f}, AP50 {stats[1]:.6f}, AR100 {stats[8]:.6f}")
                if not ok:
                    failed.append("det stats")
                    for name, a, b in zip(STAT_NAMES, mine, stats):
                        print(f"    {name:<6} cvseg {a:.9f}  pycocotools {b:.9f}")
            else:
                print(f"  pycocotools stats: " + ", ".join(f"{n} {v:.4f}" for n, v in zip(STAT_NAMES, stats)))
            print()
            del gt, dt

        if args.only in (None, "seg"):
            folder = tmp / "seg"
            t0 = time.perf_counter()
            names = make_seg(folder, args.pairs, max(1, args.jobs))
            size = sum(p.stat().st_size for p in folder.rglob("*.png"))
            print(f"seg: {len(names)} pairs of {SIZE}x{SIZE} 8-bit label PNGs, {NUM_CLASSES} classes + ignore {IGNORE} "
                  f"(generated in {time.perf_counter() - t0:.1f} s, {size / 1e6:.1f} MB)")
            pairs = [(str(folder / "pred" / n), str(folder / "gt" / n)) for n in names]
            job_counts = [1] if args.jobs == 1 else [1, args.jobs]
            numpy_conf, numpy_miou = None, None
            for jobs in job_counts:
                out = folder / f"cvseg-j{jobs}.json"
                cmd = [str(args.cvseg), "eval", "seg", "--pred", str(folder / "pred"), "--gt", str(folder / "gt"),
                       "--num-classes", str(NUM_CLASSES), "--json", str(out), "--jobs", str(jobs)] if use_cvseg else None
                times = {"cvseg": [], "numpy": []}
                for r in range(args.runs + 1):
                    if use_cvseg:
                        t = run_cvseg(cmd)
                        if r:
                            times["cvseg"].append(t)
                    t, numpy_conf, numpy_miou = run_numpy_seg(pairs, jobs)
                    if r:
                        times["numpy"].append(t)
                rows = ([("cvseg", times["cvseg"], len(pairs), "pairs/s")] if use_cvseg else [])
                rows.append(("numpy " + ("loop" if jobs == 1 else f"Pool({jobs})"), times["numpy"], len(pairs), "pairs/s"))
                table(f"  jobs = {jobs}: " + ("cvseg whole process; " if use_cvseg else "") + "numpy timed in-process" +
                      ("" if jobs == 1 else ", pool start-up included"), rows)
                if use_cvseg:
                    got = json.loads(out.read_text())
                    diff = abs(float(got["mIoU"]) - numpy_miou)
                    conf_ok = np.array_equal(np.array(got["confusion"], dtype=np.int64).ravel(), numpy_conf)
                    ok = diff <= 1e-9 and conf_ok
                    print(f"  agreement: mIoU cvseg {got['mIoU']:.12f}, numpy {numpy_miou:.12f}, |diff| {diff:.3g} "
                          f"(tolerance 1e-9); confusion matrices {'identical' if conf_ok else 'DIFFER'} "
                          f"({'OK' if ok else 'FAILED'})")
                    if not ok:
                        failed.append(f"seg jobs {jobs}")
                else:
                    print(f"  numpy mIoU {numpy_miou:.12f}")
                print()
    finally:
        if args.keep:
            print(f"data and outputs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if failed:
        print("agreement checks FAILED: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
