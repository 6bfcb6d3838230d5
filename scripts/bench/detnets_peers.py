#!/usr/bin/env python3
"""PyTorch side of the parity and speed check of cvseg's detection networks (R-CNN, Fast R-CNN,
Faster R-CNN): the same network in PyTorch with torchvision's detection pieces, the weights of
cvseg's safetensors file (identical state_dict names), fed what cvseg dumped.

  detnets_peers.py compare --weights FILE --dump FILE [--tolerance 1e-4] [--runs 5] [--warmup 2] [--threads 1]
      Builds the network from the weights' __metadata__ (below), loads the state_dict strictly
      (F16 or F32 tensors, run in float32), and checks it against cvseg's dump:
        * runs the backbone (and the RPN convolutions) on the dump's `input` and compares
          `features`, `rpn_objectness`, `rpn_deltas`;
        * faster-rcnn: runs torchvision's proposal filter on its own RPN outputs and compares the
          boxes with the dump's `proposals` (counts, max |diff| row by row in order, max |diff|
          to the nearest dump box regardless of order, and how many torch boxes have a dump box
          at IoU > 0.99): informational only, ties may reorder;
        * feeds the DUMP's `proposals` (RoI pooling on the features; rcnn: the dump's `crops`
          through the backbone) to the head and compares `class_logits` and `box_deltas`;
        * post-processes those head outputs in PyTorch and counts the dump's `detections` that
          have a PyTorch detection with the same label at IoU > 0.99 (one to one, informational);
        * times PyTorch's whole inference (faster-rcnn: backbone + RPN + filter + RoI pool + head +
          postprocess on `input`; fast-rcnn: backbone + RoI pool + head + postprocess on `input`
          and the dump's proposals; rcnn: backbone on the dump's crops + head + postprocess) under
          torch.inference_mode() with torch.set_num_threads(T), W warm-ups then R runs.
      Prints one JSON line {"method", "max_abs_diff": {tensor: value}, "proposals": {"cvseg",
      "torch", "max_abs_diff", ...}, "detections_matched", "detections", "torch_ms_median",
      "torch_ms": [...], "ok"} and exits 1 unless every compared tensor among features,
      rpn_objectness, rpn_deltas, class_logits, box_deltas is within the tolerance (a shape
      mismatch is a failure, recorded as a string; absent tensors are skipped, but at least one
      must be compared).
  detnets_peers.py selftest [--keep DIR]
      Small random networks of each method (faster-rcnn: classes 1, widths 8,8,16,16,16, convs
      1,1,1,1,1, batch norm with random running statistics, fc_width 32, pool 7, anchor sizes
      32,64, ratios 1,2; fast-rcnn and rcnn likewise, with 2 and 3 classes), saved with their
      metadata (the fast-rcnn weights as F16, so that path is exercised too), dumps written by
      PyTorch itself (input 1x3x64x96, image 60x90; random proposals for fast-rcnn, random
      crops for rcnn), then `compare` on each: every difference must be 0 and ok true. Also checks
      the hand-wired RPN path against torchvision's RegionProposalNetwork.forward (RPNHead with
      the same weights): the same boxes, bit for bit.

The network (metadata keys are strings; `architecture` in rcnn, fast-rcnn, faster-rcnn):
  backbone.stage1..stage5   nn.Sequential; per conv: Conv2d(in, widths[i], 3, padding=1),
                            BatchNorm2d (eps 1e-5, running statistics) if batch_norm, ReLU;
                            stages 1-4 end with MaxPool2d(2). Stride 16, C = widths[4].
  rpn.conv / rpn.cls_logits / rpn.bbox_pred   (faster-rcnn) Conv2d(C, C, 3, pad 1) + ReLU,
                            Conv2d(C, A, 1), Conv2d(C, 4A, 1), A = len(sizes) * len(ratios);
                            torchvision's AnchorGenerator, concat_box_prediction_layers,
                            BoxCoder (1, 1, 1, 1) and RegionProposalNetwork.filter_proposals
                            (test-time top-N, min_size 1e-3, score_thresh 0), clipped to the
                            unpadded image (image_height, image_width of the dump).
  roi pooling               torchvision.ops.roi_pool(features, [boxes], (P, P), 1/16), flattened
                            (rcnn: backbone on the [R, 3, 16P, 16P] crops, flattened).
  roi_heads.fc6 / fc7       Linear(C P P, F) + ReLU, Linear(F, F) + ReLU.
  roi_heads.cls_score / bbox_pred   Linear(F, K + 1), Linear(F, 4 (K + 1)) (rcnn: K, 4K).
  postprocess               fast/faster: torchvision's RoIHeads.postprocess_detections (softmax,
                            BoxCoder (10, 10, 5, 5), clip, drop background, score > thresh,
                            remove_small_boxes 1e-2, batched_nms, top N). rcnn (an assumption,
                            there is no background column): per-class sigmoid scores (one
                            classifier per class, as R-CNN's SVMs), labels 1..K, otherwise the
                            same steps.
"""
import argparse
import json
import math
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torchvision.models.detection._utils import BoxCoder
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead, concat_box_prediction_layers
from torchvision.ops import box_iou, batched_nms, clip_boxes_to_image, remove_small_boxes, roi_pool

