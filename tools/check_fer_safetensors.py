#!/usr/bin/env python3
"""Check models/fer_minixception.safetensors against the golden fixtures.

    python3 tools/check_fer_safetensors.py [--model models/fer_minixception.safetensors]
        [--golden tests/fixtures/fer_golden] [--dtype float32|float64]

Independent of tools/fer_reference.py: this runs the network the way a candle
port does -- NCHW tensors, PyTorch-layout weights read from the safetensors
file, and EXPLICIT per-layer (top, bottom, left, right) paddings for a 64x64
input (the table PADS below), not the TF 'same' rule -- and compares logits
and probabilities with expected.json. Needs numpy + safetensors (+ pillow).
"""

import argparse
import json
import os
import sys

import numpy as np
from PIL import Image
from safetensors.numpy import load_file

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# Explicit paddings (top, bottom, left, right) for a 1x1x64x64 input.
PADS = {
    "conv2d_1": (0, 0, 0, 0),            # 3x3 s1 valid  64 -> 62
    "conv2d_2": (0, 0, 0, 0),            # 3x3 s1 valid  62 -> 60
    "separable": (1, 1, 1, 1),           # every depthwise 3x3 s1 same
    "conv2d_3": (0, 0, 0, 0),            # 1x1 s2 same   60 -> 30
    "max_pooling2d_1": (0, 1, 0, 1),     # 3x3 s2 same   60 -> 30
    "conv2d_4": (0, 0, 0, 0),            # 1x1 s2 same   30 -> 15
    "max_pooling2d_2": (0, 1, 0, 1),     # 3x3 s2 same   30 -> 15
    "conv2d_5": (0, 0, 0, 0),            # 1x1 s2 same   15 -> 8
    "max_pooling2d_3": (1, 1, 1, 1),     # 3x3 s2 same   15 -> 8
    "conv2d_6": (0, 0, 0, 0),            # 1x1 s2 same    8 -> 4
    "max_pooling2d_4": (0, 1, 0, 1),     # 3x3 s2 same    8 -> 4
    "conv2d_7": (1, 1, 1, 1),            # 3x3 s1 same    4 -> 4
}
EPS = 1e-3


def pad(x, p, value):
    t, b, l, r = p
    return np.pad(x, ((0, 0), (t, b), (l, r)), constant_values=value)


def conv(x, w, stride=1, p=(0, 0, 0, 0), groups=1, bias=None):
    """x: (C, H, W); w: (O, C/groups, kh, kw). PyTorch/candle conv2d semantics."""
    x = pad(x, p, 0.0)
    C, H, W = x.shape
    O, cg, kh, kw = w.shape
    oh, ow = (H - kh) // stride + 1, (W - kw) // stride + 1
    og = O // groups
    y = np.zeros((O, oh, ow), dtype=x.dtype)
    for gi in range(groups):
        xs = x[gi * cg:(gi + 1) * cg]
        ws = w[gi * og:(gi + 1) * og]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]
                y[gi * og:(gi + 1) * og] += np.einsum("oc,chw->ohw", ws[:, :, i, j], patch)
    if bias is not None:
        y = y + bias[:, None, None]
    return y


def maxpool(x, p):
    x = pad(x, p, -np.inf)
    C, H, W = x.shape
    oh, ow = (H - 3) // 2 + 1, (W - 3) // 2 + 1
    y = np.full((C, oh, ow), -np.inf, dtype=x.dtype)
    for i in range(3):
        for j in range(3):
            y = np.maximum(y, x[:, i:i + 2 * (oh - 1) + 1:2, j:j + 2 * (ow - 1) + 1:2])
    return y


def forward(T, x):
    def bn(name, x):
        s = T[name + ".weight"] / np.sqrt(T[name + ".running_var"] + EPS)
        return x * s[:, None, None] + (T[name + ".bias"] - T[name + ".running_mean"] * s)[:, None, None]

    def sep(name, x):
        dw = T[name + ".depthwise.weight"]
        x = conv(x, dw, 1, PADS["separable"], groups=dw.shape[0])
        return conv(x, T[name + ".pointwise.weight"])

    relu = lambda v: np.maximum(v, 0)
    x = relu(bn("batch_normalization_1", conv(x, T["conv2d_1.weight"], 1, PADS["conv2d_1"])))
    x = relu(bn("batch_normalization_2", conv(x, T["conv2d_2.weight"], 1, PADS["conv2d_2"])))
    blocks = [  # (sepA, bnA, sepB, bnB, pool, shortcut conv, shortcut bn)
        ("separable_conv2d_1", "batch_normalization_4", "separable_conv2d_2", "batch_normalization_5",
         "max_pooling2d_1", "conv2d_3", "batch_normalization_3"),
        ("separable_conv2d_3", "batch_normalization_7", "separable_conv2d_4", "batch_normalization_8",
         "max_pooling2d_2", "conv2d_4", "batch_normalization_6"),
        ("separable_conv2d_5", "batch_normalization_10", "separable_conv2d_6", "batch_normalization_11",
         "max_pooling2d_3", "conv2d_5", "batch_normalization_9"),
        ("separable_conv2d_7", "batch_normalization_13", "separable_conv2d_8", "batch_normalization_14",
         "max_pooling2d_4", "conv2d_6", "batch_normalization_12"),
    ]
    for sa, ba, sb, bb, mp, sc, sbn in blocks:
        r = bn(sbn, conv(x, T[sc + ".weight"], 2, PADS[sc]))
        y = relu(bn(ba, sep(sa, x)))
        y = bn(bb, sep(sb, y))
        x = maxpool(y, PADS[mp]) + r
    x = conv(x, T["conv2d_7.weight"], 1, PADS["conv2d_7"], bias=T["conv2d_7.bias"])
    logits = x.mean(axis=(1, 2))
    e = np.exp(logits - logits.max())
    return logits, e / e.sum()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "fer_minixception.safetensors"))
    ap.add_argument("--golden", default=os.path.join(ROOT, "tests", "fixtures", "fer_golden"))
    ap.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    a = ap.parse_args(argv)
    dt = np.dtype(a.dtype)
    T = {k: v.astype(dt) for k, v in load_file(a.model).items()}
    exp = json.load(open(os.path.join(a.golden, "expected.json")))
    worst_p = worst_l = 0.0
    ok = True
    for c in exp["cases"]:
        px = np.asarray(Image.open(os.path.join(a.golden, c["file"])), dtype=np.uint8)
        x = (px.astype(dt) / dt.type(127.5) - dt.type(1.0))[None]
        logits, probs = forward(T, x)
        dl = float(np.abs(logits - np.array(c["logits"])).max())
        dp = float(np.abs(probs - np.array(c["probs"])).max())
        top_ok = exp["labels"][int(np.argmax(probs))] == c["top"]
        ok &= top_ok
        worst_l, worst_p = max(worst_l, dl), max(worst_p, dp)
        print("%-30s max|dlogit|=%.3e max|dprob|=%.3e top %s" % (c["file"], dl, dp, "ok" if top_ok else "DIFFERS"))
    tol = 1e-9 if dt == np.float64 else 1e-4
    ok &= worst_p < tol and worst_l < tol
    print("%s (%s): worst |dlogit| %.3e, worst |dprob| %.3e, tolerance %.0e" % (
        "PASS" if ok else "FAIL", a.dtype, worst_l, worst_p, tol))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
