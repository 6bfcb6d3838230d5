#!/usr/bin/env python3
"""Write the evaluator reference fixtures read by Tests/CVSegEvalTests.

Makes, under Tests/CVSegEvalTests/Fixtures/ (located from this script's own path):

  coco/<set>/  gt.json (COCO instances), dt.json (COCO results list) and expected.json:
               pycocotools COCOeval (iouType 'bbox') stats and per-category AP, for the
               synthetic sets basic, crowd, maxdets, empty_category, and for coco128 (real
               ground truth <data>/coco128/annotations/instances_train.json, not copied: only
               dt.json and expected.json are written; <data> = $CVSEG_DATA or ../shared/data).
  voc/<set>/   expected.json (and for voc_difficult gt.json/dt.json): per-class PASCAL VOC AP,
               11-point (VOC2007) and all-point (VOC2010+), computed as py-faster-rcnn's
               voc_eval.py does, for the basic detections and for a set with `difficult` GT.
  seg/<set>/   pred/*.png and gt/*.png (8-bit index PNGs; palette GT for `palette`) and
               expected.json: numpy confusion matrix (rows GT, cols prediction) and metrics.

Everything is drawn from numpy.random.default_rng with fixed per-set seeds and written with
sorted, fixed layouts, so rerunning rewrites byte-identical files (with the same package
versions). JSON floats are written with repr (shortest round-trip form); NaN is written as null.

Cross-checks (the script exits non-zero if one fails):
  - COCO: an independent re-implementation (coco_reference below, plain Python/numpy) must
    reproduce pycocotools' stats and per-category numbers to 1e-12; the JSON files are
    evaluated as read back from disk.
  - VOC: voc_ap is checked against a second, loop-based all-point/11-point formulation.
  - seg: the PNGs are read back with Pillow and OpenCV and must equal the generated arrays;
    the bincount confusion matrix must equal an np.add.at one.

Run:  PY=$(scripts/python-env)/bin/python; $PY scripts/reference/eval_reference.py
"""

import bisect
import contextlib
import hashlib
import io
import json
import math
import os
import shutil
import sys
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path