METHODS = ["rcnn", "fast-rcnn", "faster-rcnn"]
COMPARED = ["features", "rpn_objectness", "rpn_deltas", "class_logits", "box_deltas"]
STRIDE = 16


def ints(s):
    return [int(v) for v in s.split(",") if v.strip()]


def floats(s):
    return [float(v) for v in s.split(",") if v.strip()]


def flag(s):
    return str(s).strip().lower() in ("true", "1", "yes")


class Helpers:
    """torchvision's parameter-free detection pieces, held outside the nn.Module tree so that
    they add nothing to the state_dict (and put in eval mode here, once)."""


class DetNet(nn.Module):
    def __init__(self, meta):
        super().__init__()
        self.method = meta["architecture"]
        if self.method not in METHODS:
            raise SystemExit(f"detnets_peers: unknown architecture {self.method!r}")
        self.classes = int(meta["classes"])
        in_ch = int(meta.get("in_channels", "3"))
        widths, convs = ints(meta["widths"]), ints(meta["convs"])
        if len(widths) != 5 or len(convs) != 5:
            raise SystemExit(f"detnets_peers: widths/convs need 5 values, got {widths} / {convs}")
        bn = flag(meta.get("batch_norm", "false"))
        self.fc_width = int(meta["fc_width"])
        self.pool = int(meta.get("pool_size", "7"))
        self.backbone = nn.Module()
        c = in_ch
        for i in range(5):
            layers = []
            for _ in range(convs[i]):
                layers.append(nn.Conv2d(c, widths[i], 3, padding=1))
                if bn:
                    layers.append(nn.BatchNorm2d(widths[i], eps=1e-5))
                layers.append(nn.ReLU())
                c = widths[i]
            if i < 4:
                layers.append(nn.MaxPool2d(2))
            setattr(self.backbone, f"stage{i + 1}", nn.Sequential(*layers))
        self.channels = c
        h = Helpers()
        if self.method == "faster-rcnn":
            sizes, ratios = floats(meta["anchor_sizes"]), floats(meta["anchor_ratios"])
            self.num_anchors = len(sizes) * len(ratios)
            self.rpn = nn.Module()
            self.rpn.conv = nn.Conv2d(c, c, 3, padding=1)
            self.rpn.cls_logits = nn.Conv2d(c, self.num_anchors, 1)
            self.rpn.bbox_pred = nn.Conv2d(c, 4 * self.num_anchors, 1)
            h.anchors = AnchorGenerator(sizes=(tuple(sizes),), aspect_ratios=(tuple(ratios),)).eval()
            pre, post = int(meta["rpn_pre_nms_top_n_test"]), int(meta["rpn_post_nms_top_n_test"])
            h.rpn = RegionProposalNetwork(h.anchors, nn.Identity(), 0.7, 0.3, 256, 0.5,
                                          pre_nms_top_n=dict(training=pre, testing=pre),
                                          post_nms_top_n=dict(training=post, testing=post),
                                          nms_thresh=float(meta["rpn_nms_thresh"]), score_thresh=0.0).eval()
            assert h.rpn.min_size == 1e-3
        k = self.classes if self.method == "rcnn" else self.classes + 1
        self.roi_heads = nn.Module()
        self.roi_heads.fc6 = nn.Linear(c * self.pool * self.pool, self.fc_width)
        self.roi_heads.fc7 = nn.Linear(self.fc_width, self.fc_width)
        self.roi_heads.cls_score = nn.Linear(self.fc_width, k)
        self.roi_heads.bbox_pred = nn.Linear(self.fc_width, 4 * k)
        h.heads = RoIHeads(None, None, None, 0.5, 0.5, 512, 0.25, None,
                           float(meta["box_score_thresh"]), float(meta["box_nms_thresh"]),
                           int(meta["box_detections_per_img"])).eval()
        self.h = h  # a plain object: not a submodule

    # --- pieces -------------------------------------------------------------------------------
    def features(self, x):
        for i in range(5):
            x = getattr(self.backbone, f"stage{i + 1}")(x)
        return x

    def rpn_outputs(self, feats):
        t = F.relu(self.rpn.conv(feats))
        return self.rpn.cls_logits(t), self.rpn.bbox_pred(t)

    def proposals(self, x, feats, objectness, deltas, image_size):
        """torchvision's RegionProposalNetwork.forward (eval) after the head: anchors on the
        padded input (stride = padded size // feature size), flatten, decode, filter with the
        unpadded image size."""
        images = ImageList(x, [image_size])
        anchors = self.h.anchors(images, [feats])
        num_anchors_per_level = [o[0].numel() for o in [objectness]]
        obj, pred = concat_box_prediction_layers([objectness], [deltas])
        boxes = self.h.rpn.box_coder.decode(pred.detach(), anchors).view(1, -1, 4)
        final, scores = self.h.rpn.filter_proposals(boxes, obj, images.image_sizes, num_anchors_per_level)
        return final[0], scores[0]

    def head(self, pooled):
        z = pooled.flatten(1)
        z = F.relu(self.roi_heads.fc6(z))
        z = F.relu(self.roi_heads.fc7(z))
        return self.roi_heads.cls_score(z), self.roi_heads.bbox_pred(z)

    def head_on_boxes(self, feats, boxes):
        pooled = roi_pool(feats, [boxes], output_size=(self.pool, self.pool), spatial_scale=1.0 / STRIDE)
        return self.head(pooled)

    def head_on_crops(self, crops):
        f = self.features(crops)
        if f.shape[-2:] != (self.pool, self.pool):
            raise SystemExit(f"detnets_peers: crops {list(crops.shape)} give a {list(f.shape)} feature map, "
                             f"not {self.pool}x{self.pool}")
        return self.head(f)

    def postprocess(self, class_logits, box_deltas, boxes, image_size):
        """(boxes [D, 4], scores [D], labels [D]) in network-input pixels."""
        if self.method != "rcnn":
            b, s, l = self.h.heads.postprocess_detections(class_logits, box_deltas, [boxes], [image_size])
            return b[0], s[0], l[0]
        hh = self.h.heads
        k = class_logits.shape[-1]
        pred = hh.box_coder.decode(box_deltas, [boxes]).reshape(-1, k, 4)
        scores = torch.sigmoid(class_logits)
        pred = clip_boxes_to_image(pred, image_size)
        labels = torch.arange(1, k + 1).view(1, -1).expand_as(scores)
        pred, scores, labels = pred.reshape(-1, 4), scores.reshape(-1), labels.reshape(-1)
        inds = torch.where(scores > hh.score_thresh)[0]
        pred, scores, labels = pred[inds], scores[inds], labels[inds]
        keep = remove_small_boxes(pred, min_size=1e-2)
        pred, scores, labels = pred[keep], scores[keep], labels[keep]
        keep = batched_nms(pred, scores, labels, hh.nms_thresh)[: hh.detections_per_img]
        return pred[keep], scores[keep], labels[keep]

    # --- whole inference (what is timed) ------------------------------------------------------
    def infer(self, x, image_size, boxes=None, crops=None):
        if self.method == "faster-rcnn":
            feats = self.features(x)
            obj, deltas = self.rpn_outputs(feats)
            boxes, _ = self.proposals(x, feats, obj, deltas, image_size)
            cl, bd = self.head_on_boxes(feats, boxes)
        elif self.method == "fast-rcnn":
            cl, bd = self.head_on_boxes(self.features(x), boxes)
        else:
            cl, bd = self.head_on_crops(crops)
        return self.postprocess(cl, bd, boxes, image_size)


