#!/usr/bin/env python3
"""Write the partition-measure fixtures read by Tests/CVSegEvalTests/PartitionMetricsTests.swift.

Makes Tests/CVSegEvalTests/Fixtures/partition/ (located from this script's own path):

  expected.json   "cases": pairs of label maps (a predicted partition S and a ground truth G) with
                  - the two conditional entropies of skimage.metrics.variation_of_information
                    (scikit-image 0.26), called as variation_of_information(G, S,
                    ignore_labels=...): [H(S|G), H(G|S)] in BITS (skimage's _xlogx uses
                    np.log2), cross-checked here against an independent numpy computation in
                    nats divided by ln 2;
                  - the segmentation covering C(S->G) = 1/N sum_{R in G} |R| max_{R' in S}
                    |R & R'| / |R | R'| (Arbelaez et al., TPAMI 2011) and its reverse C(G->S),
                    from a dense numpy contingency table;
                  - the Rand index from pair counts (Python integers, exact):
                    (C(N,2) + 2 sum C(n_ij,2) - sum C(a_i,2) - sum C(b_j,2)) / C(N,2);
                  - pixel and region counts, and for binary ground truth (nonzero = foreground)
                    the oracle labelling's counts: each predicted region goes to the class with
                    the majority of its pixels, ties to background.
                  "groups": one prediction against several annotators, with the mean over the
                  annotators of each measure and the best annotator's value of each measure.
  *.png           the synthetic label maps, 16-bit gray PNGs written with pypng.

Sources of a label map: "file" (a fixture PNG), "data" (a PNG of <data> read in place, never
copied into the repository, with an optional crop [x, y, width, height]), or "grid" (cells of
[width, height] pixels over a [W, H] image, label = row * 1000 + column, made by the test too).

<data> = $CVSEG_DATA, else <repo>/../shared/data.

Run:  $(scripts/python-env)/bin/python scripts/reference/partition_reference.py
"""

import json
import math
import os

import numpy as np
import png
from skimage.metrics import variation_of_information

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DATA = os.environ.get("CVSEG_DATA", os.path.join(REPO, "..", "shared", "data"))
OUT = os.path.join(REPO, "Tests", "CVSegEvalTests", "Fixtures", "partition")


def read_png(path):
    """A one-channel PNG's values (8- or 16-bit), as stored."""
    width, height, rows, info = png.Reader(filename=path).read()
    assert info["planes"] == 1 and not info.get("palette"), path
    return np.array([np.asarray(r) for r in rows], dtype=np.int64).reshape(height, width)


def write_png(name, labels):
    labels = np.asarray(labels)
    assert labels.min() >= 0 and labels.max() <= 65535
    with open(os.path.join(OUT, name), "wb") as f:
        png.Writer(labels.shape[1], labels.shape[0], greyscale=True, bitdepth=16).write(f, labels.astype(np.uint16).tolist())
    assert np.array_equal(read_png(os.path.join(OUT, name)), labels)


