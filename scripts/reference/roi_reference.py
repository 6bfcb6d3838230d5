#!/usr/bin/env python3
"""torchvision reference values for cvseg's RoI operations (Sources/CVSegTensor/Ops+RoI.swift,
tested by Tests/CVSegTensorTests/RoITests.swift).

Writes Tests/CVSegTensorTests/Fixtures/roi.json: seeded feature maps [2, 3, H, W] (float32) and,
for `torchvision.ops.roi_pool` and `torchvision.ops.roi_align` (CPU kernels) over a range of
spatial scales (1, 0.5, 1/16), output sizes (2x2, 3x4, 7x7), sampling ratios (-1, 0, 1, 2) and
both `aligned` settings, the forward output and the gradient of L = sum(y * R) with respect to
the feature map (torch autograd), R a fixed random array (stored).

The boxes are given in feature-map units and divided by the scale, so every case covers the
same situations: the whole map, fractional interiors, boxes partly and entirely outside the map
(on every side), boxes reaching into [-1, 0] (RoIAlign's clamped border), zero width, a box
smaller than a cell, inverted boxes (x2 < x1 and y2 < y1, and y alone), coordinates that land
exactly on .5 after scaling (roi_pool's round-half-away-from-zero), both batch indices, and a
seeded random box. The "ties" map holds small integers so that roi_pool's first-maximum rule
decides where gradients go.

The box inverted along y alone is inverted by less than one bin: with aligned=True and the
adaptive grid, a larger inversion along one axis only makes that axis's grid negative while the
other's is positive, and torchvision's CPU kernel then fails ("cannot create std::vector larger
than max_size()"; cvseg outputs 0 there, tested in RoITests without a fixture).

Numbers: inputs and boxes are float32 values written with 9 significant digits (exact), R with
3 decimals, outputs and gradients with 7 significant digits. Each case also records the largest
difference of the float32 results from the same operation run in float64 (`f64_diff`), a measure
of how much of the 1e-4 tolerance rounding alone takes; the script exits non-zero above 1e-5.

Run: $(scripts/torch-env)/bin/python scripts/reference/roi_reference.py
"""
import json
from pathlib import Path

import torch
import torchvision
from torchvision.ops import roi_align, roi_pool

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "CVSegTensorTests" / "Fixtures" / "roi.json"
torch.set_num_threads(1)
gen = torch.Generator().manual_seed(20240611)


def rand(shape, lo, hi):
    return (torch.rand(*shape, dtype=torch.float64, generator=gen) * (hi - lo) + lo).float()


def digits(x, n):
    """`n` significant digits; whole numbers without a fraction (0, not 0.0)."""
    out = []
    for v in x.detach().reshape(-1).tolist():
        v = float(f"{v:.{n}g}")
        out.append(int(v) if v.is_integer() and abs(v) < 2**24 else v)
    return out


def maps():
    out = {
        "a": rand((2, 3, 7, 9), -2, 2),
        "b": rand((2, 3, 12, 10), -2, 2),
        # Small integers: many equal values inside one bin.
        "ties": torch.randint(0, 4, (2, 3, 8, 8), generator=gen).float(),
    }
    return out


def boxes_for(h, w, scale):
    """Boxes in feature units (see the docstring), as image coordinates for `scale`, float32."""
    feature = [
        (0, 0.0, 0.0, w - 1.0, h - 1.0),          # the whole map
        (1, 1.3, 0.7, 5.6, 4.2),                  # fractional interior
        (0, -2.5, -1.75, 3.2, 2.9),               # partly outside (left, top); -2.5 rounds to -3
        (1, w - 3.4, h - 2.2, w + 2.6, h + 1.8),  # partly outside (right, bottom)
        (0, w + 1.5, 1.0, w + 4.0, 3.0),          # entirely outside, right
        (1, -6.0, -5.0, -2.5, -1.5),              # entirely outside, top left
        (0, 2.5, 2.5, 2.5, 4.0),                  # zero width
        (1, 3.1, 1.2, 3.15, 1.24),                # smaller than a cell
        (0, 5.2, 4.1, 2.3, 1.6),                  # inverted
        (1, -0.9, -0.6, 1.4, 1.1),                # reaches into [-1, 0]
        (0, 1.5, 2.0, 6.0, 1.4),                  # inverted along y only, by less than a bin
    ]
    rows = [(b, x1 / scale, y1 / scale, x2 / scale, y2 / scale) for b, x1, y1, x2, y2 in feature]
    for i in range(1):
        x = sorted(rand((2,), -0.2 * w, 1.2 * w).tolist())
        y = sorted(rand((2,), -0.2 * h, 1.2 * h).tolist())
        rows.append((i, x[0] / scale, y[0] / scale, x[1] / scale, y[1] / scale))
    return torch.tensor(rows, dtype=torch.float64).float()


