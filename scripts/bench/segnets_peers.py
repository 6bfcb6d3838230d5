#!/usr/bin/env python3
"""PyTorch and ONNX Runtime side of scripts/bench/segnets: cvseg's five segmentation models
(Sources/CVSegNN/Models) against the same modules in PyTorch (scripts/reference/models_reference.py,
identical state_dict names), with the same weights, on the same input.

  segnets_peers.py prepare --dir D --sizes 256,512 [--archs a,b] [--classes 21] [--seed 0]
      For each architecture: the PyTorch module with cvseg's default configuration (widths
      32,64,128,256,256, convs 2,2,3,3,3, fc_width 512, fc_kernel 3; dropout 0.5; dilated:
      basic context 1,1,2,4,8,16,1), seeded weights (below), saved as D/<arch>.safetensors with
      the model's metadata as __metadata__ (what SegmentationModel.load reads); for each size S
      the input D/input_<S>.safetensors (tensor `x`, [1, 3, S, S], standard normal from
      torch.Generator seed 1000 + S) and the ONNX export D/<arch>_<S>.onnx
      (torch.onnx.export, TorchScript exporter, opset 17, static shapes).
  segnets_peers.py time --dir D --arch A --size S --runs R [--warmup 2] [--threads T]
      Loads D/<arch>.safetensors into the PyTorch module (strict), times model(x) in eval mode
      under torch.inference_mode() and the ONNX model in onnxruntime (CPUExecutionProvider,
      intra_op_num_threads=T, inter_op_num_threads=1, sequential); T threads on both sides
      (torch.set_num_threads). Writes PyTorch's scores to D/<arch>_<S>_torch_t<T>.safetensors
      (tensor `y`) and prints one JSON object: medians, min, max and all times in seconds, and
      max |ORT - PyTorch|. ORT runs at its default level (ORT_ENABLE_ALL); when that is off by
      more than --ort-tolerance (1e-3) from PyTorch, at ORT_ENABLE_EXTENDED (both recorded).
  segnets_peers.py report --dir D --results FILE [--tolerance 1e-4]
      Reads the JSON lines of FILE (one per architecture, size and thread count, written by
      scripts/bench/segnets: {"arch", "size", "threads", "cvseg": ..., "peers": ...}) and the
      score files (cvseg's: D/<arch>_<S>_cvseg_t<T>.safetensors), and prints the markdown tables; exits 1 if any max |cvseg - PyTorch| is over
      the tolerance (or missing).

Weights (seed --seed + the architecture's index in fcn32s, fcn16s, fcn8s, deconvnet, dilated): every learned convolution He-normal
(std sqrt(2 / fan_in); fan_in = input channels x kernel area, for the stride-1 transposed
convolutions of DeconvNet too) with biases uniform in [-0.1, 0.1], so that activations keep
their scale through the depth and the scores are of order 1 (PyTorch's default initialisation
shrinks them layer by layer towards 0, which would make an absolute tolerance meaningless); the
structured initialisations (FCN's learned bilinear 2x upsamplings, the dilated net's identity
context module) plus uniform noise in [-0.02, 0.02]; batch norm weight U[0.5, 1.5], bias
U[-0.2, 0.2], running mean U[-0.2, 0.2], running variance U[0.5, 1.5].

The FCNs' fixed final upsampling (bilinear kernel per class, not in the state_dict) is run in
PyTorch as cvseg runs it, one 1-channel transposed convolution per class (groups = classes);
models_reference.FCN convolves with the equivalent diagonal [C, C, 2f, 2f] weight, C times the
work (0.9 GFLOP at 512x512, 21 classes). The ONNX export uses the grouped form too.
"""
import argparse
import json
import math
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reference"))
import models_reference as R  # noqa: E402

ARCHS = ["fcn32s", "fcn16s", "fcn8s", "deconvnet", "dilated"]