def load(source):
    if "file" in source:
        return read_png(os.path.join(OUT, source["file"]))
    if "grid" in source:
        (w, h), (cw, ch) = source["size"], source["grid"]
        y, x = np.mgrid[0:h, 0:w]
        return (y // ch) * 1000 + x // cw
    image = read_png(os.path.join(DATA, source["data"]))
    if "crop" in source:
        x, y, w, h = source["crop"]
        image = image[y:y + h, x:x + w]
        assert image.shape == (h, w)
    return image


def table(pred, truth, ignore):
    keep = np.ones(truth.shape, bool) if ignore is None else truth != ignore
    p, t = pred[keep], truth[keep]
    _, pi = np.unique(p, return_inverse=True)
    _, ti = np.unique(t, return_inverse=True)
    n = np.zeros((pi.max() + 1 if p.size else 0, ti.max() + 1 if t.size else 0), np.int64)
    np.add.at(n, (pi, ti), 1)
    return n, t


def measures(pred, truth, ignore=None, binary=False):
    if binary:
        truth = (truth != 0).astype(np.int64)
    n, t = table(pred, truth, ignore)
    big_n = int(n.sum())
    a, b = n.sum(1), n.sum(0)
    # VI, independently of skimage: natural log, then bits.
    nz = np.nonzero(n)
    c = n[nz].astype(float)
    h_sg = float(np.sum(c * np.log(b[nz[1]] / c)) / big_n)
    h_gs = float(np.sum(c * np.log(a[nz[0]] / c)) / big_n)
    sk = variation_of_information(truth, pred, ignore_labels=[] if ignore is None else [ignore])
    sk = [float(v) for v in sk]
    assert abs(sk[0] - h_sg / math.log(2)) < 1e-12 and abs(sk[1] - h_gs / math.log(2)) < 1e-12, (sk, h_sg, h_gs)
    overlap = n / (a[:, None] + b[None, :] - n)
    covering = float(np.sum(b * overlap.max(0)) / big_n)
    reverse = float(np.sum(a * overlap.max(1)) / big_n)

    def c2(x):
        return sum(int(v) * (int(v) - 1) // 2 for v in np.ravel(x))
    pairs = big_n * (big_n - 1) // 2
    rand = (pairs + 2 * c2(n) - c2(a) - c2(b)) / pairs
    out = dict(pixels=big_n, predicted_regions=int(n.shape[0]), truth_regions=int(n.shape[1]),
               vi_skimage=sk, vi_nats=(h_sg + h_gs), covering=covering, covering_reverse=reverse, rand_index=rand)
    if binary:
        # Columns are the sorted truth values 0, 1 (both present in every binary case here).
        assert n.shape[1] == 2
        fg, size = n[:, 1], a
        labelled = 2 * fg > size
        out["oracle"] = dict(tp=int(fg[labelled].sum()), fp=int((size - fg)[labelled].sum()),
                             fn=int(fg[~labelled].sum()), tn=int((size - fg)[~labelled].sum()))
    return out


def synthetic():
    rng = np.random.default_rng(20250901)
    # Identical partitions under other label values.
    base = rng.integers(0, 9, (4, 6)).repeat(4, 0).repeat(4, 1)
    values = rng.permutation(60000)[:9] + 5000
    write_png("identical_pred.png", values[base])
    write_png("identical_gt.png", base)
    # One region against all distinct.
    write_png("one_pred.png", np.full((6, 8), 7))
    write_png("alldiff_gt.png", np.arange(48).reshape(6, 8) * 3 + 1)
    # The 2x3 example the Swift test also works by hand.
    write_png("hand_pred.png", np.array([[1, 1, 2], [1, 3, 3]]))
    write_png("hand_gt.png", np.array([[5, 5, 5], [6, 6, 6]]))
    # Random blocks (prediction) against Voronoi cells with sparse label values (ground truth).
    h, w = 40, 48
    pred = rng.integers(0, 400, (h // 4, w // 4)).repeat(4, 0).repeat(4, 1)
    pred[rng.random((h, w)) < 0.05] = 65535
    seeds = rng.integers(0, [h, w], (14, 2))
    yy, xx = np.mgrid[0:h, 0:w]
    cell = np.argmin((yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2, axis=-1)
    labels = np.concatenate([[0], rng.permutation(np.arange(1, 65536))[:13]])
    write_png("blocks_pred.png", pred)
    write_png("voronoi_gt.png", labels[cell])
    # Binary ground truth (0/1 disc) against an over-segmentation.
    disc = ((yy - 18) ** 2 + (xx - 25) ** 2 < 13 ** 2).astype(np.int64)
    write_png("disc_gt.png", disc)
    return [
        dict(name="identical", pred=dict(file="identical_pred.png"), truth=dict(file="identical_gt.png")),
        dict(name="one_vs_alldiff", pred=dict(file="one_pred.png"), truth=dict(file="alldiff_gt.png")),
        dict(name="alldiff_vs_one", pred=dict(file="alldiff_gt.png"), truth=dict(file="one_pred.png")),
        dict(name="hand_2x3", pred=dict(file="hand_pred.png"), truth=dict(file="hand_gt.png")),
        dict(name="blocks_vs_voronoi", pred=dict(file="blocks_pred.png"), truth=dict(file="voronoi_gt.png")),
        dict(name="blocks_vs_voronoi_ignore0", pred=dict(file="blocks_pred.png"), truth=dict(file="voronoi_gt.png"),
             ignore_label=0),
        dict(name="blocks_vs_disc_binary", pred=dict(file="blocks_pred.png"), truth=dict(file="disc_gt.png"), binary=True),
    ]


def real():
    gt = "bsds500/groundTruth_png/train/"
    cases = []
    for stem, crop in [("54005", [100, 80, 128, 128]), ("56028", [300, 150, 128, 128]), ("374020", [0, 0, 128, 96])]:
        cases.append(dict(name=f"bsds_{stem}_crop_1_vs_2", pred=dict(data=f"{gt}{stem}_1.png", crop=crop),
                          truth=dict(data=f"{gt}{stem}_2.png", crop=crop)))
    cases.append(dict(name="bsds_54005_full_1_vs_3", pred=dict(data=f"{gt}54005_1.png"), truth=dict(data=f"{gt}54005_3.png")))
    cases.append(dict(name="horse_grid_binary", pred=dict(grid=[16, 12], size=None), truth=dict(data="weizmann_horse/masks/horse240.png"),
                      binary=True))
    return cases


def group():
    stem = "54005"
    truths = [dict(data=f"bsds500/groundTruth_png/train/{stem}_{k}.png") for k in range(1, 8)]
    return dict(name=f"bsds_{stem}_grid_vs_7", pred=dict(grid=[24, 20], size=None), truths=truths)


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = synthetic() + real()
    for case in cases:
        truth = load(case["truth"])
        if "grid" in case["pred"]:
            case["pred"]["size"] = [truth.shape[1], truth.shape[0]]
        pred = load(case["pred"])
        case["expected"] = measures(pred, truth, case.get("ignore_label"), case.get("binary", False))
    g = group()
    truths = [load(t) for t in g["truths"]]
    g["pred"]["size"] = [truths[0].shape[1], truths[0].shape[0]]
    pred = load(g["pred"])
    per = [measures(pred, t) for t in truths]
    keys = dict(vi_bits=lambda m: sum(m["vi_skimage"]), covering=lambda m: m["covering"],
                covering_reverse=lambda m: m["covering_reverse"], rand_index=lambda m: m["rand_index"])
    g["per_annotator"] = per
    g["mean"] = {k: float(np.mean([f(m) for m in per])) for k, f in keys.items()}
    g["best"] = {k: (min if k == "vi_bits" else max)(f(m) for m in per) for k, f in keys.items()}
    # Hand check of the 2x3 case (the Swift test repeats it): see PartitionMetricsTests.
    hand = next(c for c in cases if c["name"] == "hand_2x3")["expected"]
    assert abs(hand["covering"] - (3 * (2 / 4) + 3 * (2 / 3)) / 6) < 1e-15, hand
    assert abs(sum(hand["vi_skimage"]) - (1.5 * math.log2(3) - 1)) < 1e-15, hand
    assert abs(hand["rand_index"] - 9 / 15) < 1e-15, hand
    doc = dict(generator="scripts/reference/partition_reference.py", skimage=__import__("skimage").__version__,
               numpy=np.__version__, cases=cases, groups=[g])
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    for c in cases:
        e = c["expected"]
        print(f'{c["name"]:28s} VI {sum(e["vi_skimage"]):.6f} bits  covering {e["covering"]:.6f}  '
              f'reverse {e["covering_reverse"]:.6f}  RI {e["rand_index"]:.6f}  regions {e["predicted_regions"]}/{e["truth_regions"]}')
    print(f'{g["name"]}: mean {g["mean"]}  best {g["best"]}')


if __name__ == "__main__":
    main()