def run(op, x, boxes, p):
    size = tuple(p["output_size"])
    if op == "roi_pool":
        return roi_pool(x, boxes, size, p["spatial_scale"])
    return roi_align(x, boxes, size, p["spatial_scale"], p["sampling_ratio"], p["aligned"])


def case(name, op, fmap, inputs, **p):
    x0 = inputs[fmap]
    boxes = boxes_for(x0.shape[2], x0.shape[3], p["spatial_scale"])
    x = x0.clone().requires_grad_(True)
    y = run(op, x, boxes, p)
    r = torch.round(rand(tuple(y.shape), -1, 1) * 1000) / 1000
    (y * r).sum().backward()
    # The same in float64: how far float32 rounding alone moves the results.
    x64 = x0.double().requires_grad_(True)
    y64 = run(op, x64, boxes.double(), p)
    (y64 * r.double()).sum().backward()
    f64 = max((y.double() - y64).abs().max().item(), (x.grad.double() - x64.grad).abs().max().item())
    return {"name": name, "op": op, "map": fmap, **p,
            "boxes": digits(boxes, 9),
            "output": {"shape": list(y.shape), "values": digits(y, 7)},
            "weights": digits(r, 6),
            "grad": digits(x.grad, 7),
            "f64_diff": float(f"{f64:.3g}")}


def main():
    inputs = maps()
    s16 = 1 / 16
    cases = [
        case("pool_a_s1_2x2", "roi_pool", "a", inputs, spatial_scale=1.0, output_size=[2, 2]),
        case("pool_a_s0.5_3x4", "roi_pool", "a", inputs, spatial_scale=0.5, output_size=[3, 4]),
        case("pool_b_s16_3x4", "roi_pool", "b", inputs, spatial_scale=s16, output_size=[3, 4]),
        case("pool_b_s1_7x7", "roi_pool", "b", inputs, spatial_scale=1.0, output_size=[7, 7]),
        case("pool_b_s0.5_2x2", "roi_pool", "b", inputs, spatial_scale=0.5, output_size=[2, 2]),
        case("pool_ties_s1_2x2", "roi_pool", "ties", inputs, spatial_scale=1.0, output_size=[2, 2]),
        case("pool_ties_s16_3x4", "roi_pool", "ties", inputs, spatial_scale=s16, output_size=[3, 4]),
    ]
    for fmap, scale, size, ratio, aligned in [
        ("a", 1.0, [2, 2], -1, False),
        ("a", 1.0, [2, 2], -1, True),
        ("a", 0.5, [3, 4], 2, False),
        ("a", 0.5, [3, 4], 0, True),
        ("a", s16, [7, 7], 1, True),
        ("b", s16, [3, 4], -1, False),
        ("b", s16, [3, 4], 2, True),
        ("b", 1.0, [7, 7], -1, True),
        ("b", 1.0, [3, 4], 2, False),
        ("b", 0.5, [2, 2], 0, False),
        ("b", 0.5, [3, 4], -1, True),
        ("ties", 1.0, [3, 4], 2, True),
    ]:
        tag = {1.0: "s1", 0.5: "s0.5", s16: "s16"}[scale]
        name = f"align_{fmap}_{tag}_{size[0]}x{size[1]}_r{ratio}_{'aligned' if aligned else 'legacy'}"
        cases.append(case(name, "roi_align", fmap, inputs, spatial_scale=scale, output_size=size,
                          sampling_ratio=ratio, aligned=aligned))
    out = {
        "generator": f"scripts/reference/roi_reference.py, torch {torch.__version__}, torchvision {torchvision.__version__}, CPU",
        "maps": {k: {"shape": list(v.shape), "values": digits(v, 9)} for k, v in inputs.items()},
        "cases": cases,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    def compact(v):
        return json.dumps(v, separators=(",", ":"))
    # One map and one case per line.
    text = ("{\n" + f'"generator":{compact(out["generator"])},\n"maps":{{\n'
            + ",\n".join(f"{compact(k)}:{compact(v)}" for k, v in out["maps"].items())
            + '\n},\n"cases":[\n' + ",\n".join(compact(c) for c in cases) + "\n]\n}\n")
    OUT.write_text(text)
    worst = max(c["f64_diff"] for c in cases)
    print(f"wrote {OUT} ({len(text)} bytes, {len(cases)} cases, largest float32-vs-float64 difference {worst:.3g})")
    # The tests compare at 1e-4: rounding alone must stay far below it.
    if worst > 1e-5:
        raise SystemExit(f"float32 and float64 results differ by {worst:.3g} (> 1e-5)")


if __name__ == "__main__":
    main()