def read_meta(path):
    with safe_open(str(path), "pt") as f:
        return f.metadata() or {}


def load_model(weights):
    meta = read_meta(weights)
    model = DetNet(meta)
    state = {k: v.float() for k, v in load_file(str(weights)).items()}
    model.load_state_dict(state, strict=True)  # num_batches_tracked: copied (cast) into the int64 buffer
    return model.eval(), meta


def max_diff(a, b):
    if a.shape != b.shape:
        return f"shape {list(a.shape)} vs {list(b.shape)}"
    if a.numel() == 0:
        return 0.0
    return float((a.double() - b.double()).abs().max())


def compare_proposals(cvseg, torch_boxes):
    n, m = cvseg.shape[0], torch_boxes.shape[0]
    out = {"cvseg": n, "torch": m, "max_abs_diff": None}
    c = min(n, m)
    if c:
        out["max_abs_diff"] = float((cvseg[:c].double() - torch_boxes[:c].double()).abs().max())
        if n != m:
            out["max_abs_diff_over"] = f"first {c}"
        # order-free: every torch box against its nearest dump box (max |coordinate diff|)
        d = (torch_boxes.double()[:, None, :] - cvseg.double()[None, :, :]).abs().amax(-1)
        out["max_abs_diff_unordered"] = float(d.amin(1).max())
        out["torch_matched_iou_0.99"] = int((box_iou(torch_boxes, cvseg).amax(1) > 0.99).sum())
    elif n != m:
        out["max_abs_diff"] = None
    return out