class GroupedFCN(R.FCN):
    """models_reference.FCN with the final fixed upsampling run per class (groups = classes):
    the same function as its diagonal-weight convolution, without the zero blocks."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        c = self.classes
        w = self.upscore_weight[range(c), range(c)].unsqueeze(1).contiguous()  # [C, 1, 2f, 2f]
        self.register_buffer("upscore_weight_grouped", w, persistent=False)

    def upsample_final(self, score):
        f = self.final
        return F.conv_transpose2d(score, self.upscore_weight_grouped, stride=f, padding=f // 2, groups=self.classes)


class ExportDeconvNet(R.DeconvNet):
    """models_reference.DeconvNet with the unpooling sizes as Python ints: what the ONNX tracer
    needs (static shapes); the same function."""

    def aligned(self, x):
        h = x
        pools = []
        for s in range(5):
            h = getattr(self, f"enc{s + 1}")(h)
            size = (int(h.shape[2]), int(h.shape[3]))
            h, idx = F.max_pool2d(h, 2, stride=2, return_indices=True)
            pools.append((idx, size))
        h = self.deconv_fc6(self.fc7(self.fc6(h)))
        for s in range(4, -1, -1):
            idx, size = pools[s]
            h = F.max_unpool2d(h, idx, 2, stride=2, output_size=size)
            h = getattr(self, f"dec{s + 1}")(h)
        return self.score(h)


def register_max_unpool_symbolic():
    """The TorchScript ONNX exporter has no symbolic for aten::max_unpool2d. ONNX MaxUnpool
    (opset 11) takes indices flattened over the whole N·C·H·W tensor, while PyTorch's (and the
    exported MaxPool's, which the exporter converts) are per plane: add (n·C + c)·H·W back.
    Static shapes only (the bench exports one graph per input size)."""
    from torch.onnx import register_custom_op_symbolic
    from torch.onnx import symbolic_helper as sh

    def max_unpool2d(g, x, indices, output_size):
        n, c = sh._get_tensor_sizes(x)[:2]
        h, w = sh._parse_arg(output_size, "is")
        offset = (torch.arange(n * c, dtype=torch.int64) * (h * w)).reshape(n, c, 1, 1)
        flat = g.op("Add", indices, g.op("Constant", value_t=offset))
        shape = g.op("Constant", value_t=torch.tensor([n, c, h, w], dtype=torch.int64))
        return g.op("MaxUnpool", x, flat, shape, kernel_shape_i=[2, 2], strides_i=[2, 2])

    register_custom_op_symbolic("aten::max_unpool2d", max_unpool2d, 11)


def build(arch, classes):
    """The PyTorch module with cvseg's default configuration (FCN.Config, DeconvNet.Config,
    DilatedNet.Config defaults = the models_reference constructors' defaults)."""
    if arch in ("fcn32s", "fcn16s", "fcn8s"):
        return GroupedFCN(arch, classes)
    if arch == "deconvnet":
        return R.DeconvNet(classes)
    if arch == "dilated":
        return R.DilatedNet(classes)
    raise SystemExit(f"segnets_peers: unknown architecture {arch}")


