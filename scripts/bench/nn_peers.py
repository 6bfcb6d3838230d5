#!/usr/bin/env python3
"""PyTorch and ONNX Runtime side of scripts/bench/nn: the same layers and the same VGG-style FCN
as cvseg's bench (Sources/CVSegBench), one thread each, medians of --runs after warm-ups.

Prints one JSON object: {"pytorch": {case: seconds}, "onnxruntime": {case: seconds}}.

The FCN ("VGG-style", 6.76 GFLOP at 1x3x256x256, as in ../shared/PEERS.md): two 3x3 conv + ReLU
per stage with 32, 64, 128, 256 channels, 2x2 max pooling after the first three stages, a 1x1
classifier to 21 classes and x8 bilinear upsampling.
"""
import argparse
import io
import json
import statistics
import time
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

CASES = {
    "conv3x3": (lambda: nn.Conv2d(64, 64, 3, padding=1), (1, 64, 128, 128)),
    "conv3x3_dilation2": (lambda: nn.Conv2d(64, 64, 3, padding=2, dilation=2), (1, 64, 128, 128)),
    "deconv_k4s2": (lambda: nn.ConvTranspose2d(64, 64, 4, stride=2, padding=1), (1, 64, 64, 64)),
    "maxpool2x2": (lambda: nn.MaxPool2d(2), (1, 64, 128, 128)),
    "batchnorm_eval": (lambda: nn.BatchNorm2d(64).eval(), (1, 64, 128, 128)),
}


class FCN(nn.Module):
    def __init__(self, classes=21):
        super().__init__()
        chans, layers, c = [32, 64, 128, 256], [], 3
        for i, o in enumerate(chans):
            layers += [nn.Conv2d(c, o, 3, padding=1), nn.ReLU(), nn.Conv2d(o, o, 3, padding=1), nn.ReLU()]
            if i < 3:
                layers.append(nn.MaxPool2d(2))
            c = o
        self.features = nn.Sequential(*layers)
        self.score = nn.Conv2d(c, classes, 1)

    def forward(self, x):
        return F.interpolate(self.score(self.features(x)), scale_factor=8, mode="bilinear", align_corners=False)


def timed(fn, runs, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size", type=int, default=256)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    out = {"pytorch": {}, "onnxruntime": {}, "versions": {"torch": torch.__version__, "onnxruntime": ort.__version__}}
    models = {k: (make(), shape) for k, (make, shape) in CASES.items()}
    models["fcn_forward"] = (FCN().eval(), (1, 3, a.size, a.size))
    for name, (model, shape) in models.items():
        x = torch.randn(*shape)
        with torch.inference_mode():
            out["pytorch"][name] = timed(lambda: model(x), a.runs)
        buf = io.BytesIO()
        torch.onnx.export(model, (x,), buf, dynamo=False, opset_version=17)
        sess = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: x.numpy()}
        out["onnxruntime"][name] = timed(lambda: sess.run(None, feed), a.runs)
    # One training step of the FCN: forward, per-pixel cross-entropy, backward, SGD step.
    fcn = FCN().train()
    opt = torch.optim.SGD(fcn.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(1, 3, a.size, a.size)
    y = torch.randint(0, 21, (1, a.size, a.size))

    def step():
        opt.zero_grad()
        F.cross_entropy(fcn(x), y).backward()
        opt.step()
    out["pytorch"]["fcn_train_step"] = timed(step, a.runs)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