def match_detections(dump_dets, boxes, labels):
    """One to one, in the dump's order: a dump row matches an unused PyTorch detection with the
    same label and IoU > 0.99 (the best such)."""
    if dump_dets.shape[0] == 0 or boxes.shape[0] == 0:
        return 0
    iou = box_iou(dump_dets[:, :4], boxes)
    same = dump_dets[:, 5].round().long()[:, None] == labels.long()[None, :]
    iou = torch.where(same, iou, torch.zeros_like(iou))
    used = torch.zeros(boxes.shape[0], dtype=torch.bool)
    matched = 0
    for i in range(dump_dets.shape[0]):
        row = iou[i].masked_fill(used, -1.0)
        j = int(row.argmax())
        if row[j] > 0.99:
            used[j] = True
            matched += 1
    return matched


def compare(weights, dump_path, tolerance=1e-4, runs=5, warmup=2, threads=1):
    torch.set_num_threads(threads)
    model, meta = load_model(weights)
    dump = {k: v.float() for k, v in load_file(str(dump_path)).items()}
    dmeta = read_meta(dump_path)
    x = dump.get("input")
    if x is not None:
        hp, wp = x.shape[-2:]
        image_size = (int(dmeta.get("image_height", hp)), int(dmeta.get("image_width", wp)))
    else:
        image_size = (int(dmeta["image_height"]), int(dmeta["image_width"]))
    diffs = {}
    result = {"method": model.method, "max_abs_diff": diffs}
    with torch.inference_mode():
        feats = None
        if x is not None:
            if x.shape[-2] % STRIDE or x.shape[-1] % STRIDE:
                print(f"detnets_peers: input {list(x.shape)} is not padded to multiples of {STRIDE}", file=sys.stderr)
            feats = model.features(x)
            if "features" in dump:
                diffs["features"] = max_diff(dump["features"], feats)
        if model.method == "faster-rcnn" and feats is not None:
            obj, deltas = model.rpn_outputs(feats)
            if "rpn_objectness" in dump:
                diffs["rpn_objectness"] = max_diff(dump["rpn_objectness"], obj)
            if "rpn_deltas" in dump:
                diffs["rpn_deltas"] = max_diff(dump["rpn_deltas"], deltas)
            tboxes, _ = model.proposals(x, feats, obj, deltas, image_size)
            if "proposals" in dump:
                result["proposals"] = compare_proposals(dump["proposals"], tboxes)
            else:
                result["proposals"] = {"cvseg": None, "torch": int(tboxes.shape[0]), "max_abs_diff": None}
        boxes = dump.get("proposals")
        if "proposals" not in result:
            result["proposals"] = {"cvseg": int(boxes.shape[0]) if boxes is not None else None, "torch": None,
                                   "max_abs_diff": None}
        head = None
        if model.method == "rcnn":
            if "crops" in dump:
                head = model.head_on_crops(dump["crops"])
        elif boxes is not None and feats is not None:
            head = model.head_on_boxes(feats, boxes)
        if head is not None:
            cl, bd = head
            if "class_logits" in dump:
                diffs["class_logits"] = max_diff(dump["class_logits"], cl)
            if "box_deltas" in dump:
                diffs["box_deltas"] = max_diff(dump["box_deltas"], bd)
            if boxes is not None and boxes.shape[0] == cl.shape[0]:
                pb, ps, pl = model.postprocess(cl, bd, boxes, image_size)
                result["torch_detections"] = int(pb.shape[0])
                if "detections" in dump:
                    result["detections_matched"] = match_detections(dump["detections"], pb, pl)
        result.setdefault("detections_matched", None)
        result["detections"] = int(dump["detections"].shape[0]) if "detections" in dump else None

        # timing: the whole inference, as cvseg's forward does it
        fn = None
        if model.method == "faster-rcnn" and x is not None:
            fn = lambda: model.infer(x, image_size)
        elif model.method == "fast-rcnn" and x is not None and boxes is not None:
            fn = lambda: model.infer(x, image_size, boxes=boxes)
        elif model.method == "rcnn" and "crops" in dump and boxes is not None:
            fn = lambda: model.infer(None, image_size, boxes=boxes, crops=dump["crops"])
        times = []
        if fn is not None and runs > 0:
            for _ in range(warmup):
                fn()
            for _ in range(runs):
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1000)
    result["torch_ms_median"] = statistics.median(times) if times else None
    result["torch_ms"] = times
    result["threads"] = threads
    result["tolerance"] = tolerance
    checked = [k for k in COMPARED if k in diffs]
    ok = bool(checked) and all(isinstance(diffs[k], float) and diffs[k] <= tolerance for k in checked)
    result["ok"] = ok
    result["versions"] = {"torch": torch.__version__}
    return result


