#!/usr/bin/env python3
"""Selective search: cvseg propose against OpenCV ximgproc, quality and speed (issue 5 items 5, 6).

Quality: every tool proposes boxes for the original images of each set; all proposal files are
scored by the same evaluator (`cvseg eval proposals`: recall at IoU 0.5 and 0.7, MABO) at 100,
500, 1000 and 2000 boxes, so the measure is identical for all tools. OpenCV's boxes come in its
own order (its ranking), cvseg's in the paper's ranking.

Speed: the first N images of each set resized to 500 px wide (Pillow, bicubic), written as PNG;
cvseg `propose --jobs 1` over the folder (whole process: start-up, decode, proposals, JSON)
against a Python loop doing cv2.imread + setBaseImage + switchTo… + process on one thread
(cv2.setNumThreads(1)); medians of --runs runs; ratio = OpenCV / cvseg (> 1: cvseg faster).
Also cvseg with all cores (`--jobs nproc`) for reference.

Run through scripts/bench/proposals, which builds cvseg and creates the environment.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
from PIL import Image

COUNTS = [100, 500, 1000, 2000]


def sets(data, names):
    out = []
    for name in names:
        if name == "pennfudan":
            images = sorted((data / "pennfudan" / "PNGImages").glob("*.png"))
            out.append((name, images, data / "pennfudan" / "PedMasks"))
        elif name == "coco128":
            images = sorted((data / "coco128" / "images").glob("*.jpg"))
            out.append((name, images, data / "coco128" / "annotations" / "instances_train.json"))
        else:
            sys.exit(f"proposals bench: unknown set {name}")
    return out


def opencv_proposals(files, mode, root):
    """OpenCV selective search on each file; returns (entries, seconds per image)."""
    cv2.setNumThreads(1)
    entries, times = [], []
    for f in files:
        t0 = time.perf_counter()
        img = cv2.imread(str(f))
        ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
        ss.setBaseImage(img)
        ss.switchToSelectiveSearchFast() if mode == "fast" else ss.switchToSelectiveSearchQuality()
        boxes = ss.process()
        times.append(time.perf_counter() - t0)
        entries.append({"file": str(Path(f).relative_to(root)), "width": img.shape[1], "height": img.shape[0],
                        "boxes": [[int(v) for v in b] for b in boxes]})
    return entries, times


def evaluate(cvseg, pred, gt):
    out = Path(pred).with_suffix(".eval.json")
    subprocess.run([cvseg, "eval", "proposals", "--pred", str(pred), "--gt", str(gt),
                    "--counts", ",".join(map(str, COUNTS)), "--json", str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    return {r["proposals"]: r for r in json.loads(out.read_text())["rows"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cvseg", required=True)
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--sets", default="pennfudan,coco128")
    ap.add_argument("--modes", default="fast,quality")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--speed-images", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--quality-only", action="store_true")
    ap.add_argument("--speed-only", action="store_true")
    a = ap.parse_args()
    modes = a.modes.split(",")
    shutil.rmtree(a.out, ignore_errors=True)
    a.out.mkdir(parents=True)
    cores = os.cpu_count() or 1

    print(f"# Selective search: cvseg {a.cvseg} vs OpenCV {cv2.__version__} ximgproc (one thread)\n")
    if not a.speed_only:
        quality(a, modes)
    if not a.quality_only:
        speed(a, modes, cores)
    if not a.keep:
        shutil.rmtree(a.out, ignore_errors=True)


def quality(a, modes):
    print("## Quality (same evaluator for all: cvseg eval proposals)\n")
    print("| set | tool | mode | boxes/img | s/img | " + " | ".join(
        f"R@0.5 {n} | R@0.7 {n} | MABO {n}" for n in COUNTS) + " |")
    print("|" + " --- |" * (5 + 3 * len(COUNTS)))
    verdicts = []
    for name, images, gt in sets(a.data, a.sets.split(",")):
        images = images[: a.limit] if a.limit else images
        root = images[0].parent
        for mode in modes:
            rows = {}
            # cvseg
            pred = a.out / f"{name}-cvseg-{mode}.json"
            t0 = time.perf_counter()
            subprocess.run([a.cvseg, "propose", "--mode", mode, "--jobs", "1", "-q", "-o", str(pred)]
                           + [str(f) for f in images], check=True)
            cv_time = (time.perf_counter() - t0) / len(images)
            n_cv = statistics.mean(len(e["boxes"]) for e in json.loads(pred.read_text()))
            rows["cvseg"] = (evaluate(a.cvseg, pred, gt), n_cv, cv_time)
            # OpenCV
            entries, times = opencv_proposals(images, mode, root)
            pred = a.out / f"{name}-opencv-{mode}.json"
            pred.write_text(json.dumps(entries))
            rows["opencv"] = (evaluate(a.cvseg, pred, gt), statistics.mean(len(e["boxes"]) for e in entries),
                              statistics.mean(times))
            for tool, (ev, n, secs) in rows.items():
                cells = []
                for c in COUNTS:
                    r = ev[c]
                    cells += [f"{r['recall50']:.4f}", f"{r['recall70']:.4f}", f"{r['MABO']:.4f}"]
                print(f"| {name} | {tool} | {mode} | {n:.0f} | {secs:.2f} | " + " | ".join(cells) + " |")
            ours, theirs = rows["cvseg"][0], rows["opencv"][0]
            for c in COUNTS:
                for key in ("recall50", "recall70", "MABO"):
                    ok = ours[c][key] >= theirs[c][key]
                    verdicts.append((name, mode, c, key, ours[c][key], theirs[c][key], ok))
    misses = [v for v in verdicts if not v[6]]
    print(f"\nQuality target (cvseg >= OpenCV at every count, same mode): "
          f"{len(verdicts) - len(misses)}/{len(verdicts)} comparisons hold")
    for name, mode, c, key, o, t, _ in misses:
        print(f"  miss: {name} {mode} {key}@{c}: cvseg {o:.4f} < OpenCV {t:.4f}")



def speed(a, modes, cores):
    print("\n## Speed: images resized to 500 px wide, one thread\n")
    speed_dir = a.out / "speed"
    files = []
    for name, images, _ in sets(a.data, a.sets.split(",")):
        for f in images[: a.speed_images]:
            img = Image.open(f).convert("RGB")
            h = round(img.height * 500 / img.width)
            dst = speed_dir / f"{name}-{f.stem}.png"
            dst.parent.mkdir(parents=True, exist_ok=True)
            img.resize((500, h), Image.BICUBIC).save(dst)
            files.append(dst)
    print(f"{len(files)} images, 500 px wide; medians of {a.runs} runs after one warm-up\n")
    print("| mode | OpenCV s/img | cvseg --jobs 1 s/img | ratio | cvseg --jobs " + str(cores) + " s/img | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    for mode in modes:
        def run_cvseg(jobs):
            t0 = time.perf_counter()
            subprocess.run([a.cvseg, "propose", "--mode", mode, "--jobs", str(jobs), "-q",
                            "-o", str(a.out / "speed.json"), str(speed_dir)], check=True)
            return (time.perf_counter() - t0) / len(files)
        def run_opencv():
            return statistics.mean(opencv_proposals(files, mode, speed_dir)[1])
        run_cvseg(1); run_opencv()
        ocv = statistics.median(run_opencv() for _ in range(a.runs))
        one = statistics.median(run_cvseg(1) for _ in range(a.runs))
        many = statistics.median(run_cvseg(cores) for _ in range(a.runs))
        print(f"| {mode} | {ocv:.3f} | {one:.3f} | {ocv / one:.2f}x | {many:.3f} | {ocv / many:.2f}x |")


if __name__ == "__main__":
    main()
