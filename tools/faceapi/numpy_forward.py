#!/usr/bin/env python3
"""Independent NumPy forward pass of FaceLandmark68Net / FaceExpressionNet.

Written from tools/faceapi/ARCHITECTURE.md using only the converted safetensors
(NCHW / candle layouts), to check the document, the layout conversion and the
padding rules against tests/fixtures/faceapi/expected.json (made by face-api itself).
It is a second reference, not a replacement for the TF.js one.

Usage: python3 tools/faceapi/numpy_forward.py [--symmetric-pad]
  --symmetric-pad  use PyTorch-style padding=1 on the stride-2 convs, to show the
                   error that the TF 'same' asymmetry avoids.
Requires: numpy, safetensors, pillow.
"""
import argparse
import json
import os

import numpy as np
from PIL import Image
from safetensors.numpy import load_file

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MEAN_RGB = np.array([122.782, 117.001, 104.298], dtype=np.float32)


def tf_same_pads(n, k, s):
    """TF 'same': out = ceil(n/s); total = max((out-1)*s + k - n, 0); before = total//2."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def conv2d(x, w, stride, groups=1, symmetric=False):
    """x [C,H,W], w [O, C/groups, kh, kw]; TF 'same' padding (or symmetric k//2)."""
    c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    if symmetric:
        pt = pb = kh // 2
        pl = pr = kw // 2
    else:
        pt, pb = tf_same_pads(h, kh, stride)
        pl, pr = tf_same_pads(wd, kw, stride)
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr)))
    oh = (h + pt + pb - kh) // stride + 1
    ow = (wd + pl + pr - kw) // stride + 1
    # im2col per group
    cols = np.empty((c, kh, kw, oh, ow), dtype=np.float32)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = xp[:, i:i + stride * oh:stride, j:j + stride * ow:stride]
    if groups == 1:
        return np.einsum("ocij,cijhw->ohw", w, cols, optimize=True)
    assert groups == c and cg == 1 and o == c  # depthwise, multiplier 1
    return np.einsum("cij,cijhw->chw", w[:, 0], cols, optimize=True)


def sep_conv(x, p, name, stride, sym):
    y = conv2d(x, p[f"{name}.depthwise_filter"], stride, groups=x.shape[0], symmetric=sym)
    y = np.einsum("oc,chw->ohw", p[f"{name}.pointwise_filter"][:, :, 0, 0], y)
    return y + p[f"{name}.bias"][:, None, None]


def relu(x):
    return np.maximum(x, 0)


def dense_block(x, p, pre, first, sym):
    if first:
        out1 = conv2d(x, p[f"{pre}.conv0.filters"], 2, symmetric=sym) + p[f"{pre}.conv0.bias"][:, None, None]
    else:
        out1 = sep_conv(x, p, f"{pre}.conv0", 2, sym)
    out1 = relu(out1)
    out2 = sep_conv(out1, p, f"{pre}.conv1", 1, sym)
    in3 = relu(out1 + out2)
    out3 = sep_conv(in3, p, f"{pre}.conv2", 1, sym)
    in4 = relu(out1 + (out2 + out3))
    out4 = sep_conv(in4, p, f"{pre}.conv3", 1, sym)
    return relu(out1 + (out2 + (out3 + out4)))


def forward(rgb_u8, p, sym=False):
    x = (rgb_u8.astype(np.float32) - MEAN_RGB) / np.float32(255.0)  # HWC
    x = x.transpose(2, 0, 1)  # CHW
    x = dense_block(x, p, "dense0", True, sym)   # 32x56x56
    x = dense_block(x, p, "dense1", False, sym)  # 64x28x28
    x = dense_block(x, p, "dense2", False, sym)  # 128x14x14
    x = dense_block(x, p, "dense3", False, sym)  # 256x7x7
    feat = x.mean(axis=(1, 2))                   # avgPool 7x7 stride 2 valid -> 256x1x1
    out = p["fc.weights"] @ feat + p["fc.bias"]
    return feat, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--symmetric-pad", action="store_true")
    a = ap.parse_args()
    lm = load_file(os.path.join(ROOT, "models", "face_landmark_68.safetensors"))
    ex = load_file(os.path.join(ROOT, "models", "face_expression.safetensors"))
    fx = os.path.join(ROOT, "tests", "fixtures", "faceapi")
    exp = json.load(open(os.path.join(fx, "expected.json")))
    worst = {"landmarks": 0.0, "logits": 0.0, "probs": 0.0}
    for c in exp["crops"]:
        rgb = np.asarray(Image.open(os.path.join(fx, c["file"])).convert("RGB"))
        _, lmo = forward(rgb, lm, a.symmetric_pad)
        _, logits = forward(rgb, ex, a.symmetric_pad)
        e = np.exp(logits - logits.max())
        probs = e / e.sum()
        d_lm = np.abs(lmo - np.array(c["landmarks_raw"])).max()
        d_lg = np.abs(logits - np.array(c["expression_logits"])).max()
        d_pr = np.abs(probs - np.array(c["expression_probs"])).max()
        worst["landmarks"] = max(worst["landmarks"], d_lm)
        worst["logits"] = max(worst["logits"], d_lg)
        worst["probs"] = max(worst["probs"], d_pr)
        print(f"{c['file']:24s} max|dlandmark|={d_lm:.2e} ({d_lm * 112:.3f} px)  max|dlogit|={d_lg:.2e}  max|dprob|={d_pr:.2e}  top={exp['crops'][0]['expression_labels'][int(np.argmax(probs))]}")
    print("worst:", {k: f"{v:.2e}" for k, v in worst.items()})


if __name__ == "__main__":
    main()