import cv2
import numpy as np
import png  # pypng
from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("CVSEG_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "Tests" / "CVSegEvalTests" / "Fixtures"
SCRIPT = "scripts/reference/eval_reference.py"
COCO128_GT = "coco128/annotations/instances_train.json"

FAILURES = []


def check(cond, msg):
    if not cond:
        FAILURES.append(msg)
        print("CHECK FAILED:", msg, file=sys.stderr)


# ----------------------------------------------------------------------------- JSON helpers

def clean(o):
    """Plain JSON types; NaN -> None; numpy scalars/arrays -> Python."""
    if isinstance(o, dict):
        return {str(k): clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [clean(v) for v in o]
    if isinstance(o, np.ndarray):
        return clean(o.tolist())
    if isinstance(o, (bool, np.bool_)):
        return bool(o)
    if isinstance(o, (int, np.integer)):
        return int(o)
    if isinstance(o, (float, np.floating)):
        f = float(o)
        if math.isnan(f):
            return None
        assert math.isfinite(f), f
        return f
    return o


def dumps(o):
    return json.dumps(clean(o), separators=(",", ":"), allow_nan=False, ensure_ascii=True)


def write_lines_object(path, obj, list_keys=()):
    """A JSON object with one top-level key per line; lists named in list_keys get one item per line."""
    parts = []
    for k, v in obj.items():
        if k in list_keys:
            body = ",\n".join(dumps(e) for e in v)
            parts.append(json.dumps(k) + ":[\n" + body + "\n]")
        else:
            parts.append(json.dumps(k) + ":" + dumps(v))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{\n" + ",\n".join(parts) + "\n}\n")


def write_list(path, items):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[\n" + ",\n".join(dumps(e) for e in items) + "\n]\n")


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- COCO parameters

IOU_THRS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
REC_THRS = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
AREA_RNG = [[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]]
AREA_LBL = ["all", "small", "medium", "large"]
MAX_DETS = [1, 10, 100]
STATS_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]

# numpy.linspace(start, stop, n) = [start + i*step for i < n-1] + [stop], step = (stop-start)/(n-1)
_step = (0.95 - 0.5) / 9
check(list(IOU_THRS) == [0.5 + i * _step for i in range(9)] + [0.95], "iouThrs formula")
check(list(REC_THRS) == [0.0 + i * 0.01 for i in range(100)] + [1.0], "recThrs formula")

COCO_NOTES = [
    "stats = COCOeval.stats after evaluate/accumulate/summarize, iouType 'bbox', default Params, useCats=1; -1 means no category had a defined value.",
    "per_category[k].AP = mean of eval['precision'][:, :, k, 0, 2] (all 10 IoU thresholds x 101 recall thresholds, area 'all', maxDets 100) over entries > -1, or -1 if there are none; AP50 uses iouThr index 0 only, AP75 index 5; AR100 = mean of eval['recall'][:, k, 0, 2] over entries > -1. k runs over the sorted category ids of gt.json 'categories'.",
    "A category with ground truth but no detections gets precision 0 (AP 0); a category with no non-ignored ground truth (all crowd, none at all, or none in the area range) gets -1 and is left out of the means. Detections whose category_id is not in gt.json 'categories' are ignored.",
    "Area ranges: GT uses its 'area' FIELD (not w*h) to decide whether it is ignored for small/medium/large; detections use w*h (loadRes sets area = bbox[2]*bbox[3]); bounds are inclusive on both ends ([0,1024], [1024,9216], [9216,1e10]), so area 1024 is both small and medium. An unmatched detection outside the range is ignored; a detection matched to an ignored GT (crowd or out of range) is ignored.",
    "IoU (maskApi bbIou): w = min(dx+dw, gx+gw) - max(dx, gx), h likewise, 0 if w<=0 or h<=0; i = w*h; u = (dw*dh + gw*gh) - i, or u = dw*dh for a crowd GT; IoU = i/u. A match needs IoU >= threshold (threshold min(t, 1-1e-10)).",
    "Per image and category: GT sorted with non-ignored first (stable), detections sorted by score descending with a stable sort (ties keep dt.json order) and cut to the first 100 (maxDets[-1]); the 100 cap is per image AND per category. Greedy matching per IoU threshold in that detection order: for each GT in order, skip GT already matched unless crowd; stop (break) when the best match so far is a non-ignored GT and this GT is ignored; skip if IoU < best-so-far (initially the threshold); otherwise it becomes the best, so among equal IoUs the LATER GT wins. Crowd GT can be matched any number of times.",
    "accumulate: for maxDets m, take the first m (score-sorted) detections of every image, concatenate in ascending image-id order, and stable-sort by descending score again (mergesort): ties across images go to the smaller image id, then to dt.json order. tp/fp = cumulative sums of (matched and not ignored)/(unmatched and not ignored); rc = tp/npig (npig = number of non-ignored GT over all images), pr = tp/(tp+fp+np.spacing(1)); pr made non-increasing from the right; for each recall threshold r, precision = pr[first index with rc >= r] (np.searchsorted side='left') or 0 if there is none. recall = rc[-1] (0 when there are no detections). Images with neither GT nor detections for the category are skipped.",
    "A GT annotation id of 0 would break pycocotools (a match is stored as the GT id and 0 means unmatched); the synthetic sets use ids >= 1. The GT 'ignore' field, if present, is overwritten by iscrowd.",
    "params.iouThrs = np.linspace(.5, .95, 10) = [0.5 + i*step for i in 0..8] + [0.95] with step = (0.95-0.5)/9; params.recThrs = np.linspace(0, 1, 101) = [i*0.01 for i in 0..99] + [1.0]. Several differ from the decimal literals (0.8999999999999999, 0.35000000000000003, 0.5700000000000001, ...) and this matters when a recall equals e.g. 0.57 exactly (set maxdets has a category with exactly 100 GT).",
]


def coco_params():
    return {"iouThrs": [float(x) for x in IOU_THRS], "recThrs": [float(x) for x in REC_THRS],
            "maxDets": MAX_DETS, "areaRng": [[float(a), float(b)] for a, b in AREA_RNG],
            "areaRngLbl": AREA_LBL, "iouType": "bbox", "useCats": 1}


# ----------------------------------------------------------------------------- pycocotools run

def run_pycocotools(gt_path, dt_path):
    with contextlib.redirect_stdout(io.StringIO()):
        cgt = COCO(str(gt_path))
        cdt = cgt.loadRes(str(dt_path))
        ev = COCOeval(cgt, cdt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    p = ev.eval["precision"]
    r = ev.eval["recall"]
    cats = ev.params.catIds
    per = []
    for k, c in enumerate(cats):
        def m(a):
            a = a[a > -1]
            return float(np.mean(a)) if a.size else -1.0
        per.append({"category_id": int(c), "AP": m(p[:, :, k, 0, 2]), "AP50": m(p[0, :, k, 0, 2]),
                    "AP75": m(p[5, :, k, 0, 2]), "AR100": m(r[:, k, 0, 2])})
    return [float(x) for x in ev.stats], per, ev


# ----------------------------------------------------------------------------- independent COCO re-implementation

def bb_iou(d, g, crowd):
    w = min(d[2] + d[0], g[2] + g[0]) - max(d[0], g[0])
    if w <= 0:
        return 0.0
    h = min(d[3] + d[1], g[3] + g[1]) - max(d[1], g[1])
    if h <= 0:
        return 0.0
    i = w * h
    da = d[2] * d[3]
    u = da if crowd else da + g[2] * g[3] - i
    return i / u


def coco_reference(gt, dts):
    """Plain re-implementation of COCOeval bbox (default params) from the written JSON."""
    img_ids = sorted({im["id"] for im in gt["images"]})
    cat_ids = sorted({c["id"] for c in gt["categories"]})
    iset, cset = set(img_ids), set(cat_ids)
    G, D = defaultdict(list), defaultdict(list)
    for a in gt["annotations"]:
        if a["image_id"] in iset and a["category_id"] in cset:
            G[a["image_id"], a["category_id"]].append(a)
    for d in dts:
        if d["image_id"] in iset and d["category_id"] in cset:
            D[d["image_id"], d["category_id"]].append(d)
    thrs = [float(x) for x in IOU_THRS]
    rthrs = [float(x) for x in REC_THRS]
    T, R, K, A, M = len(thrs), len(rthrs), len(cat_ids), len(AREA_RNG), len(MAX_DETS)
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    eps = float(np.spacing(1))
    for k, c in enumerate(cat_ids):
        for a, (lo, hi) in enumerate(AREA_RNG):
            per_img = []
            for i in img_ids:
                g, d = G[i, c], D[i, c]
                if not g and not d:
                    continue
                gig = [1 if (x["iscrowd"] or x["area"] < lo or x["area"] > hi) else 0 for x in g]
                order = sorted(range(len(g)), key=lambda j: gig[j])  # stable
                g = [g[j] for j in order]
                gig = [gig[j] for j in order]
                crowd = [bool(x["iscrowd"]) for x in g]
                d = sorted(d, key=lambda x: -x["score"])[:MAX_DETS[-1]]  # stable
                ious = [[bb_iou(x["bbox"], y["bbox"], cr) for y, cr in zip(g, crowd)] for x in d]
                matched = np.zeros((T, len(d)), bool)
                dig = np.zeros((T, len(d)), bool)
                for t, thr in enumerate(thrs):
                    taken = [False] * len(g)
                    for di in range(len(d)):
                        best, biou = -1, min(thr, 1 - 1e-10)
                        for gi in range(len(g)):
                            if taken[gi] and not crowd[gi]:
                                continue
                            if best > -1 and gig[best] == 0 and gig[gi] == 1:
                                break
                            if ious[di][gi] < biou:
                                continue
                            biou, best = ious[di][gi], gi
                        if best >= 0:
                            matched[t, di] = True
                            dig[t, di] = bool(gig[best])
                            taken[best] = True
                        else:
                            ar = d[di]["bbox"][2] * d[di]["bbox"][3]
                            dig[t, di] = ar < lo or ar > hi
                per_img.append(([x["score"] for x in d], matched, dig, sum(1 for v in gig if v == 0)))
            if not per_img:
                continue
            npig = sum(e[3] for e in per_img)
            for m, md in enumerate(MAX_DETS):
                if npig == 0:
                    continue
                scores = [s for e in per_img for s in e[0][:md]]
                order = sorted(range(len(scores)), key=lambda j: -scores[j])  # stable
                mt = np.concatenate([e[1][:, :md] for e in per_img], axis=1)[:, order]
                ig = np.concatenate([e[2][:, :md] for e in per_img], axis=1)[:, order]
                for t in range(T):
                    tp = np.cumsum(mt[t] & ~ig[t]).astype(float)
                    fp = np.cumsum(~mt[t] & ~ig[t]).astype(float)
                    nd = len(tp)
                    rc = [float(x) / npig for x in tp]
                    pr = [float(x) / (float(y) + float(x) + eps) for x, y in zip(tp, fp)]
                    recall[t, k, a, m] = rc[-1] if nd else 0.0
                    for j in range(nd - 1, 0, -1):
                        if pr[j] > pr[j - 1]:
                            pr[j - 1] = pr[j]
                    for ri, r in enumerate(rthrs):
                        j = bisect.bisect_left(rc, r)
                        precision[t, ri, k, a, m] = pr[j] if j < nd else 0.0

    def mean(s):
        s = s[s > -1]
        return float(np.mean(s)) if s.size else -1.0
    stats = [mean(precision[:, :, :, 0, 2]), mean(precision[0, :, :, 0, 2]), mean(precision[5, :, :, 0, 2]),
             mean(precision[:, :, :, 1, 2]), mean(precision[:, :, :, 2, 2]), mean(precision[:, :, :, 3, 2]),
             mean(recall[:, :, 0, 0]), mean(recall[:, :, 0, 1]), mean(recall[:, :, 0, 2]),
             mean(recall[:, :, 1, 2]), mean(recall[:, :, 2, 2]), mean(recall[:, :, 3, 2])]
    per = [{"category_id": c, "AP": mean(precision[:, :, k, 0, 2]), "AP50": mean(precision[0, :, k, 0, 2]),
            "AP75": mean(precision[5, :, k, 0, 2]), "AR100": mean(recall[:, k, 0, 2])}
           for k, c in enumerate(cat_ids)]
    return stats, per, precision, recall


# ----------------------------------------------------------------------------- synthetic COCO sets

IMAGE_SIZES = [(640, 480), (480, 640), (500, 375), (320, 240), (800, 600), (640, 427)]


def r2(x):
    return round(float(x), 2)


def make_images(rng, n, id_lo=1, id_hi=None):
    id_hi = id_hi or 20 * n
    ids = rng.choice(np.arange(id_lo, id_hi), size=n, replace=False)  # random order, not sorted
    imgs = []
    for i in ids:
        w, h = IMAGE_SIZES[int(rng.integers(len(IMAGE_SIZES)))]
        imgs.append({"id": int(i), "width": w, "height": h, "file_name": f"{int(i):012d}.jpg"})
    return imgs


def rand_box(rng, W, H, size=None):
    """[x, y, w, h]; size 0 small (sqrt area 2..32), 1 medium (32..96), 2 large (96..0.9*min)."""
    if size is None:
        size = int(rng.choice(3, p=[0.35, 0.35, 0.30]))
    lo, hi = [(2.0, 32.0), (32.0, 96.0), (96.0, 0.9 * min(W, H))][size]
    s = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    ar = math.exp(rng.uniform(-0.8, 0.8))
    w = min(s * math.sqrt(ar), W - 1.0)
    h = min(s / math.sqrt(ar), H - 1.0)
    if rng.random() < 0.2:  # some integer boxes
        w, h = max(1.0, float(round(w))), max(1.0, float(round(h)))
        x, y = float(rng.integers(0, int(W - w) + 1)), float(rng.integers(0, int(H - h) + 1))
    else:
        w, h = max(1.0, r2(w)), max(1.0, r2(h))
        x, y = r2(rng.uniform(0, W - w)), r2(rng.uniform(0, H - h))
    return [x, y, w, h]


def jitter(rng, box, W, H, sigma=None):
    if sigma is None:
        sigma = float(rng.choice([0.02, 0.06, 0.12, 0.25]))
    x, y, w, h = box
    nw = w * math.exp(rng.normal(0, sigma))
    nh = h * math.exp(rng.normal(0, sigma))
    cx = x + w / 2 + rng.normal(0, sigma * w)
    cy = y + h / 2 + rng.normal(0, sigma * h)
    x0, y0 = max(0.0, cx - nw / 2), max(0.0, cy - nh / 2)
    x1, y1 = min(float(W), cx + nw / 2), min(float(H), cy + nh / 2)
    if x1 - x0 < 1:
        x0, x1 = max(0.0, min(x0, W - 1.0)), max(0.0, min(x0, W - 1.0)) + 1
    if y1 - y0 < 1:
        y0, y1 = max(0.0, min(y0, H - 1.0)), max(0.0, min(y0, H - 1.0)) + 1
    x0, y0 = r2(x0), r2(y0)
    return [x0, y0, max(1.0, r2(x1 - x0)), max(1.0, r2(y1 - y0))]


def rand_score(rng, good):
    s = rng.uniform(0.3, 1.0) if good else rng.uniform(0.0, 0.75)
    r = rng.random()
    if r < 0.55:
        return round(float(s), 2)  # many ties within and across images
    if r < 0.65:
        return round(float(s), 1)
    return float(s)  # full precision


def gt_area(rng, w, h, p_diff=0.3):
    if rng.random() < p_diff:
        return r2(w * h * rng.uniform(0.4, 0.95))  # like a segmentation area: smaller than the box
    return w * h


def categories(ids):
    return [{"id": c, "name": f"class_{c}", "supercategory": "thing"} for c in ids]


class AnnIds:
    def __init__(self, start):
        self.n = start

    def __call__(self):
        self.n += int(1 + (self.n % 3 == 0))  # increasing, with gaps, never 0
        return self.n


def make_basic():
    rng = np.random.default_rng(20240501)
    cats = [1, 3, 7, 12]
    cat_p = [0.4, 0.25, 0.2, 0.15]
    imgs = make_images(rng, 296)
    anns, dts = [], []
    nid = AnnIds(0)
    no_gt = set(rng.choice(len(imgs), 25, replace=False).tolist())
    no_dt = set(rng.choice(len(imgs), 25, replace=False).tolist())
    for n, im in enumerate(imgs):
        W, H = im["width"], im["height"]
        ngt = 0 if n in no_gt else int(rng.integers(0, 9))
        gts = []
        for _ in range(ngt):
            c = int(rng.choice(cats, p=cat_p))
            b = rand_box(rng, W, H)
            a = {"id": nid(), "image_id": im["id"], "category_id": c, "bbox": b,
                 "area": gt_area(rng, b[2], b[3]), "iscrowd": 0}
            anns.append(a)
            gts.append(a)
        if n in no_dt:
            continue
        for a in gts:
            if rng.random() < 0.15:
                continue  # missed
            for _ in range(1 if rng.random() < 0.85 else 2):
                c = a["category_id"] if rng.random() > 0.05 else int(rng.choice(cats))
                dts.append({"image_id": im["id"], "category_id": c, "bbox": jitter(rng, a["bbox"], W, H),
                            "score": rand_score(rng, True)})
        for _ in range(int(rng.poisson(1.2))):
            dts.append({"image_id": im["id"], "category_id": int(rng.choice(cats, p=cat_p)),
                        "bbox": rand_box(rng, W, H), "score": rand_score(rng, False)})
    # hand-made images (ids above the random ones)
    extra = []
    # (1) equal IoU with two GT: pycocotools gives det1 to the LATER GT (B), VOC's argmax to the first (A)
    im = {"id": 7001, "width": 200, "height": 100, "file_name": "equal_iou.jpg"}
    extra.append(im)
    for b in ([6, 10, 20, 20], [14, 10, 20, 20]):
        anns.append({"id": nid(), "image_id": 7001, "category_id": 1, "bbox": [float(v) for v in b],
                     "area": float(b[2] * b[3]), "iscrowd": 0})
    dts.append({"image_id": 7001, "category_id": 1, "bbox": [10.0, 10.0, 20.0, 20.0], "score": 0.97})
    dts.append({"image_id": 7001, "category_id": 1, "bbox": [18.0, 10.0, 20.0, 20.0], "score": 0.96})
    # (2) IoU exactly k/100 at every COCO threshold: GT 100x10, detection w x 10 inside it
    im = {"id": 7002, "width": 300, "height": 300, "file_name": "iou_edges.jpg"}
    extra.append(im)
    for j, w in enumerate([50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 49]):
        x0, y0 = 20.0 + (j % 2) * 150, 10.0 + 25 * j
        anns.append({"id": nid(), "image_id": 7002, "category_id": 3, "bbox": [x0, y0, 100.0, 10.0],
                     "area": 1000.0, "iscrowd": 0})
        dts.append({"image_id": 7002, "category_id": 3, "bbox": [x0 + 3, y0, float(w), 10.0],
                    "score": round(0.5 + 0.04 * j, 2)})
    # (3) area boundaries and area field != w*h
    im = {"id": 7003, "width": 640, "height": 480, "file_name": "area_edges.jpg"}
    extra.append(im)
    for b, area in (([10, 10, 32, 32], 1024.0), ([100, 10, 96, 96], 9216.0), ([250, 10, 40, 40], 900.0),
                    ([350, 10, 20, 20], 2000.0), ([400, 200, 120, 100], 9000.0), ([10, 300, 31, 33], 1023.0)):
        anns.append({"id": nid(), "image_id": 7003, "category_id": 7, "bbox": [float(v) for v in b],
                     "area": area, "iscrowd": 0})
        dts.append({"image_id": 7003, "category_id": 7, "bbox": [b[0] + 1.0, b[1] + 1.0, float(b[2]), float(b[3])],
                    "score": 0.8})
    for b in ([500, 10, 32, 32], [500, 100, 96, 96], [600, 400, 32, 32.5]):  # unmatched, areas on the bounds
        dts.append({"image_id": 7003, "category_id": 7, "bbox": [float(v) for v in b], "score": 0.8})
    # (4) exact duplicate detections (same box, same score) and ties with other images
    im = {"id": 7004, "width": 320, "height": 240, "file_name": "duplicates.jpg"}
    extra.append(im)
    anns.append({"id": nid(), "image_id": 7004, "category_id": 12, "bbox": [50.0, 50.0, 60.0, 40.0],
                 "area": 2400.0, "iscrowd": 0})
    for _ in range(3):
        dts.append({"image_id": 7004, "category_id": 12, "bbox": [52.0, 51.0, 60.0, 40.0], "score": 0.5})
    # (5) IoU that is 0.9 in exact arithmetic but 0.8999999999999999 in doubles: equal to
    # iouThrs[8], so pycocotools matches at that threshold; a threshold built as the literal 0.9 would not.
    im = {"id": 7005, "width": 320, "height": 240, "file_name": "iou_0.9.jpg"}
    extra.append(im)
    for g, dbox in (([10.0, 10.0, 100.0, 33.33], [10.0, 10.0, 90.0, 33.33]),
                    ([10.0, 60.0, 100.0, 33.33], [10.0, 60.0, 99.99, 30.0]),
                    ([10.0, 10.0, 52.25, 10.0], [10.0, 10.0, 47.5, 9.9])):
        check(bb_iou(dbox, g, False) == float(IOU_THRS[8]), f"iou edge {g} {dbox}: {bb_iou(dbox, g, False)!r}")
        cat = 1 if g[2] == 100.0 else 3
        if cat == 3:  # put the third pair in its own image so that it cannot meet the others
            im = {"id": 7006, "width": 320, "height": 240, "file_name": "iou_0.9_b.jpg"}
            extra.append(im)
        anns.append({"id": nid(), "image_id": im["id"], "category_id": cat, "bbox": g, "area": g[2] * g[3],
                     "iscrowd": 0})
        dts.append({"image_id": im["id"], "category_id": cat, "bbox": dbox, "score": 0.99})
    imgs += extra
    order = rng.permutation(len(dts))
    dts = [dts[i] for i in order]
    return {"images": imgs, "annotations": anns, "categories": categories(cats)}, dts


def make_crowd():
    rng = np.random.default_rng(20240502)
    cats = [1, 2, 3]
    imgs = make_images(rng, 150)
    anns, dts = [], []
    nid = AnnIds(100)
    for im in imgs:
        W, H = im["width"], im["height"]
        crowds = []
        if rng.random() < 0.65:
            for _ in range(int(rng.integers(1, 3))):
                b = rand_box(rng, W, H, size=2)
                a = {"id": nid(), "image_id": im["id"], "category_id": int(rng.choice(cats)), "bbox": b,
                     "area": r2(b[2] * b[3] * rng.uniform(0.5, 0.9)), "iscrowd": 1}
                anns.append(a)
                crowds.append(a)
        gts = []
        for _ in range(int(rng.integers(0, 6))):
            c = int(rng.choice(cats))
            if crowds and rng.random() < 0.35:  # a regular GT inside a crowd region
                cr = crowds[int(rng.integers(len(crowds)))]
                c = cr["category_id"]
                x, y, w, h = cr["bbox"]
                bw, bh = r2(w * rng.uniform(0.15, 0.5)), r2(h * rng.uniform(0.15, 0.5))
                b = [r2(x + rng.uniform(0, w - bw)), r2(y + rng.uniform(0, h - bh)), bw, bh]
            else:
                b = rand_box(rng, W, H)
            a = {"id": nid(), "image_id": im["id"], "category_id": c, "bbox": b,
                 "area": gt_area(rng, b[2], b[3], 0.2), "iscrowd": 0}
            anns.append(a)
            gts.append(a)
        for a in gts:
            if rng.random() < 0.15:
                continue
            dts.append({"image_id": im["id"], "category_id": a["category_id"], "bbox": jitter(rng, a["bbox"], W, H),
                        "score": rand_score(rng, True)})
        for cr in crowds:  # detections inside / straddling crowd regions
            x, y, w, h = cr["bbox"]
            for _ in range(int(rng.integers(1, 7))):
                bw, bh = r2(w * rng.uniform(0.1, 0.6)), r2(h * rng.uniform(0.1, 0.6))
                bx, by = x + rng.uniform(-0.3 * bw, w - 0.7 * bw), y + rng.uniform(-0.3 * bh, h - 0.7 * bh)
                bx, by = r2(min(max(bx, 0.0), W - bw)), r2(min(max(by, 0.0), H - bh))
                c = cr["category_id"] if rng.random() < 0.85 else int(rng.choice(cats))
                dts.append({"image_id": im["id"], "category_id": c, "bbox": [bx, by, bw, bh],
                            "score": rand_score(rng, rng.random() < 0.5)})
            if rng.random() < 0.3:  # the whole crowd box as a detection
                dts.append({"image_id": im["id"], "category_id": cr["category_id"], "bbox": list(cr["bbox"]),
                            "score": rand_score(rng, True)})
        for _ in range(int(rng.poisson(0.8))):
            dts.append({"image_id": im["id"], "category_id": int(rng.choice(cats)), "bbox": rand_box(rng, W, H),
                        "score": rand_score(rng, False)})
    # hand-made: a det that overlaps a regular GT (IoU 0.6) and lies inside a crowd region (crowd IoU 1):
    # matched to the regular GT at thresholds <= 0.6, to the crowd region (ignored) above.
    im = {"id": 9001, "width": 400, "height": 300, "file_name": "crowd_vs_regular.jpg"}
    imgs.append(im)
    anns.append({"id": nid(), "image_id": 9001, "category_id": 1, "bbox": [0.0, 0.0, 300.0, 200.0],
                 "area": 40000.0, "iscrowd": 1})
    anns.append({"id": nid(), "image_id": 9001, "category_id": 1, "bbox": [50.0, 50.0, 100.0, 60.0],
                 "area": 6000.0, "iscrowd": 0})
    dts.append({"image_id": 9001, "category_id": 1, "bbox": [50.0, 50.0, 60.0, 60.0], "score": 0.9})
    dts.append({"image_id": 9001, "category_id": 1, "bbox": [200.0, 120.0, 50.0, 50.0], "score": 0.9})
    order = rng.permutation(len(dts))
    dts = [dts[i] for i in order]
    return {"images": imgs, "annotations": anns, "categories": categories(cats)}, dts


def make_maxdets():
    rng = np.random.default_rng(20240503)
    cats = [1, 2]
    imgs = make_images(rng, 100)
    anns, dts = [], []
    nid = AnnIds(5000)
    dense = {0: (1, 300), 1: (1, 101), 2: (1, 150), 3: (1, 200), 4: (2, 120), 5: (1, 100), 6: (2, 99),
             7: (1, 250), 8: (2, 180), 9: (1, 130)}
    two_cats = 10  # image with 150 detections in each of the two categories
    gt_cat2_target = 100  # exactly 100 GT of category 2 overall (recall k/100 hits 0.57 etc.)
    per_img_gt = []
    for n, im in enumerate(imgs):
        W, H = im["width"], im["height"]
        if n in dense or n == two_cats:
            ngt = int(rng.integers(10, 40))
        else:
            ngt = int(rng.integers(0, 8))
        per_img_gt.append(ngt)
    # assign categories so that category 2 has exactly gt_cat2_target GT
    total = sum(per_img_gt)
    cat_of = [1] * total
    for j in rng.choice(total, gt_cat2_target, replace=False):
        cat_of[int(j)] = 2
    j = 0
    for n, im in enumerate(imgs):
        W, H = im["width"], im["height"]
        gts = []
        for _ in range(per_img_gt[n]):
            b = rand_box(rng, W, H, size=int(rng.choice(3, p=[0.5, 0.35, 0.15])))
            a = {"id": nid(), "image_id": im["id"], "category_id": cat_of[j], "bbox": b,
                 "area": gt_area(rng, b[2], b[3], 0.1), "iscrowd": 0}
            j += 1
            anns.append(a)
            gts.append(a)
        targets = {}
        if n in dense:
            targets[dense[n][0]] = dense[n][1]
        if n == two_cats:
            targets = {1: 150, 2: 150}
        for c, count in targets.items():
            cg = [a for a in gts if a["category_id"] == c] or gts
            for _ in range(count):
                if rng.random() < 0.6 and cg:
                    a = cg[int(rng.integers(len(cg)))]
                    b, good = jitter(rng, a["bbox"], W, H), True
                else:
                    b, good = rand_box(rng, W, H, size=int(rng.choice(3, p=[0.5, 0.35, 0.15]))), False
                s = round(float(rng.uniform(0.3 if good else 0.0, 1.0 if good else 0.8)), 1)  # heavy ties at the cut
                dts.append({"image_id": im["id"], "category_id": c, "bbox": b, "score": s})
        for a in gts:
            if a["category_id"] in targets or rng.random() < 0.2:
                continue
            dts.append({"image_id": im["id"], "category_id": a["category_id"], "bbox": jitter(rng, a["bbox"], W, H),
                        "score": rand_score(rng, True)})
        for _ in range(int(rng.poisson(2.0))):
            dts.append({"image_id": im["id"], "category_id": int(rng.choice(cats)), "bbox": rand_box(rng, W, H),
                        "score": rand_score(rng, False)})
    order = rng.permutation(len(dts))
    dts = [dts[i] for i in order]
    return {"images": imgs, "annotations": anns, "categories": categories(cats)}, dts


def make_empty_category():
    rng = np.random.default_rng(20240504)
    # 5: GT, never detected; 9: detected, never in GT; 42: detections only, not a category; no large GT
    cats = [1, 2, 5, 9]
    imgs = make_images(rng, 60)
    anns, dts = [], []
    nid = AnnIds(20000)
    for im in imgs:
        W, H = im["width"], im["height"]
        gts = []
        for _ in range(int(rng.integers(0, 6))):
            c = int(rng.choice([1, 2, 5], p=[0.45, 0.35, 0.2]))
            b = rand_box(rng, W, H, size=int(rng.choice(2)))  # no large GT: APl and ARl are -1
            a = {"id": nid(), "image_id": im["id"], "category_id": c, "bbox": b,
                 "area": gt_area(rng, b[2], b[3], 0.2), "iscrowd": 0}
            anns.append(a)
            gts.append(a)
        for a in gts:
            if rng.random() < 0.15:
                continue
            c = a["category_id"]
            if c == 5:
                c = int(rng.choice([9, 42]))  # a class-5 object detected as 9 or as the unknown 42
            dts.append({"image_id": im["id"], "category_id": c, "bbox": jitter(rng, a["bbox"], W, H),
                        "score": rand_score(rng, True)})
        for _ in range(int(rng.poisson(1.0))):
            dts.append({"image_id": im["id"], "category_id": int(rng.choice([1, 2, 9, 42])),
                        "bbox": rand_box(rng, W, H), "score": rand_score(rng, False)})
    order = rng.permutation(len(dts))
    dts = [dts[i] for i in order]
    return {"images": imgs, "annotations": anns, "categories": categories(cats)}, dts


def make_coco128_dts(gt):
    rng = np.random.default_rng(20240505)
    cat_ids = sorted(c["id"] for c in gt["categories"])
    present = sorted({a["category_id"] for a in gt["annotations"]})
    size = {im["id"]: (im["width"], im["height"]) for im in gt["images"]}
    by_img = defaultdict(list)
    for a in gt["annotations"]:
        by_img[a["image_id"]].append(a)
    dts = []
    for im in sorted(gt["images"], key=lambda x: x["id"]):
        W, H = size[im["id"]]
        for a in by_img[im["id"]]:
            if rng.random() < 0.15:
                continue
            c = a["category_id"]
            if rng.random() < 0.1:
                c = int(rng.choice(present if rng.random() < 0.7 else cat_ids))
            dts.append({"image_id": im["id"], "category_id": c,
                        "bbox": jitter(rng, [float(v) for v in a["bbox"]], W, H), "score": rand_score(rng, True)})
        for _ in range(int(rng.poisson(1.5))):
            dts.append({"image_id": im["id"], "category_id": int(rng.choice(present)),
                        "bbox": rand_box(rng, W, H), "score": rand_score(rng, False)})
    order = rng.permutation(len(dts))
    return [dts[i] for i in order]


def write_coco_gt(path, gt):
    head = {"info": {"description": f"synthetic set written by {SCRIPT}"}}
    obj = dict(head)
    obj["images"] = gt["images"]
    obj["annotations"] = gt["annotations"]
    obj["categories"] = gt["categories"]
    write_lines_object(path, obj, list_keys=("images", "annotations"))


def coco_expected(name, gt, gt_ref, dt_rel, gt_path, dt_path, versions):
    stats, per, ev = run_pycocotools(gt_path, dt_path)
    dts = json.loads(Path(dt_path).read_text())
    gt_read = json.loads(Path(gt_path).read_text())
    rstats, rper, _, _ = coco_reference(gt_read, dts)
    for s, r, n in zip(stats, rstats, STATS_NAMES):
        check(abs(s - r) <= 1e-12, f"coco/{name} {n}: pycocotools {s!r} vs reference {r!r}")
    for a, b in zip(per, rper):
        for key in ("AP", "AP50", "AP75", "AR100"):
            check(abs(a[key] - b[key]) <= 1e-12, f"coco/{name} cat {a['category_id']} {key}: {a[key]!r} vs {b[key]!r}")
    cat_set = {c["id"] for c in gt["categories"]}
    img_set = {im["id"] for im in gt["images"]}
    n_gt = defaultdict(int)
    n_gt_crowd = defaultdict(int)
    for a in gt["annotations"]:
        (n_gt_crowd if a["iscrowd"] else n_gt)[a["category_id"]] += 1
    n_dt = defaultdict(int)
    for d in dts:
        n_dt[d["category_id"]] += 1
    for e in per:
        c = e["category_id"]
        e["n_gt"] = n_gt[c]
        e["n_gt_crowd"] = n_gt_crowd[c]
        e["n_dt"] = n_dt[c]
    per_img = defaultdict(lambda: defaultdict(int))
    for d in dts:
        per_img[d["image_id"], d["category_id"]]["n"] += 1
    exp = {
        "set": name,
        **gt_ref,
        "dt": dt_rel,
        "pycocotools_version": versions["pycocotools"],
        "numpy_version": versions["numpy"],
        "stats_names": STATS_NAMES,
        "stats": stats,
        "per_category": per,
        "n_images": len(gt["images"]),
        "n_gt": len(gt["annotations"]),
        "n_gt_crowd": sum(1 for a in gt["annotations"] if a["iscrowd"]),
        "n_dt": len(dts),
        "n_dt_ignored_category": sum(1 for d in dts if d["category_id"] not in cat_set),
        "max_dt_per_image_category": max((v["n"] for v in per_img.values()), default=0),
        "n_images_without_gt": len(img_set - {a["image_id"] for a in gt["annotations"]}),
        "n_images_without_dt": len(img_set - {d["image_id"] for d in dts}),
        "params": coco_params(),
        "notes": COCO_NOTES,
    }
    return exp, ev


# ----------------------------------------------------------------------------- VOC (py-faster-rcnn voc_eval.py)

VOC07_T = [float(t) for t in np.arange(0., 1.1, 0.1)]
check(VOC07_T == [i * 0.1 for i in range(11)], "np.arange(0, 1.1, 0.1) == i*0.1")


def voc_ap(rec, prec, use_07_metric):
    """py-faster-rcnn voc_eval.voc_ap, verbatim in substance."""
    if use_07_metric:
        ap = 0.
        for t in np.arange(0., 1.1, 0.1):
            if np.sum(rec >= t) == 0:
                p = 0
            else:
                p = np.max(prec[rec >= t])
            ap = ap + p / 11.
    else:
        mrec = np.concatenate(([0.], rec, [1.]))
        mpre = np.concatenate(([0.], prec, [0.]))
        for i in range(mpre.size - 1, 0, -1):
            mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
        i = np.where(mrec[1:] != mrec[:-1])[0]
        ap = np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])
    return float(ap)