# --- selftest -----------------------------------------------------------------------------------
def initialise(model, gen):
    """He-normal weights, biases U[-0.1, 0.1], batch norm weight U[0.5, 1.5], bias U[-0.2, 0.2],
    running mean U[-0.2, 0.2], running variance U[0.5, 1.5] (as segnets_peers.py)."""
    def uniform(shape, lo, hi):
        return torch.rand(shape, generator=gen) * (hi - lo) + lo

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(2 / fan_in))
                m.bias.copy_(uniform(m.bias.shape, -0.1, 0.1))
            elif isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(uniform(c, 0.5, 1.5))
                m.bias.copy_(uniform(c, -0.2, 0.2))
                m.running_mean.copy_(uniform(c, -0.2, 0.2))
                m.running_var.copy_(uniform(c, 0.5, 1.5))
                m.num_batches_tracked.fill_(7)
    return model.eval()


def selftest_meta(method, classes):
    return {"architecture": method, "classes": str(classes), "in_channels": "3", "widths": "8,8,16,16,16",
            "convs": "1,1,1,1,1", "batch_norm": "true", "fc_width": "32", "pool_size": "7",
            "anchor_sizes": "32,64", "anchor_ratios": "1,2", "rpn_pre_nms_top_n_test": "1000",
            "rpn_post_nms_top_n_test": "1000", "rpn_nms_thresh": "0.7", "box_score_thresh": "0.05",
            "box_nms_thresh": "0.5", "box_detections_per_img": "100", "dropout": "0.5"}


