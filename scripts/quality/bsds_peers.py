#!/usr/bin/env python3
"""Peers and table for scripts/quality/bsds (run through that script; see its header).

  segment  scikit-image's felzenszwalb and slic on every image of --images (sorted), each label
           map written as a 16-bit gray PNG <out>/<method>/<stem>.png, so that the same
           `cvseg eval partition` scores them as it scores cvseg's own label maps. Images are read
           with Pillow (RGB; JPEG decoded by Pillow's libjpeg-turbo, so pixels may differ from
           cvseg's decode by a unit here and there). Prints one line per method:
           name <TAB> parameters <TAB> seconds (segmentation and PNG writing, reading excluded).
  table    the markdown table of a results folder: methods.tsv (name, tool, parameters, seconds)
           and <name>.json from `cvseg eval partition --json`.

scikit-image's felzenszwalb labels start at 0 and slic's (start_label=1) at 1; every label value
is one region for the evaluation, so the start does not matter.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
from PIL import Image
import cv2
import skimage
from skimage.segmentation import felzenszwalb, slic

METHODS = [
    ("felzenszwalb-100", "scale=100, sigma=0.8, min_size=20",
     lambda im: felzenszwalb(im, scale=100, sigma=0.8, min_size=20)),
    ("felzenszwalb-300", "scale=300, sigma=0.8, min_size=20",
     lambda im: felzenszwalb(im, scale=300, sigma=0.8, min_size=20)),
    ("slic-100", "n_segments=100, compactness=10, start_label=1",
     lambda im: slic(im, n_segments=100, compactness=10, start_label=1)),
    ("slic-400", "n_segments=400, compactness=10, start_label=1",
     lambda im: slic(im, n_segments=400, compactness=10, start_label=1)),
]


def write_labels(path, labels):
    labels = np.asarray(labels)
    if labels.min() < 0 or labels.max() > 65535:
        raise SystemExit(f"{path}: labels {labels.min()}..{labels.max()} do not fit a 16-bit PNG")
    if not cv2.imwrite(path, labels.astype(np.uint16)):
        raise SystemExit(f"{path}: cannot write")


def segment(args):
    names = sorted(n for n in os.listdir(args.images) if not n.startswith("."))
    images = []
    for name in names:
        with Image.open(os.path.join(args.images, name)) as im:
            images.append((os.path.splitext(name)[0], np.asarray(im.convert("RGB"))))
    for method, params, run in METHODS:
        if args.only and method not in args.only.split(","):
            continue
        folder = os.path.join(args.out, method)
        os.makedirs(folder, exist_ok=True)
        start = time.perf_counter()
        for stem, image in images:
            write_labels(os.path.join(folder, stem + ".png"), run(image))
        print(f"{method}\t{params}\t{time.perf_counter() - start:.2f}", flush=True)


def table(args):
    rows = []
    with open(os.path.join(args.results, "methods.tsv")) as f:
        for line in f:
            if line.strip():
                name, tool, params, seconds = line.rstrip("\n").split("\t")
                with open(os.path.join(args.results, name + ".json")) as g:
                    rows.append((name, tool, params, float(seconds), json.load(g)))
    if not rows:
        raise SystemExit("no results")
    n = rows[0][4]["images"]

    def f(v, d=4):
        return "n/a" if v is None else f"{v:.{d}f}"
    if args.binary:
        print(f"| tool | method | parameters | mean regions | oracle foreground IoU | seconds ({n} images) |")
        print("| --- | --- | --- | ---: | ---: | ---: |")
        for name, tool, params, seconds, r in rows:
            print(f"| {tool} | {name} | {params} | {f(r['regions'], 1)} | {f(r.get('oracle_fg_IoU'))} | {seconds:.2f} |")
    else:
        print(f"| tool | method | parameters | mean regions | VI (bits, lower better) | covering (GT by pred) "
              f"| covering (pred by GT) | PRI | seconds ({n} images) |")
        print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name, tool, params, seconds, r in rows:
            print(f"| {tool} | {name} | {params} | {f(r['regions'], 1)} | {f(r['VI'])} | {f(r['covering'])} "
                  f"| {f(r['covering_reverse'])} | {f(r['PRI'])} | {seconds:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("segment")
    s.add_argument("--images", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--only", default="")
    t = sub.add_parser("table")
    t.add_argument("--results", required=True)
    t.add_argument("--binary", action="store_true")
    args = parser.parse_args()
    if args.command == "segment":
        print(f"quality: scikit-image {skimage.__version__}, numpy {np.__version__}", file=sys.stderr)
        segment(args)
    else:
        table(args)


if __name__ == "__main__":
    main()