def voc_ap_loops(rec, prec, use_07_metric):
    """Second formulation (plain loops) for the cross-check."""
    rec, prec = [float(x) for x in rec], [float(x) for x in prec]
    if use_07_metric:
        ap = 0.0
        for t in VOC07_T:
            ps = [p for r, p in zip(rec, prec) if r >= t]
            ap += (max(ps) if ps else 0.0) / 11.0
        return ap
    if any(math.isnan(r) for r in rec):
        return float("nan")
    mrec, mpre = [0.0] + rec + [1.0], [0.0] + prec + [0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    ap = 0.0
    for i in range(1, len(mrec)):
        if mrec[i] != mrec[i - 1]:
            ap += (mrec[i] - mrec[i - 1]) * mpre[i]
    return ap


def xyxy(b):
    return [b[0], b[1], b[0] + b[2], b[1] + b[3]]


def voc_eval_class(gt, dts, cat, ovthresh=0.5):
    recs = defaultdict(list)
    for a in gt["annotations"]:
        if a["category_id"] == cat:
            recs[a["image_id"]].append(a)
    class_recs = {}
    npos = 0
    for im in gt["images"]:
        R = recs[im["id"]]
        bbox = np.array([xyxy(a["bbox"]) for a in R], dtype=float).reshape(-1, 4)
        difficult = np.array([bool(a.get("difficult", False)) for a in R], dtype=bool)
        det = [False] * len(R)
        npos = npos + int(np.sum(~difficult))
        class_recs[im["id"]] = {"bbox": bbox, "difficult": difficult, "det": det}
    mine = [d for d in dts if d["category_id"] == cat]  # dt.json order
    image_ids = [d["image_id"] for d in mine]
    confidence = np.array([d["score"] for d in mine], dtype=float)
    BB = np.array([xyxy(d["bbox"]) for d in mine], dtype=float).reshape(-1, 4)
    sorted_ind = np.argsort(-confidence, kind="stable")  # voc_eval.py uses the default (unstable) sort
    BB = BB[sorted_ind, :]
    image_ids = [image_ids[x] for x in sorted_ind]
    nd = len(image_ids)
    tp = np.zeros(nd)
    fp = np.zeros(nd)
    for d in range(nd):
        R = class_recs[image_ids[d]]
        bb = BB[d, :].astype(float)
        ovmax = -np.inf
        BBGT = R["bbox"].astype(float)
        if BBGT.size > 0:
            ixmin = np.maximum(BBGT[:, 0], bb[0])
            iymin = np.maximum(BBGT[:, 1], bb[1])
            ixmax = np.minimum(BBGT[:, 2], bb[2])
            iymax = np.minimum(BBGT[:, 3], bb[3])
            iw = np.maximum(ixmax - ixmin + 1., 0.)
            ih = np.maximum(iymax - iymin + 1., 0.)
            inters = iw * ih
            uni = ((bb[2] - bb[0] + 1.) * (bb[3] - bb[1] + 1.) +
                   (BBGT[:, 2] - BBGT[:, 0] + 1.) * (BBGT[:, 3] - BBGT[:, 1] + 1.) - inters)
            overlaps = inters / uni
            ovmax = np.max(overlaps)
            jmax = np.argmax(overlaps)
        if ovmax > ovthresh:
            if not R["difficult"][jmax]:
                if not R["det"][jmax]:
                    tp[d] = 1.
                    R["det"][jmax] = 1
                else:
                    fp[d] = 1.
        else:
            fp[d] = 1.
    fp = np.cumsum(fp)
    tp = np.cumsum(tp)
    with np.errstate(divide="ignore", invalid="ignore"):
        rec = tp / float(npos)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    with np.errstate(invalid="ignore"):
        ap07, ap12 = voc_ap(rec, prec, True), voc_ap(rec, prec, False)
    for use07, ap in ((True, ap07), (False, ap12)):
        other = voc_ap_loops(rec, prec, use07)
        same = (math.isnan(ap) and math.isnan(other)) or abs(ap - other) <= 1e-12
        check(same, f"voc_ap cross-check class {cat} use07={use07}: {ap!r} vs {other!r}")
    return {"voc07": ap07, "voc12": ap12, "npos": npos, "ndet": nd,
            "tp": int(tp[-1]) if nd else 0, "fp": int(fp[-1]) if nd else 0}


VOC_NOTES = [
    "Per class c (every id in gt.json 'categories', sorted): GT = annotations with category_id c, detections = dt.json entries with category_id c, in file order. Detections with a category not in 'categories' are ignored. iscrowd and the 'area' field play no part.",
    "Boxes: [x, y, w, h] -> x1 = x, y1 = y, x2 = x + w, y2 = y + h, then the devkit's +1 pixel convention: iw = max(min(x2) - max(x1) + 1, 0), ih likewise, inter = iw*ih, union = (x2-x1+1)*(y2-y1+1) of the detection + the same of the GT - inter, IoU = inter/union.",
    "Detections sorted by descending score with np.argsort(-scores, kind='stable'): ties keep dt.json order (across images too). For each detection, in that order: the GT of its image with the largest IoU (np.argmax: the FIRST GT in gt.json order among equal maxima) is the candidate; if IoU > 0.5 (strictly): candidate difficult -> neither TP nor FP (the detection still occupies a place in the list); candidate not yet detected -> TP and mark it; candidate already detected -> FP (no fallback to the second-best GT). Otherwise (IoU <= 0.5, or no GT of the class in the image) -> FP.",
    "npos = number of non-difficult GT. tp, fp = cumulative sums over the sorted list; rec = tp/npos; prec = tp/max(tp+fp, np.finfo(float64).eps) (so an ignored-difficult detection at the head of the list gives prec 0).",
    "voc07: sum over t in np.arange(0, 1.1, 0.1) = [i*0.1 for i in 0..10] (0.30000000000000004, 0.6000000000000001, 0.7000000000000001 are not the decimal literals; the MATLAB devkit's 0:0.1:1 differs at 0.6 and 0.7) of (max prec over points with rec >= t, or 0 if none) / 11, accumulated in that order. voc_difficult class 2 has exactly 10 positives so rec hits 0.3, 0.6, 0.7 exactly.",
    "voc12: mrec = [0, rec..., 1], mpre = [0, prec..., 0]; mpre[i-1] = max(mpre[i-1], mpre[i]) from the right; AP = sum over i where mrec[i+1] != mrec[i] of (mrec[i+1] - mrec[i]) * mpre[i+1].",
    "A class with npos = 0 (no GT, or only difficult GT): rec = tp/0 = NaN at every detection; voc07 is then 0 (NaN >= t is false) and voc12 is NaN, written null (with no detections at all voc12 is 0). This is what py-faster-rcnn's voc_eval returns. mAP07/mAP12 are the means over the classes in map_classes (npos > 0) only; mAP*_all_classes is np.mean over every class (NaN if any class is NaN, then null).",
]


def voc_expected(name, gt, dts, gt_rel, dt_rel):
    cats = sorted(c["id"] for c in gt["categories"])
    res = {c: voc_eval_class(gt, dts, c) for c in cats}
    map_classes = [c for c in cats if res[c]["npos"] > 0]
    return {
        "set": name,
        "gt": gt_rel,
        "dt": dt_rel,
        "classes": cats,
        "voc07": {str(c): res[c]["voc07"] for c in cats},
        "voc12": {str(c): res[c]["voc12"] for c in cats},
        "npos": {str(c): res[c]["npos"] for c in cats},
        "ndet": {str(c): res[c]["ndet"] for c in cats},
        "tp": {str(c): res[c]["tp"] for c in cats},
        "fp": {str(c): res[c]["fp"] for c in cats},
        "map_classes": map_classes,
        "mAP07": float(np.mean([res[c]["voc07"] for c in map_classes])),
        "mAP12": float(np.mean([res[c]["voc12"] for c in map_classes])),
        "mAP07_all_classes": float(np.mean([res[c]["voc07"] for c in cats])),
        "mAP12_all_classes": float(np.mean([res[c]["voc12"] for c in cats])),
        "iou_threshold": 0.5,
        "voc07_recall_thresholds": VOC07_T,
        "tie_rule": "np.argsort(-scores, kind='stable') over the class's detections in dt.json order: equal scores keep dt.json order; equal IoUs go to the first GT in gt.json order (np.argmax)",
        "iou_convention": "xyxy with x2 = x + w, y2 = y + h; devkit +1: iw = min(x2)-max(x1)+1, ih = min(y2)-max(y1)+1 (clamped at 0), area = (x2-x1+1)*(y2-y1+1); match if IoU > 0.5",
        "no_positive_rule": "npos = 0: voc07 = 0, voc12 = null (NaN) if the class has detections, 0 if it has none; such classes are left out of mAP07/mAP12",
        "notes": VOC_NOTES,
    }


def make_voc_difficult():
    rng = np.random.default_rng(20240506)
    # 1, 3: ordinary; 2: exactly 10 non-difficult GT; 4: only difficult GT; 6: detections only
    cats = [1, 2, 3, 4, 6]
    imgs = make_images(rng, 100)
    anns, dts = [], []
    nid = AnnIds(30000)
    cat2_imgs = set(rng.choice(len(imgs), 10, replace=False).tolist())
    for n, im in enumerate(imgs):
        W, H = im["width"], im["height"]
        gts = []
        specs = [(int(rng.choice([1, 3, 4], p=[0.5, 0.35, 0.15])), None) for _ in range(int(rng.integers(0, 6)))]
        if n in cat2_imgs:
            specs.append((2, False))
        if rng.random() < 0.1:
            specs.append((2, True))  # difficult category-2 objects do not count in npos
        for c, diff in specs:
            if diff is None:
                diff = c == 4 or rng.random() < 0.2
            b = rand_box(rng, W, H)
            if rng.random() < 0.5:  # integer-ish boxes like VOC's
                b = [float(round(v)) for v in b[:2]] + [max(1.0, float(round(v))) for v in b[2:]]
            a = {"id": nid(), "image_id": im["id"], "category_id": c, "bbox": b, "area": b[2] * b[3],
                 "iscrowd": 0, "difficult": bool(diff)}
            anns.append(a)
            gts.append(a)
        for a in gts:
            if rng.random() < 0.2:
                continue
            for _ in range(1 if rng.random() < 0.85 else 2):
                c = a["category_id"] if rng.random() > 0.1 else 6
                b = jitter(rng, a["bbox"], W, H)
                if rng.random() < 0.5:
                    b = [float(round(v)) for v in b[:2]] + [max(1.0, float(round(v))) for v in b[2:]]
                dts.append({"image_id": im["id"], "category_id": c, "bbox": b, "score": rand_score(rng, True)})
        for _ in range(int(rng.poisson(1.0))):
            dts.append({"image_id": im["id"], "category_id": int(rng.choice(cats)), "bbox": rand_box(rng, W, H),
                        "score": rand_score(rng, False)})
    order = rng.permutation(len(dts))
    dts = [dts[i] for i in order]
    return {"images": imgs, "annotations": anns, "categories": categories(cats)}, dts


# ----------------------------------------------------------------------------- segmentation

def voc_colormap(n=256):
    cmap = []
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap.append((r, g, b))
    return cmap


def write_gray_png(path, a):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        png.Writer(a.shape[1], a.shape[0], greyscale=True, bitdepth=8).write(f, a.astype(np.uint8).tolist())


def write_palette_png(path, a):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        png.Writer(a.shape[1], a.shape[0], palette=voc_colormap(), bitdepth=8).write(f, a.astype(np.uint8).tolist())


def shape_mask(rng, H, W, kind=None):
    yy, xx = np.mgrid[0:H, 0:W]
    cy, cx = rng.uniform(0, H), rng.uniform(0, W)
    ry, rx = rng.uniform(3, H / 2.5), rng.uniform(3, W / 2.5)
    if (kind or ("ellipse" if rng.random() < 0.6 else "rect")) == "ellipse":
        return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return (np.abs(yy - cy) <= ry) & (np.abs(xx - cx) <= rx)


def boundary(lab):
    """Pixels whose 4-neighbourhood holds another label (like VOC's 255 borders, one pixel each side)."""
    b = np.zeros(lab.shape, bool)
    d = lab[1:, :] != lab[:-1, :]
    b[1:, :] |= d
    b[:-1, :] |= d
    d = lab[:, 1:] != lab[:, :-1]
    b[:, 1:] |= d
    b[:, :-1] |= d
    return b


def confusion(gt, pred, n, ignore):
    valid = np.ones(gt.shape, bool) if ignore is None else gt != ignore
    g, p = gt[valid].astype(np.int64), pred[valid].astype(np.int64)
    assert g.size == 0 or (g.max() < n and p.max() < n)
    cm = np.bincount(g * n + p, minlength=n * n).reshape(n, n)
    cm2 = np.zeros((n, n), np.int64)
    np.add.at(cm2, (g, p), 1)
    check(np.array_equal(cm, cm2), "bincount vs add.at confusion")
    return cm


def class_metrics(cm):
    cm = cm.astype(np.float64)
    tp = np.diag(cm)
    gtc = cm.sum(1)
    prc = cm.sum(0)
    fp, fn = prc - tp, gtc - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = tp / (tp + fp + fn)
        acc = tp / (tp + fn)
        dice = 2 * tp / (2 * tp + fp + fn)
        precision = tp / (tp + fp)
    return tp, gtc, prc, iou, acc, dice, precision


def nanmean(a):
    a = np.asarray(a, float)
    a = a[~np.isnan(a)]
    return float(a.mean()) if a.size else float("nan")


SEG_NOTES = [
    "confusion[i][j] = number of pixels with GT class i and predicted class j, over all images, leaving out pixels whose GT equals ignore_label (their prediction is dropped too). PNG values are used as class indices (palette PNGs by index, not colour).",
    "Per class c: TP = confusion[c][c], FN = row sum - TP, FP = column sum - TP. iou = TP/(TP+FP+FN), acc = recall = TP/(TP+FN), dice = 2TP/(2TP+FP+FN), precision = TP/(TP+FP); null (NaN) where the denominator is 0.",
    "aAcc = trace/total; mIoU, mAcc, mDice, mPrecision, mRecall = NaN-skipping means over the per-class values (mmsegmentation's nanmean): a class absent from GT but predicted has iou 0 (counted) and acc NaN (skipped); a class absent from both is skipped everywhere.",
    "fwIoU = sum over classes with gt_count > 0 of (gt_count/total) * iou. For those classes TP+FN > 0, so iou is never NaN there; classes with gt_count 0 contribute nothing (equivalently NaN counted as 0).",
    "per_image_mean_iou = mean over images of the per-image mIoU (each image's own confusion matrix, NaN-skipping mean over its classes); per_image lists each image's total (non-ignored pixels) and mIoU.",
]


def seg_expected(name, n_classes, ignore, pairs, extra_notes=()):
    cm = np.zeros((n_classes, n_classes), np.int64)
    per_image = []
    for fname, g, p in pairs:
        c = confusion(g, p, n_classes, ignore)
        cm += c
        _, _, _, iou_i, _, _, _ = class_metrics(c)
        m = nanmean(iou_i)
        check(not math.isnan(m), f"seg/{name}/{fname}: per-image mIoU NaN")
        per_image.append({"name": fname, "total": int(c.sum()), "mIoU": m})
    tp, gtc, prc, iou, acc, dice, precision = class_metrics(cm)
    total = float(cm.sum())
    freq = gtc / total
    fw = float(np.sum(freq[gtc > 0] * iou[gtc > 0]))
    exp = {
        "set": name,
        "num_classes": n_classes,
        "ignore_label": ignore,
        "images": [f for f, _, _ in pairs],
        "pred_dir": "pred",
        "gt_dir": "gt",
        "confusion": cm.tolist(),
        "total": int(cm.sum()),
        "per_class": {"tp": tp.astype(np.int64).tolist(), "gt_count": gtc.astype(np.int64).tolist(),
                      "pred_count": prc.astype(np.int64).tolist(), "iou": iou.tolist(), "acc": acc.tolist(),
                      "dice": dice.tolist(), "precision": precision.tolist(), "recall": acc.tolist()},
        "aAcc": float(np.trace(cm) / total),
        "mIoU": nanmean(iou),
        "mAcc": nanmean(acc),
        "mDice": nanmean(dice),
        "mPrecision": nanmean(precision),
        "mRecall": nanmean(acc),
        "fwIoU": fw,
        "per_image_mean_iou": float(np.mean([e["mIoU"] for e in per_image])),
        "per_image": per_image,
        "notes": SEG_NOTES + list(extra_notes),
    }
    return exp, cm


def readback(path, palette):
    im = Image.open(path)
    check(im.mode == ("P" if palette else "L"), f"{path}: mode {im.mode}")
    a = np.array(im)
    if not palette:
        b = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        check(b is not None and np.array_equal(a, b), f"{path}: Pillow vs OpenCV")
    r = png.Reader(filename=str(path)).read()
    c = np.array([list(row) for row in r[2]], dtype=np.uint8)
    check(np.array_equal(a, c), f"{path}: Pillow vs pypng")
    return a


def make_seg_multiclass(root):
    rng = np.random.default_rng(20240507)
    H, W, n = 48, 64, 6
    pairs = []
    for k in range(40):
        lab = np.zeros((H, W), np.uint8)
        for _ in range(int(rng.integers(1, 6))):
            lab[shape_mask(rng, H, W)] = int(rng.choice([1, 2, 3]))
        gt = lab.copy()
        gt[boundary(lab)] = 255
        if rng.random() < 0.3:
            y, x = int(rng.integers(0, H - 8)), int(rng.integers(0, W - 8))
            gt[y:y + int(rng.integers(3, 9)), x:x + int(rng.integers(3, 9))] = 255
        pred = lab.copy()
        for _ in range(int(rng.integers(0, 4))):  # misplaced / wrong-class shapes
            pred[shape_mask(rng, H, W)] = int(rng.choice([0, 1, 2, 3]))
        if k % 3 == 0:  # class 4 never in GT, predicted on some images
            pred[shape_mask(rng, H, W, "rect")] = 4
        noise = rng.random((H, W)) < 0.03
        pred[noise] = rng.integers(0, 5, size=int(noise.sum()))
        fname = f"{k:03d}.png"
        write_gray_png(root / "gt" / fname, gt)
        write_gray_png(root / "pred" / fname, pred)
        check(np.array_equal(readback(root / "gt" / fname, False), gt), f"{fname} gt readback")
        check(np.array_equal(readback(root / "pred" / fname, False), pred), f"{fname} pred readback")
        pairs.append((fname, gt, pred))
    exp, cm = seg_expected("multiclass", n, 255, pairs, [
        "multiclass: GT classes 0..3 plus 255 (ignore) borders/blocks; class 4 never in GT but predicted; class 5 in neither."])
    check(cm[:, 4].sum() > 0 and cm[4, :].sum() == 0 and cm[5, :].sum() == 0 and cm[:, 5].sum() == 0,
          "multiclass class 4/5 layout")
    return exp


def make_seg_binary255(root):
    rng = np.random.default_rng(20240508)
    H, W = 48, 64
    pairs = []
    fg_rows = []
    for k in range(14):
        fg = np.zeros((H, W), bool)
        for _ in range(int(rng.integers(1, 4))):
            fg |= shape_mask(rng, H, W)
        pf = fg.copy()
        for _ in range(int(rng.integers(1, 3))):
            m = shape_mask(rng, H, W)
            pf = pf | m if rng.random() < 0.5 else pf & ~m
        noise = rng.random((H, W)) < 0.02
        pf ^= noise
        if k == 0:
            fg[:] = False
            pf[:] = False  # both empty: foreground IoU undefined
        elif k == 1:
            fg[:] = False  # GT empty, prediction not
        elif k == 2:
            pf[:] = False  # prediction empty, GT not
        gt = np.where(fg, 255, 0).astype(np.uint8)
        pred = pf.astype(np.uint8)  # 0/1
        fname = f"{k:03d}.png"
        write_gray_png(root / "gt" / fname, gt)
        write_gray_png(root / "pred" / fname, pred)
        check(np.array_equal(readback(root / "gt" / fname, False), gt), f"{fname} gt readback")
        check(np.array_equal(readback(root / "pred" / fname, False), pred), f"{fname} pred readback")
        g01, p01 = (gt != 0).astype(np.uint8), (pred != 0).astype(np.uint8)
        pairs.append((fname, g01, p01))
        tp = int(np.sum((g01 == 1) & (p01 == 1)))
        fp = int(np.sum((g01 == 0) & (p01 == 1)))
        fn = int(np.sum((g01 == 1) & (p01 == 0)))
        u = tp + fp + fn
        fg_rows.append({"name": fname, "tp": tp, "fp": fp, "fn": fn, "tn": H * W - u,
                        "iou": tp / u if u else float("nan")})
    exp, cm = seg_expected("binary255", 2, None, pairs, [
        "binary255: GT PNGs hold 0/255, prediction PNGs 0/1; every nonzero value is foreground (class 1), zero is background (class 0). There is no ignore label here (ignore_label null): 255 is foreground.",
        "foreground: TP/FP/FN/TN of class 1 over all pixels; iou = TP/(TP+FP+FN), f1 = 2TP/(2TP+FP+FN), precision = TP/(TP+FP), recall = TP/(TP+FN), accuracy = (TP+TN)/total. per_image_foreground lists each image's counts and foreground iou (null when TP+FP+FN = 0: image 000 has empty GT and empty prediction); per_image_mean_foreground_iou = mean over images with a defined iou (NaN-skipping).",
    ])
    tn, fp, fn, tp = int(cm[0, 0]), int(cm[0, 1]), int(cm[1, 0]), int(cm[1, 1])
    exp["foreground"] = {"tp": tp, "fp": fp, "fn": fn, "tn": tn,
                         "iou": tp / (tp + fp + fn), "f1": 2 * tp / (2 * tp + fp + fn),
                         "precision": tp / (tp + fp), "recall": tp / (tp + fn),
                         "accuracy": (tp + tn) / (tp + fp + fn + tn)}
    exp["per_image_foreground"] = fg_rows
    exp["per_image_mean_foreground_iou"] = nanmean([r["iou"] for r in fg_rows])
    return exp


def make_seg_palette(root):
    rng = np.random.default_rng(20240509)
    H, W, n = 60, 80, 21
    used = [1, 5, 8, 15, 20]
    pairs = []
    for k in range(10):
        lab = np.zeros((H, W), np.uint8)
        for _ in range(int(rng.integers(1, 5))):
            lab[shape_mask(rng, H, W)] = int(rng.choice(used))
        gt = lab.copy()
        gt[boundary(lab)] = 255
        pred = lab.copy()
        pred[(lab == 8) & (rng.random((H, W)) < 0.3)] = 12  # a confusion 8 -> 12 (12 never in GT)
        for _ in range(int(rng.integers(0, 3))):
            pred[shape_mask(rng, H, W)] = int(rng.choice([0] + used))
        noise = rng.random((H, W)) < 0.02
        pred[noise] = rng.integers(0, n, size=int(noise.sum()))
        fname = f"{k:03d}.png"
        write_palette_png(root / "gt" / fname, gt)
        write_gray_png(root / "pred" / fname, pred)
        check(np.array_equal(readback(root / "gt" / fname, True), gt), f"{fname} gt readback")
        check(np.array_equal(readback(root / "pred" / fname, False), pred), f"{fname} pred readback")
        pairs.append((fname, gt, pred))
    exp, _ = seg_expected("palette", n, 255, pairs, [
        "palette: GT are 8-bit palette PNGs with the PASCAL VOC colour map (256 entries; index 255 = (224,224,192)) and must be read by index; predictions are 8-bit gray index PNGs. 21 classes (VOC); GT uses 0, 1, 5, 8, 15, 20 and 255 (ignore) borders."])
    return exp


# ----------------------------------------------------------------------------- main

def main():
    versions = {"pycocotools": version("pycocotools"), "numpy": version("numpy"), "pillow": version("pillow"),
                "pypng": version("pypng"), "opencv": cv2.__version__, "python": sys.version.split()[0]}
    print("versions:", versions)
    for sub in ("coco", "voc", "seg"):
        shutil.rmtree(OUT / sub, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)

    # A. COCO
    synthetic = {"basic": make_basic(), "crowd": make_crowd(), "maxdets": make_maxdets(),
                 "empty_category": make_empty_category()}
    for name, (gt, dts) in synthetic.items():
        d = OUT / "coco" / name
        write_coco_gt(d / "gt.json", gt)
        write_list(d / "dt.json", dts)
        exp, ev = coco_expected(name, gt, {"gt": f"coco/{name}/gt.json"}, f"coco/{name}/dt.json",
                                d / "gt.json", d / "dt.json", versions)
        exp["notes"] = exp["notes"] + [f"Paths are relative to Tests/CVSegEvalTests/Fixtures. Written by {SCRIPT}."]
        if name == "empty_category":
            check(exp["stats"][5] == -1 and exp["stats"][11] == -1, "empty_category: APl/ARl should be -1")
        write_lines_object(d / "expected.json", exp, list_keys=("per_category", "notes"))
        print(f"coco/{name}: {exp['n_images']} images, {exp['n_gt']} GT ({exp['n_gt_crowd']} crowd), "
              f"{exp['n_dt']} dt; stats {[round(s, 4) for s in exp['stats']]}")
    gt_file = DATA / COCO128_GT
    if gt_file.exists():
        gt = json.loads(gt_file.read_text())
        dts = make_coco128_dts(gt)
        d = OUT / "coco" / "coco128"
        write_list(d / "dt.json", dts)
        exp, _ = coco_expected("coco128", gt, {"gt_source": COCO128_GT, "gt_sha256": sha256(gt_file)},
                               "coco/coco128/dt.json", gt_file, d / "dt.json", versions)
        exp["notes"] = exp["notes"] + [
            f"gt_source is relative to the shared data root ($CVSEG_DATA, else <repo>/../shared/data); gt_sha256 is its sha256 when this was written. dt path relative to Tests/CVSegEvalTests/Fixtures. Written by {SCRIPT}."]
        write_lines_object(d / "expected.json", exp, list_keys=("per_category", "notes"))
        print(f"coco/coco128: {exp['n_images']} images, {exp['n_gt']} GT ({exp['n_gt_crowd']} crowd), "
              f"{exp['n_dt']} dt; stats {[round(s, 4) for s in exp['stats']]}")
    else:
        print(f"missing {gt_file}: coco/coco128 not written", file=sys.stderr)
        FAILURES.append("coco128 ground truth missing")

    # B. VOC
    gt, dts = synthetic["basic"]
    gt = json.loads((OUT / "coco/basic/gt.json").read_text())
    dts = json.loads((OUT / "coco/basic/dt.json").read_text())
    exp = voc_expected("basic", gt, dts, "coco/basic/gt.json", "coco/basic/dt.json")
    write_lines_object(OUT / "voc/basic/expected.json", exp, list_keys=("notes",))
    print(f"voc/basic: mAP07 {exp['mAP07']:.4f} mAP12 {exp['mAP12']:.4f}")
    gt, dts = make_voc_difficult()
    d = OUT / "voc" / "voc_difficult"
    write_coco_gt(d / "gt.json", gt)
    write_list(d / "dt.json", dts)
    gt = json.loads((d / "gt.json").read_text())
    dts = json.loads((d / "dt.json").read_text())
    exp = voc_expected("voc_difficult", gt, dts, "voc/voc_difficult/gt.json", "voc/voc_difficult/dt.json")
    check(exp["npos"]["2"] == 10 and exp["npos"]["4"] == 0 and exp["npos"]["6"] == 0, "voc_difficult npos layout")
    write_lines_object(d / "expected.json", exp, list_keys=("notes",))
    print(f"voc/voc_difficult: npos {exp['npos']} voc07 {exp['voc07']} voc12 {exp['voc12']}")

    # C. segmentation
    for name, fn in (("multiclass", make_seg_multiclass), ("binary255", make_seg_binary255),
                     ("palette", make_seg_palette)):
        root = OUT / "seg" / name
        exp = fn(root)
        write_lines_object(root / "expected.json", exp, list_keys=("per_image", "per_image_foreground", "notes"))
        print(f"seg/{name}: aAcc {exp['aAcc']:.4f} mIoU {exp['mIoU']:.4f} fwIoU {exp['fwIoU']:.4f}")

    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"fixtures: {sum(1 for p in OUT.rglob('*') if p.is_file())} files, {total} bytes")
    if FAILURES:
        print(f"{len(FAILURES)} cross-check(s) failed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