def random_boxes(gen, n, h, w):
    x1 = torch.rand(n, generator=gen) * (w - 8)
    y1 = torch.rand(n, generator=gen) * (h - 8)
    bw = 4 + torch.rand(n, generator=gen) * (w - x1 - 4)
    bh = 4 + torch.rand(n, generator=gen) * (h - y1 - 4)
    return torch.stack([x1, y1, x1 + bw, y1 + bh], 1)


def make_selftest(d, method, classes, seed, f16=False):
    gen = torch.Generator().manual_seed(seed)
    meta = selftest_meta(method, classes)
    model = initialise(DetNet(meta), gen)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if f16:  # stored as F16 (num_batches_tracked stays an integer); the dump comes from the rounded weights
        state = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    weights = d / f"{method}.safetensors"
    save_file(state, str(weights), metadata=meta)
    image_size = (60, 90)
    x = torch.randn(1, 3, 64, 96, generator=gen)
    dump = {"input": x}
    with torch.inference_mode():
        feats = model.features(x)
        dump["features"] = feats
        if method == "faster-rcnn":
            obj, deltas = model.rpn_outputs(feats)
            dump["rpn_objectness"], dump["rpn_deltas"] = obj, deltas
            boxes, _ = model.proposals(x, feats, obj, deltas, image_size)
        else:
            boxes = random_boxes(gen, 12, *image_size)
        dump["proposals"] = boxes
        if method == "rcnn":
            s = STRIDE * model.pool
            dump["crops"] = torch.randn(boxes.shape[0], 3, s, s, generator=gen)
            cl, bd = model.head_on_crops(dump["crops"])
        else:
            cl, bd = model.head_on_boxes(feats, boxes)
        dump["class_logits"], dump["box_deltas"] = cl, bd
        pb, ps, pl = model.postprocess(cl, bd, boxes, image_size)
        dump["detections"] = torch.cat([pb, ps[:, None], pl[:, None].float()], 1)
    path = d / f"{method}_dump.safetensors"
    save_file({k: v.float().contiguous() for k, v in dump.items()}, str(path),
              metadata={"image_height": str(image_size[0]), "image_width": str(image_size[1])})
    return weights, path


