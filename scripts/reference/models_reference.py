#!/usr/bin/env python3
"""PyTorch reference modules for cvseg's segmentation models (Sources/CVSegNN/Models) and the
fixtures of Tests/CVSegNNTests/ModelTests.swift.

The modules have the same module tree, names and forward pass as the Swift ones, so their
state_dict() keys match one to one:

- FCN (Long et al. 2015), variants fcn32s / fcn16s / fcn8s;
- DeconvNet (Noh et al. 2015);
- DilatedNet (Yu & Koltun 2016), front end + basic context module.

For each tiny model (widths 4,8,8,8,8; 3 classes) the script writes
Tests/CVSegNNTests/Fixtures/models/<arch>.safetensors (safetensors.torch.save_file, with the
model's metadata as __metadata__) and, in models.json, the shared input, a sample of the output
(every `stride`-th value of the flattened [1, C, H, W] output, 9 significant digits) and
float64 checksums of the whole output, for a 64×64 input and (fcn8s, deconvnet, dilated) a
45×61 crop of it (padded to the output stride inside the models and cropped back).
The weights are PyTorch's default initialisation, except that the structured initialisations
(bilinear upsampling, identity context, batch norm's statistics) are perturbed so the
comparison exercises every weight.

Run: $(scripts/torch-env)/bin/python scripts/reference/models_reference.py
"""
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "CVSegNNTests" / "Fixtures" / "models"
torch.set_num_threads(1)


def get_upsampling_weight(in_channels, out_channels, kernel_size):
    """FCN's bilinear kernel on the channel diagonal (fcn.berkeleyvision.org surgery.upsample_filt)."""
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = np.ogrid[:kernel_size, :kernel_size]
    filt = (1 - abs(og[0] - center) / factor) * (1 - abs(og[1] - center) / factor)
    weight = np.zeros((in_channels, out_channels, kernel_size, kernel_size), dtype=np.float64)
    weight[range(in_channels), range(out_channels), :, :] = filt
    return torch.from_numpy(weight).float()


