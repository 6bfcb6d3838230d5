#!/usr/bin/env python3
"""PyTorch reference values for cvseg's neural engine (Tests/CVSegNNTests/TorchParityTests.swift).

Also writes mlp_initial.safetensors: the initial state_dict of the small MLP, saved by
safetensors.torch.save_file (the file a PyTorch user would hand to cvseg).

Writes Tests/CVSegNNTests/Fixtures/torch/basic.json: for seeded small inputs (float32), the
forward values and input gradients of activations, softmax/log-softmax and the losses, the
parameter trajectories of SGD (momentum, dampening, Nesterov, weight decay), Adam and AdamW over
5 steps with fixed gradients, learning-rate schedules and gradient-norm clipping — all computed
by torch 2.15 on the CPU. Gradients are of L = sum(f(x) * R) with a fixed random R (stored).

Run: $(scripts/torch-env)/bin/python scripts/reference/nn_reference.py
"""
import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "CVSegNNTests" / "Fixtures" / "torch"
torch.manual_seed(0)
torch.set_num_threads(1)


def t(shape, lo=-2.0, hi=2.0):
    return (torch.rand(*shape, dtype=torch.float64) * (hi - lo) + lo).float()


def flat(x):
    # 9 significant digits identify a float32 exactly; fewer digits keep the fixture small.
    return [float(f"{v:.9g}") for v in x.detach().reshape(-1).tolist()]