def initialise(model, seed):
    gen = torch.Generator().manual_seed(seed)

    def uniform(shape, lo, hi):
        return (torch.rand(shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo).float()

    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                structured = name.startswith("upscore") or name.startswith("context")
                if structured:
                    m.weight.add_(uniform(m.weight.shape, -0.02, 0.02))
                    if m.bias is not None:
                        m.bias.add_(uniform(m.bias.shape, -0.02, 0.02))
                    continue
                w = m.weight
                cin = w.shape[1] * m.groups if isinstance(m, nn.Conv2d) else w.shape[0]
                fan_in = cin * w.shape[2] * w.shape[3]
                w.copy_((torch.randn(w.shape, generator=gen, dtype=torch.float64) * math.sqrt(2 / fan_in)).float())
                if m.bias is not None:
                    m.bias.copy_(uniform(m.bias.shape, -0.1, 0.1))
            elif isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(uniform(c, 0.5, 1.5))
                m.bias.copy_(uniform(c, -0.2, 0.2))
                m.running_mean.copy_(uniform(c, -0.2, 0.2))
                m.running_var.copy_(uniform(c, 0.5, 1.5))
    return model.eval()


def make_input(size):
    gen = torch.Generator().manual_seed(1000 + size)
    return torch.randn(1, 3, size, size, generator=gen, dtype=torch.float32)


def prepare(a):
    d = Path(a.dir)
    d.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    sizes = [int(s) for s in a.sizes.split(",")]
    for s in sizes:
        save_file({"x": make_input(s)}, str(d / f"input_{s}.safetensors"))
    for arch in a.archs.split(","):
        model = initialise(build(arch, a.classes), a.seed + ARCHS.index(arch))
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(d / f"{arch}.safetensors"), metadata=model.metadata())
        exported = model
        if arch == "deconvnet":
            register_max_unpool_symbolic()
            exported = ExportDeconvNet(a.classes)
            exported.load_state_dict(model.state_dict(), strict=True)
            exported.eval()
        for s in sizes:
            x = make_input(s)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(exported, (x,), str(d / f"{arch}_{s}.onnx"), dynamo=False, opset_version=17,
                                  input_names=["x"], output_names=["y"])
        params = sum(v.numel() for k, v in state.items() if "running" not in k and "num_batches" not in k)
        print(f"segnets_peers: {arch}: {params / 1e6:.2f} M parameters, metadata {model.metadata()}", file=sys.stderr)


def timed(fn, runs, warmup):
    out = None
    for _ in range(warmup):
        out = fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, {"seconds": statistics.median(times), "min": min(times), "max": max(times), "times": times}


def time_one(a):
    import onnxruntime as ort
    d = Path(a.dir)
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    weights = str(d / f"{a.arch}.safetensors")
    with safe_open(weights, "pt") as f:
        meta = f.metadata()
    model = build(meta["architecture"], int(meta["classes"]))
    model.load_state_dict(load_file(weights), strict=True)
    model.eval()
    x = load_file(str(d / f"input_{a.size}.safetensors"))["x"]
    with torch.inference_mode():
        y, pt = timed(lambda: model(x), a.runs, a.warmup)
    save_file({"y": y.contiguous()}, str(d / f"{a.arch}_{a.size}_torch_t{a.threads}.safetensors"))
    def session(level):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = a.threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = level
        return ort.InferenceSession(str(d / f"{a.arch}_{a.size}.onnx"), opts, providers=["CPUExecutionProvider"])

    feed = {"x": x.numpy()}
    # ORT's default level (all optimisations). If its scores are off (DeconvNet: the NCHWc
    # layout pass breaks MaxPool indices -> MaxUnpool, max |diff| 0.12 at 256x256), time the
    # highest level below the layout passes instead and record both.
    levels = [("all", ort.GraphOptimizationLevel.ORT_ENABLE_ALL), ("extended", ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED)]
    rejected = {}
    for name, level in levels:
        sess = session(level)
        yo, ro = timed(lambda: torch.from_numpy(sess.run(None, feed)[0]), a.runs, a.warmup)
        ro["level"] = name
        ro["max_abs_diff_vs_pytorch"] = float((yo - y).abs().max())
        if ro["max_abs_diff_vs_pytorch"] <= a.ort_tolerance:
            break
        rejected[name] = {"seconds": ro["seconds"], "max_abs_diff_vs_pytorch": ro["max_abs_diff_vs_pytorch"]}
    if rejected:
        ro["rejected_levels"] = rejected
    print(json.dumps({"pytorch": pt, "onnxruntime": ro, "output": list(y.shape), "max_abs_output": float(y.abs().max()),
                      "versions": {"torch": torch.__version__, "onnxruntime": ort.__version__}}))