def identity_init(conv):
    """Yu & Koltun: centre tap of channel c to channel c is 1, the rest and the bias 0."""
    with torch.no_grad():
        conv.weight.zero_()
        k = conv.weight.shape[2]
        for c in range(min(conv.weight.shape[0], conv.weight.shape[1])):
            conv.weight[c, c, k // 2, k // 2] = 1
        conv.bias.zero_()


def vgg_stage(cin, width, convs, dilation=1, pool=True):
    layers = []
    for i in range(convs):
        layers += [nn.Conv2d(cin if i == 0 else width, width, 3, padding=dilation, dilation=dilation), nn.ReLU()]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


def joined(v):
    return ",".join(str(x) for x in v)


class Padded(nn.Module):
    """Pads the input (zeros, bottom/right) to a multiple of `stride` and crops the scores back."""
    stride = 32

    def forward(self, x):
        h, w = x.shape[2], x.shape[3]
        s = self.stride
        ph, pw = -(-h // s) * s, -(-w // s) * s
        if (ph, pw) == (h, w):
            return self.aligned(x)
        return self.aligned(F.pad(x, (0, pw - w, 0, ph - h)))[:, :, :h, :w]


class FCN(Padded):
    def __init__(self, variant, classes, in_channels=3, widths=(32, 64, 128, 256, 256), convs=(2, 2, 3, 3, 3),
                 fc_width=512, fc_kernel=3, dropout=0.5):
        super().__init__()
        self.variant, self.classes, self.in_channels = variant, classes, in_channels
        self.widths, self.convs, self.fc_width, self.fc_kernel, self.p = list(widths), list(convs), fc_width, fc_kernel, dropout
        for i in range(5):
            setattr(self, f"stage{i + 1}", vgg_stage(in_channels if i == 0 else widths[i - 1], widths[i], convs[i]))
        self.fc6 = nn.Conv2d(widths[4], fc_width, fc_kernel, padding=fc_kernel // 2)
        self.fc7 = nn.Conv2d(fc_width, fc_width, 1)
        self.drop = nn.Dropout(dropout)
        self.score_fr = nn.Conv2d(fc_width, classes, 1)
        self.final = {"fcn32s": 32, "fcn16s": 16, "fcn8s": 8}[variant]
        if variant in ("fcn16s", "fcn8s"):
            self.score_pool4 = nn.Conv2d(widths[3], classes, 1)
            self.upscore2 = nn.ConvTranspose2d(classes, classes, 4, stride=2, padding=1, bias=False)
            self.upscore2.weight.data.copy_(get_upsampling_weight(classes, classes, 4))
        if variant == "fcn8s":
            self.score_pool3 = nn.Conv2d(widths[2], classes, 1)
            self.upscore_pool4 = nn.ConvTranspose2d(classes, classes, 4, stride=2, padding=1, bias=False)
            self.upscore_pool4.weight.data.copy_(get_upsampling_weight(classes, classes, 4))
        # The final upsampling is fixed to bilinear interpolation (the paper): not a parameter,
        # not saved. The full diagonal [C, C, 2f, 2f] weight (Swift runs it per channel).
        f = self.final
        self.register_buffer("upscore_weight", get_upsampling_weight(classes, classes, 2 * f), persistent=False)

    def metadata(self):
        return {"architecture": self.variant, "classes": str(self.classes), "in_channels": str(self.in_channels),
                "widths": joined(self.widths), "convs": joined(self.convs), "fc_width": str(self.fc_width),
                "fc_kernel": str(self.fc_kernel), "dropout": str(self.p)}

    def aligned(self, x):
        pooled = []
        h = x
        for i in range(5):
            h = getattr(self, f"stage{i + 1}")(h)
            pooled.append(h)
        h = self.drop(F.relu(self.fc6(h)))
        h = self.drop(F.relu(self.fc7(h)))
        score = self.score_fr(h)
        if self.variant in ("fcn16s", "fcn8s"):
            score = self.upscore2(score) + self.score_pool4(pooled[3])
        if self.variant == "fcn8s":
            score = self.upscore_pool4(score) + self.score_pool3(pooled[2])
        return self.upsample_final(score)

    def upsample_final(self, score):
        """The fixed ×final bilinear upsampling of the class scores."""
        f = self.final
        return F.conv_transpose2d(score, self.upscore_weight, stride=f, padding=f // 2)


def conv_bn(cin, cout, k):
    return [nn.Conv2d(cin, cout, k, padding=k // 2), nn.BatchNorm2d(cout), nn.ReLU()]


def deconv_bn(cin, cout, k):
    return [nn.ConvTranspose2d(cin, cout, k, padding=k // 2), nn.BatchNorm2d(cout), nn.ReLU()]


class DeconvNet(Padded):
    def __init__(self, classes, in_channels=3, widths=(32, 64, 128, 256, 256), convs=(2, 2, 3, 3, 3), fc_width=512, fc_kernel=3):
        super().__init__()
        self.classes, self.in_channels, self.widths, self.convs = classes, in_channels, list(widths), list(convs)
        self.fc_width, self.fc_kernel = fc_width, fc_kernel
        w = widths
        for s in range(5):
            layers = []
            for j in range(convs[s]):
                layers += conv_bn((in_channels if s == 0 else w[s - 1]) if j == 0 else w[s], w[s], 3)
            setattr(self, f"enc{s + 1}", nn.Sequential(*layers))
        self.fc6 = nn.Sequential(*conv_bn(w[4], fc_width, fc_kernel))
        self.fc7 = nn.Sequential(*conv_bn(fc_width, fc_width, 1))
        self.deconv_fc6 = nn.Sequential(*deconv_bn(fc_width, w[4], fc_kernel))
        for s in range(4, -1, -1):
            n = convs[s]
            layers = []
            for j in range(n):
                layers += deconv_bn(w[s], w[max(s - 1, 0)] if j == n - 1 else w[s], 3)
            setattr(self, f"dec{s + 1}", nn.Sequential(*layers))
        self.score = nn.Conv2d(w[0], classes, 1)

    def metadata(self):
        return {"architecture": "deconvnet", "classes": str(self.classes), "in_channels": str(self.in_channels),
                "widths": joined(self.widths), "convs": joined(self.convs), "fc_width": str(self.fc_width),
                "fc_kernel": str(self.fc_kernel)}

    def aligned(self, x):
        h = x
        pools = []
        for s in range(5):
            h = getattr(self, f"enc{s + 1}")(h)
            size = h.shape[2:]
            h, idx = F.max_pool2d(h, 2, stride=2, return_indices=True)
            pools.append((idx, size))
        h = self.deconv_fc6(self.fc7(self.fc6(h)))
        for s in range(4, -1, -1):
            idx, size = pools[s]
            h = F.max_unpool2d(h, idx, 2, stride=2, output_size=size)
            h = getattr(self, f"dec{s + 1}")(h)
        return self.score(h)


class DilatedNet(Padded):
    stride = 8

    def __init__(self, classes, in_channels=3, widths=(32, 64, 128, 256, 256), convs=(2, 2, 3, 3, 3), fc_width=512, fc_kernel=3,
                 dropout=0.5, context="basic", context_dilations=(1, 1, 2, 4, 8, 16, 1)):
        super().__init__()
        self.classes, self.in_channels, self.widths, self.convs = classes, in_channels, list(widths), list(convs)
        self.fc_width, self.fc_kernel, self.p, self.context_kind = fc_width, fc_kernel, dropout, context
        self.context_dilations = list(context_dilations)
        w = widths
        for s in range(5):
            setattr(self, f"stage{s + 1}", vgg_stage(in_channels if s == 0 else w[s - 1], w[s], convs[s],
                                                     dilation=2 if s == 4 else 1, pool=s < 3))
        self.fc6 = nn.Conv2d(w[4], fc_width, fc_kernel, padding=4 * (fc_kernel // 2), dilation=4)
        self.fc7 = nn.Conv2d(fc_width, fc_width, 1)
        self.drop = nn.Dropout(dropout)
        self.fc_final = nn.Conv2d(fc_width, classes, 1)
        if context == "basic":
            layers = []
            for d in context_dilations:
                conv = nn.Conv2d(classes, classes, 3, padding=d, dilation=d)
                identity_init(conv)
                layers += [conv, nn.ReLU()]
            last = nn.Conv2d(classes, classes, 1)
            identity_init(last)
            layers.append(last)
            self.context = nn.Sequential(*layers)
        else:
            self.context = None

    def metadata(self):
        return {"architecture": "dilated", "classes": str(self.classes), "in_channels": str(self.in_channels),
                "widths": joined(self.widths), "convs": joined(self.convs), "fc_width": str(self.fc_width),
                "fc_kernel": str(self.fc_kernel), "dropout": str(self.p), "context": self.context_kind,
                "context_dilations": joined(self.context_dilations)}

    def aligned(self, x):
        h = x
        for s in range(5):
            h = getattr(self, f"stage{s + 1}")(h)
        h = self.drop(F.relu(self.fc6(h)))
        h = self.drop(F.relu(self.fc7(h)))
        h = self.fc_final(h)
        if self.context is not None:
            h = self.context(h)
        return F.interpolate(h, size=(h.shape[2] * 8, h.shape[3] * 8), mode="bilinear", align_corners=False)


def g9(v):
    return float(f"{v:.9g}")


def perturb(model, gen):
    """Noise on the structured initialisations, random batch-norm statistics and affine terms."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "upscore" in name or name.startswith("context."):
                p.add_((torch.rand(p.shape, generator=gen, dtype=torch.float64) * 0.4 - 0.2).float())
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_((torch.rand(c, generator=gen, dtype=torch.float64) + 0.5).float())
                m.bias.copy_((torch.rand(c, generator=gen, dtype=torch.float64) * 0.4 - 0.2).float())
                m.running_mean.copy_((torch.rand(c, generator=gen, dtype=torch.float64) * 0.4 - 0.2).float())
                m.running_var.copy_((torch.rand(c, generator=gen, dtype=torch.float64) + 0.5).float())
                m.num_batches_tracked.fill_(7)


def summary(y, stride):
    v = y.detach().double().reshape(-1)
    weights = torch.arange(v.numel(), dtype=torch.float64).remainder(97) + 1
    return {"shape": list(y.shape), "stride": stride, "sample": [g9(a) for a in v[::stride].tolist()],
            "sum": float(v.sum()), "abs_sum": float(v.abs().sum()), "weighted_sum": float((v * weights).sum()),
            "weighted_abs_sum": float((v.abs() * weights).sum())}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    tiny = dict(widths=(4, 8, 8, 8, 8), convs=(2, 2, 3, 3, 3), fc_width=16, fc_kernel=3)
    classes = 3
    gen = torch.Generator().manual_seed(7)
    # Multiples of 1/4 in [-2, 2]: short in JSON, exact in float32.
    x = (torch.randint(-8, 9, (1, 3, 64, 64), generator=gen).double() / 4).float()
    odd = x[:, :, :45, :61].contiguous()
    stride = 7
    out = {"torch": torch.__version__, "classes": classes, "input": {"shape": list(x.shape), "values": [g9(a) for a in x.reshape(-1).tolist()]},
           "odd_size": [45, 61], "models": {}}
    builders = {
        "fcn32s": lambda: FCN("fcn32s", classes, dropout=0.5, **tiny),
        "fcn16s": lambda: FCN("fcn16s", classes, dropout=0.5, **tiny),
        "fcn8s": lambda: FCN("fcn8s", classes, dropout=0.5, **tiny),
        "deconvnet": lambda: DeconvNet(classes, **tiny),
        "dilated": lambda: DilatedNet(classes, dropout=0.5, **tiny),
    }
    for i, (arch, build) in enumerate(builders.items()):
        torch.manual_seed(100 + i)
        model = build()
        perturb(model, gen)
        model.eval()
        with torch.no_grad():
            y = model(x)
            entry = {"output": summary(y, stride), "keys": sorted(model.state_dict().keys())}
            if arch in ("fcn8s", "deconvnet", "dilated"):
                entry["odd_output"] = summary(model(odd), stride)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(OUT / f"{arch}.safetensors"),
                  metadata=model.metadata())
        entry["metadata"] = model.metadata()
        out["models"][arch] = entry
    # The bilinear kernels of get_upsampling_weight (one channel), odd and even sizes.
    out["bilinear"] = {str(k): [g9(a) for a in get_upsampling_weight(1, 1, k).reshape(-1).tolist()] for k in (3, 4, 5, 16)}
    (OUT / "models.json").write_text(json.dumps(out, separators=(",", ":")) + "\n")
    sizes = {p.name: p.stat().st_size for p in sorted(OUT.iterdir())}
    print(sizes, "total", sum(sizes.values()))


if __name__ == "__main__":
    main()