def case(name, fn, inputs, **extra):
    xs = [x.clone().requires_grad_(True) for x in inputs]
    y = fn(*xs)
    r = t(tuple(y.shape), -1, 1) if y.dim() > 0 else torch.tensor(1.0)
    (y * r).sum().backward()
    return {"name": name, "inputs": [{"shape": list(x.shape), "values": flat(x)} for x in inputs],
            "output": {"shape": list(y.shape), "values": flat(y)}, "weights": flat(r),
            "grads": [flat(x.grad) for x in xs], **extra}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    cases = []
    x = t((2, 5, 3, 2))
    cases.append(case("relu", F.relu, [x]))
    cases.append(case("leaky_relu_0.2", lambda v: F.leaky_relu(v, 0.2), [x]))
    cases.append(case("sigmoid", torch.sigmoid, [x]))
    cases.append(case("tanh", torch.tanh, [x]))
    cases.append(case("softmax", lambda v: F.softmax(v, dim=1), [x]))
    cases.append(case("log_softmax", lambda v: F.log_softmax(v, dim=1), [x]))

    logits = t((2, 4, 3, 3), -3, 3)
    target = torch.randint(0, 4, (2, 3, 3))
    target[0, 0, 0] = 255
    target[1, 2, 1] = 255
    w = torch.tensor([0.5, 1.0, 2.0, 1.5])
    cases.append(case("cross_entropy", lambda v: F.cross_entropy(v, target, ignore_index=255), [logits],
                      targets=target.reshape(-1).tolist(), ignore_index=255))
    cases.append(case("cross_entropy_weighted", lambda v: F.cross_entropy(v, target, weight=w, ignore_index=255), [logits],
                      targets=target.reshape(-1).tolist(), ignore_index=255, class_weights=w.tolist()))
    logits2 = t((3, 5), -3, 3)
    target2 = torch.randint(0, 5, (3,))
    cases.append(case("cross_entropy_2d", lambda v: F.cross_entropy(v, target2), [logits2],
                      targets=target2.tolist(), ignore_index=-100))
    bl = t((2, 3, 4), -6, 6)
    by = (torch.rand(2, 3, 4) > 0.5).float()
    cases.append(case("bce_with_logits", lambda v: F.binary_cross_entropy_with_logits(v, by), [bl], targets_f=flat(by)))
    cases.append(case("bce_with_logits_pos3", lambda v: F.binary_cross_entropy_with_logits(v, by, pos_weight=torch.tensor(3.0)),
                      [bl], targets_f=flat(by), pos_weight=3.0))
    p, q = t((2, 3, 4)), t((2, 3, 4))
    cases.append(case("mse", lambda v: F.mse_loss(v, q), [p], targets_f=flat(q)))
    cases.append(case("smooth_l1_1", lambda v: F.smooth_l1_loss(v, q, beta=1.0), [p], targets_f=flat(q), beta=1.0))
    cases.append(case("smooth_l1_0.5", lambda v: F.smooth_l1_loss(v, q, beta=0.5), [p], targets_f=flat(q), beta=0.5))

    # Linear, bilinear resizing, global average pooling, max unpooling.
    lx, lw, lb = t((3, 5)), t((4, 5)), t((4,))
    cases.append(case("linear", lambda a, b, c: F.linear(a, b, c), [lx, lw, lb]))
    cases.append(case("linear_nobias", lambda a, b: F.linear(a, b), [lx, lw]))
    img = t((2, 3, 5, 4))
    for ac in (True, False):
        for size in ((9, 7), (3, 2), (10, 8), (1, 1)):
            cases.append(case(f"bilinear_{int(ac)}_{size[0]}x{size[1]}",
                              lambda v, size=size, ac=ac: F.interpolate(v, size=size, mode="bilinear", align_corners=ac), [img],
                              size=list(size), align_corners=ac))
    cases.append(case("global_avg_pool", lambda v: F.adaptive_avg_pool2d(v, 1), [img]))
    pooled, idx = F.max_pool2d(t((2, 3, 6, 5)), 2, stride=2, return_indices=True)
    cases.append(case("max_unpool", lambda v: F.max_unpool2d(v, idx, 2, stride=2, output_size=(6, 5)), [pooled],
                      indices=idx.reshape(-1).tolist(), size=[6, 5]))

    # Convolutions, pooling, normalisation (oneDNN in cvseg).
    cx = t((2, 4, 7, 6))
    cases.append(case("conv2d_s2_p1_g2", lambda a, w, b: F.conv2d(a, w, b, stride=2, padding=1, groups=2),
                      [cx, t((6, 2, 3, 3)), t((6,))], stride=2, padding=1, dilation=1, groups=2))
    cases.append(case("conv2d_d2_p2", lambda a, w: F.conv2d(a, w, None, stride=1, padding=2, dilation=2),
                      [cx, t((5, 4, 3, 3))], stride=1, padding=2, dilation=2, groups=1))
    cases.append(case("conv2d_1x1", lambda a, w, b: F.conv2d(a, w, b), [cx, t((3, 4, 1, 1)), t((3,))],
                      stride=1, padding=0, dilation=1, groups=1))
    tx = t((2, 4, 5, 4))
    cases.append(case("deconv_s2_p1_op1", lambda a, w, b: F.conv_transpose2d(a, w, b, stride=2, padding=1, output_padding=1),
                      [tx, t((4, 3, 3, 3)), t((3,))], stride=2, padding=1, output_padding=1, dilation=1, groups=1))
    cases.append(case("deconv_k4_s2_p1", lambda a, w: F.conv_transpose2d(a, w, None, stride=2, padding=1),
                      [tx, t((4, 2, 4, 4))], stride=2, padding=1, output_padding=0, dilation=1, groups=1))
    cases.append(case("deconv_d2_g2", lambda a, w, b: F.conv_transpose2d(a, w, b, stride=1, padding=1, dilation=2, groups=2),
                      [tx, t((4, 3, 3, 3)), t((6,))], stride=1, padding=1, output_padding=0, dilation=2, groups=2))
    px = t((2, 3, 7, 6))
    out, idx = F.max_pool2d(px, 3, stride=2, padding=1, return_indices=True)
    cases.append(case("max_pool_k3_s2_p1", lambda a: F.max_pool2d(a, 3, stride=2, padding=1), [px],
                      kernel=3, stride=2, padding=1, indices=idx.reshape(-1).tolist()))
    cases.append(case("max_pool_k2", lambda a: F.max_pool2d(a, 2), [px], kernel=2, stride=2, padding=0))
    cases.append(case("avg_pool_k3_s2_p1_incl", lambda a: F.avg_pool2d(a, 3, stride=2, padding=1, count_include_pad=True), [px],
                      kernel=3, stride=2, padding=1, count_include_pad=True))
    cases.append(case("avg_pool_k3_s2_p1_excl", lambda a: F.avg_pool2d(a, 3, stride=2, padding=1, count_include_pad=False), [px],
                      kernel=3, stride=2, padding=1, count_include_pad=False))
    bx = t((3, 4, 5, 5))
    cases.append(case("batch_norm_train", lambda a, w, b: F.batch_norm(a, None, None, w, b, training=True, eps=1e-5),
                      [bx, t((4,), 0.5, 1.5), t((4,))]))
    rm, rv = t((4,), -0.5, 0.5), t((4,), 0.5, 2.0)
    cases.append(case("batch_norm_eval", lambda a, w, b: F.batch_norm(a, rm, rv, w, b, training=False, eps=1e-5),
                      [bx, t((4,), 0.5, 1.5), t((4,))], running_mean=flat(rm), running_var=flat(rv)))
    lx = t((2, 6, 4, 3))
    cases.append(case("lrn_3", lambda a: F.local_response_norm(a, 3, alpha=1e-2, beta=0.75, k=1.0), [lx], size=3, alpha=1e-2))
    cases.append(case("lrn_5", lambda a: F.local_response_norm(a, 5, alpha=1e-4, beta=0.75, k=2.0), [lx], size=5, alpha=1e-4, k=2.0))
    bn = torch.nn.BatchNorm2d(4)
    bn.train()
    bn(bx)
    bn(bx * 2 + 1)
    bn_running = {"x": flat(bx), "running_mean": flat(bn.running_mean), "running_var": flat(bn.running_var),
                  "num_batches_tracked": int(bn.num_batches_tracked)}

    # Optimizers: 5 steps with fixed gradients.
    w0 = t((3, 4))
    grads = [t((3, 4)) for _ in range(5)]
    opts = {
        "sgd": lambda ps: torch.optim.SGD(ps, lr=0.1),
        "sgd_momentum": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=1e-2),
        "sgd_nesterov": lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
        "adam": lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=1e-2, foreach=False),
        "adamw": lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.05, foreach=False),
    }
    optim = []
    for name, make in opts.items():
        param = torch.nn.Parameter(w0.clone())
        opt = make([param])
        traj = []
        for g in grads:
            param.grad = g.clone()
            opt.step()
            traj.append(flat(param))
        optim.append({"name": name, "initial": flat(w0), "grads": [flat(g) for g in grads], "trajectory": traj})

    # Schedules (lr after each of 10 epochs/steps, from base 0.1).
    sched = {}
    for name, make in {"step": lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
                       "cosine": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
                       "poly": lambda o: torch.optim.lr_scheduler.PolynomialLR(o, total_iters=8, power=0.9)}.items():
        o = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        s = make(o)
        rates = []
        for _ in range(10):
            rates.append(o.param_groups[0]["lr"])
            o.step()
            s.step()
        sched[name] = rates

    # Gradient clipping.
    ga, gb = t((3, 4)), t((5,))
    pa, pb = torch.nn.Parameter(torch.zeros(3, 4)), torch.nn.Parameter(torch.zeros(5))
    pa.grad, pb.grad = ga.clone(), gb.clone()
    norm = torch.nn.utils.clip_grad_norm_([pa, pb], max_norm=1.0)
    clip = {"grads": [flat(ga), flat(gb)], "max_norm": 1.0, "norm": float(norm), "clipped": [flat(pa.grad), flat(pb.grad)]}

    # End to end: a small MLP, 20 SGD steps (momentum, weight decay) on fixed data.
    torch.manual_seed(1)
    mlp = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    state = {k: {"shape": list(v.shape), "values": flat(v)} for k, v in mlp.state_dict().items()}
    mlp_initial = {k: v.detach().clone() for k, v in mlp.state_dict().items()}
    X, Y = t((10, 6)), torch.randint(0, 3, (10,))
    opt = torch.optim.SGD(mlp.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = F.cross_entropy(mlp(X), Y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in mlp_initial.items()}, str(OUT / "mlp_initial.safetensors"))
    training = {"state": state, "x": flat(X), "y": Y.tolist(), "losses": losses,
                "final": {k: flat(v) for k, v in mlp.state_dict().items()}}

    # End to end with convolutions: conv-BN-ReLU-pool-dilated conv-ReLU-deconv, per-pixel
    # cross-entropy with an ignore index, 20 SGD steps; the initial state_dict (with BN's I64
    # num_batches_tracked) saved by safetensors.torch.
    torch.manual_seed(2)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                              torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 8, 3, padding=2, dilation=2), torch.nn.ReLU(),
                              torch.nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1))
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(OUT / "convnet_initial.safetensors"))
    CX, CY = t((2, 3, 8, 8)), torch.randint(0, 4, (2, 8, 8))
    CY[0, :2, :] = 255
    copt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    closses = []
    for _ in range(20):
        copt.zero_grad()
        loss = F.cross_entropy(net(CX), CY, ignore_index=255)
        loss.backward()
        copt.step()
        closses.append(float(loss.detach()))
    conv_training = {"x": flat(CX), "y": CY.reshape(-1).tolist(), "losses": closses,
                     "final": {k: flat(v.float()) for k, v in net.state_dict().items()}}

    out = {"torch": torch.__version__, "cases": cases, "training_conv": conv_training, "optimizers": optim, "schedules": sched, "clip": clip,
           "training_mlp": training, "bn_running": bn_running}
    (OUT / "basic.json").write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print("wrote", OUT / "basic.json", sum(len(c["inputs"][0]["values"]) for c in cases), "input values")


if __name__ == "__main__":
    main()