def report(a):
    d = Path(a.dir)
    rows = [json.loads(line) for line in Path(a.results).read_text().splitlines() if line.strip()]
    ok = True
    groups = {}
    for r in rows:
        groups.setdefault((r["threads"], r["size"]), []).append(r)
    versions = next((r["peers"].get("versions") for r in rows if r.get("peers")), {})
    print(f"torch {versions.get('torch', '?')}, onnxruntime {versions.get('onnxruntime', '?')}; "
          f"times are medians in ms, images/s = 1000 / median; ratio = cvseg time / PyTorch time (target <= 1.00)\n")
    notes = []
    for (threads, size), rs in sorted(groups.items()):
        print(f"### {size}x{size}, {threads} thread(s)\n")
        print("| architecture | cvseg ms | cvseg images/s | PyTorch ms | PyTorch images/s | ORT ms | cvseg/PyTorch | cvseg/ORT "
              "| max abs(cvseg - PyTorch) | max abs(ORT - PyTorch) | max abs(y) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
        for r in rs:
            arch, c, p = r["arch"], r.get("cvseg"), r.get("peers")
            ms = lambda v: f"{v * 1000:.1f}" if v is not None else "-"
            ips = lambda v: f"{1 / v:.2f}" if v else "-"
            ct = c["seconds"] if c else None
            pt = p["pytorch"]["seconds"] if p else None
            ot = p["onnxruntime"]["seconds"] if p else None
            ort_level = p["onnxruntime"].get("level", "all") if p else "all"
            if p and p["onnxruntime"].get("rejected_levels"):
                notes.append(f"{arch} {size}x{size}, {threads} thread(s): ORT timed at ORT_ENABLE_{ort_level.upper()}; "
                             + "; ".join(f"ORT_ENABLE_{k.upper()} {v['seconds'] * 1000:.1f} ms but max abs(ORT - PyTorch) {v['max_abs_diff_vs_pytorch']:.3g}"
                                         for k, v in p["onnxruntime"]["rejected_levels"].items()))
            diff = "missing"
            yc = d / f"{arch}_{size}_cvseg_t{threads}.safetensors"
            yp = d / f"{arch}_{size}_torch_t{threads}.safetensors"
            if c and p and yc.exists() and yp.exists():
                a_, b_ = load_file(str(yc))["y"], load_file(str(yp))["y"]
                if a_.shape != b_.shape:
                    diff = f"shape {list(a_.shape)} vs {list(b_.shape)}"
                else:
                    m = float((a_ - b_).abs().max())
                    diff = f"{m:.2e}" + ("" if m <= a.tolerance else " FAIL")
                    ok = ok and m <= a.tolerance
            if not diff[0].isdigit():
                ok = False
                diff += " FAIL"
            ratio = lambda x, y: f"{x / y:.2f}x" if x is not None and y else "-"
            od = f"{p['onnxruntime']['max_abs_diff_vs_pytorch']:.2e}" if p else "-"
            my = f"{p['max_abs_output']:.2f}" if p else "-"
            print(f"| {arch} | {ms(ct)} | {ips(ct)} | {ms(pt)} | {ips(pt)} | {ms(ot)}{'' if ort_level == 'all' else ' (a)'} | {ratio(ct, pt)} | {ratio(ct, ot)} "
                  f"| {diff} | {od} | {my} |")
        print()
    for n in notes:
        print(f"(a) {n}")
    if notes:
        print()
    print(f"equality (max abs difference to PyTorch <= {a.tolerance:g}): {'all pass' if ok else 'FAIL'}")
    return 0 if ok else 1


def main():
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--dir", required=True)
    p.add_argument("--sizes", default="256,512")
    p.add_argument("--archs", default=",".join(ARCHS))
    p.add_argument("--classes", type=int, default=21)
    p.add_argument("--seed", type=int, default=0)
    t = sub.add_parser("time")
    t.add_argument("--dir", required=True)
    t.add_argument("--arch", required=True)
    t.add_argument("--size", type=int, required=True)
    t.add_argument("--runs", type=int, default=5)
    t.add_argument("--warmup", type=int, default=2)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--ort-tolerance", type=float, default=1e-3)
    r = sub.add_parser("report")
    r.add_argument("--dir", required=True)
    r.add_argument("--results", required=True)
    r.add_argument("--tolerance", type=float, default=1e-4)
    a = ap.parse_args()
    if a.cmd == "prepare":
        prepare(a)
    elif a.cmd == "time":
        time_one(a)
    else:
        sys.exit(report(a))


if __name__ == "__main__":
    main()