def rpn_cross_check(d):
    """The hand-wired RPN path (DetNet.rpn_outputs + DetNet.proposals) against torchvision's own
    RegionProposalNetwork.forward with an RPNHead holding the same weights; returns max |diff|
    of the boxes (or a string on a count mismatch)."""
    weights, dump = d / "faster-rcnn.safetensors", d / "faster-rcnn_dump.safetensors"
    model, meta = load_model(weights)
    x = load_file(str(dump))["input"]
    head = RPNHead(model.channels, model.num_anchors)
    head.load_state_dict({"conv.0.0.weight": model.rpn.conv.weight, "conv.0.0.bias": model.rpn.conv.bias,
                          "cls_logits.weight": model.rpn.cls_logits.weight, "cls_logits.bias": model.rpn.cls_logits.bias,
                          "bbox_pred.weight": model.rpn.bbox_pred.weight, "bbox_pred.bias": model.rpn.bbox_pred.bias})
    r = model.h.rpn
    rpn = RegionProposalNetwork(model.h.anchors, head, 0.7, 0.3, 256, 0.5, r._pre_nms_top_n, r._post_nms_top_n,
                                r.nms_thresh, 0.0).eval()
    with torch.inference_mode():
        feats = model.features(x)
        ref, _ = rpn(ImageList(x, [(60, 90)]), {"0": feats})
        ours, _ = model.proposals(x, feats, *model.rpn_outputs(feats), (60, 90))
    return max_diff(ref[0], ours), int(ours.shape[0])


def selftest(a):
    torch.set_num_threads(1)
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(a.keep) if a.keep else Path(tmp)
        d.mkdir(parents=True, exist_ok=True)
        for i, (method, classes, f16) in enumerate([("faster-rcnn", 1, False), ("fast-rcnn", 2, True), ("rcnn", 3, False)]):
            weights, dump = make_selftest(d, method, classes, 100 + i, f16=f16)
            r = compare(weights, dump, tolerance=0.0, runs=2, warmup=1, threads=1)
            print(json.dumps(r))
            problems = []
            if not r["ok"]:
                problems.append("not ok")
            want = {"faster-rcnn": COMPARED, "fast-rcnn": ["features", "class_logits", "box_deltas"],
                    "rcnn": ["features", "class_logits", "box_deltas"]}[method]
            for k in want:
                if r["max_abs_diff"].get(k) != 0.0:
                    problems.append(f"{k} diff {r['max_abs_diff'].get(k)}")
            p = r.get("proposals")
            if method == "faster-rcnn" and (p is None or p["cvseg"] != p["torch"] or p["max_abs_diff"] != 0.0 or p["cvseg"] == 0):
                problems.append(f"proposals {p}")
            if r["detections"] is None or r["detections_matched"] != r["detections"] or r["detections"] == 0:
                problems.append(f"detections {r['detections_matched']} of {r['detections']}")
            if r["torch_ms_median"] is None:
                problems.append("not timed")
            if problems:
                failures += 1
                print(f"detnets_peers selftest {method}: FAIL: {'; '.join(problems)}", file=sys.stderr)
            else:
                print(f"detnets_peers selftest {method}: ok", file=sys.stderr)
            if method == "faster-rcnn":
                diff, n = rpn_cross_check(d)
                good = diff == 0.0
                failures += 0 if good else 1
                print(f"detnets_peers selftest: RPN path vs torchvision RegionProposalNetwork.forward: {n} boxes, "
                      f"max |diff| {diff}: {'ok' if good else 'FAIL'}", file=sys.stderr)
    print(f"detnets_peers selftest: {'all pass' if failures == 0 else f'{failures} FAIL'}", file=sys.stderr)
    return 0 if failures == 0 else 1


def main():
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--weights", required=True)
    c.add_argument("--dump", required=True)
    c.add_argument("--tolerance", type=float, default=1e-4)
    c.add_argument("--runs", type=int, default=5)
    c.add_argument("--warmup", type=int, default=2)
    c.add_argument("--threads", type=int, default=1)
    s = sub.add_parser("selftest")
    s.add_argument("--keep", help="write the self-test files here instead of a temporary directory")
    a = ap.parse_args()
    if a.cmd == "compare":
        r = compare(a.weights, a.dump, a.tolerance, a.runs, a.warmup, a.threads)
        print(json.dumps(r))
        sys.exit(0 if r["ok"] else 1)
    sys.exit(selftest(a))


if __name__ == "__main__":
    main()
