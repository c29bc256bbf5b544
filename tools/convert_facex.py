#!/usr/bin/env python3
"""Convert facex's MobileNetV2 emotion TFLite model to safetensors in candle layout.

    python3 tools/convert_facex.py \
        [--tflite /work/shared/assets/models/facex_emotion_mobilenetv2.tflite] \
        [--out models/facex_emotion_mobilenetv2.safetensors]

Needs: numpy, tflite (the flatbuffer schema package). tools/make_facex_golden.py (which
also needs ai-edge-litert) checks the result against the reference interpreter.

The TFLite graph (facex 1.1.0, facex/assets/model_optimized.tflite) is Keras MobileNetV2
(alpha 1.0) on a 1x200x200x3 NHWC float input, a 6x6x1280 feature map flattened into one
dense layer of 7 units, then softmax. BatchNorm is already folded into every convolution's
bias. Three kernels are stored as float32 (Conv1, expanded_conv_depthwise,
expanded_conv_project); the others are stored as 8-bit with one scale each:

  * 1x1 convolutions and the dense layer ("hybrid" ops: 8-bit weights, float input).
    The tensors are typed uint8 with zero point 0, but TFLite's hybrid kernels read the
    bytes as signed int8 (symmetric quantisation), so w = int8(byte) * scale.
  * depthwise kernels, behind a DEQUANTIZE op: asymmetric uint8,
    w = (byte - zero_point) * scale.

Hybrid ops also quantise their *input* on the fly: per image, scale s = max|x| / 127,
x -> round(x / s) (half away from zero) clamped to [-127, 127], then multiply-accumulate in
integers and rescale (`hybrid_round` below reproduces it; the metadata's `hybrid` lists
those layers). facs runs the float network those weights stand for, without that rounding
(see tools/make_facex_golden.py for how far apart the two are).

Tensor naming (float32, candle/PyTorch layout):
  <layer>.weight  conv [out, in, kh, kw] (TFLite OHWI); depthwise [C, 1, 3, 3] (TFLite 1HWC)
  <layer>.bias    [out]
  predictis.weight [7, 1280*6*6] with the inputs in NCHW flatten order (c*36 + y*6 + x);
                   TFLite stores them in NHWC order (y*6*1280 + x*1280 + c)
  predictis.bias   [7]

The output is deterministic (header JSON with sorted keys, tensors in name order). The
script prints, per 8-bit tensor, its scale and zero point (copied into the model card),
and the sha256 of the output.
"""

import argparse
import hashlib
import json
import os
import sys

import numpy as np

DEFAULT_TFLITE = "/work/shared/assets/models/facex_emotion_mobilenetv2.tflite"
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models",
                           "facex_emotion_mobilenetv2.safetensors")
LABELS = ["anger", "disgust", "fear", "happy", "neutral", "sadness", "surprised"]


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def layer_name(tensor_name):
    """'block_3_expand/kernel' -> 'block_3_expand'; 'predictis/kernel/transpose' -> 'predictis'."""
    return tensor_name.split("/")[0]


def parse(path):
    """The graph as a list of ops: dict(op, inputs, outputs, options) with tensors resolved."""
    import tflite
    from tflite.BuiltinOperator import BuiltinOperator
    from tflite.TensorType import TensorType
    names = {v: k for k, v in BuiltinOperator.__dict__.items() if not k.startswith("_")}
    with open(path, "rb") as f:
        buf = f.read()
    model = tflite.Model.GetRootAsModel(buf, 0)
    assert model.SubgraphsLength() == 1
    g = model.Subgraphs(0)
    np_type = {TensorType.FLOAT32: np.float32, TensorType.UINT8: np.uint8,
               TensorType.INT8: np.int8, TensorType.INT32: np.int32}

    def tensor(i):
        t = g.Tensors(i)
        q = t.Quantization()
        scales = q.ScaleAsNumpy() if q is not None and q.ScaleLength() else None
        zps = q.ZeroPointAsNumpy() if q is not None and q.ZeroPointLength() else None
        b = model.Buffers(t.Buffer())
        data = None
        if b is not None and b.DataLength():
            data = np.frombuffer(b.DataAsNumpy().tobytes(), dtype=np_type[t.Type()]).reshape(
                t.ShapeAsNumpy())
        return {"index": i, "name": t.Name().decode(), "shape": tuple(t.ShapeAsNumpy()),
                "type": np_type[t.Type()], "data": data,
                "scale": None if scales is None else [float(s) for s in scales],
                "zero_point": None if zps is None else [int(z) for z in zps]}

    ops = []
    for k in range(g.OperatorsLength()):
        op = g.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex())
        opname = names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        opt = {}
        o = op.BuiltinOptions()
        if opname in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            cls = tflite.Conv2DOptions if opname == "CONV_2D" else tflite.DepthwiseConv2DOptions
            x = cls()
            x.Init(o.Bytes, o.Pos)
            opt = {"stride": (x.StrideH(), x.StrideW()), "padding": x.Padding(),
                   "act": x.FusedActivationFunction(),
                   "dilation": (x.DilationHFactor(), x.DilationWFactor())}
            if opname == "DEPTHWISE_CONV_2D":
                opt["depth_multiplier"] = x.DepthMultiplier()
        elif opname == "FULLY_CONNECTED":
            x = tflite.FullyConnectedOptions()
            x.Init(o.Bytes, o.Pos)
            opt = {"act": x.FusedActivationFunction(),
                   "asymmetric_quantize_inputs": bool(x.AsymmetricQuantizeInputs())}
        elif opname == "ADD":
            x = tflite.AddOptions()
            x.Init(o.Bytes, o.Pos)
            opt = {"act": x.FusedActivationFunction()}
        ops.append({"op": opname,
                    "inputs": [tensor(i) for i in op.InputsAsNumpy() if i >= 0],
                    "outputs": [tensor(i) for i in op.OutputsAsNumpy()],
                    "options": opt})
    inputs = [tensor(i) for i in g.InputsAsNumpy()]
    outputs = [tensor(i) for i in g.OutputsAsNumpy()]
    return ops, inputs, outputs


def weight_value(t, producers):
    """Float value of a constant weight tensor, and its quantisation record (or None)."""
    if t["data"] is None:  # produced by a DEQUANTIZE op
        src = producers[t["index"]]
        assert src["op"] == "DEQUANTIZE"
        q = src["inputs"][0]
        assert q["type"] == np.uint8 and len(q["scale"]) == 1
        w = (q["data"].astype(np.float64) - q["zero_point"][0]) * q["scale"][0]
        return w, {"tensor": q["name"], "stored": "uint8", "scale": q["scale"][0],
                   "zero_point": q["zero_point"][0], "rule": "(byte - zero_point) * scale"}
    if t["type"] == np.float32:
        return t["data"].astype(np.float64), None
    assert t["type"] == np.uint8 and len(t["scale"]) == 1 and t["zero_point"] == [0], t["name"]
    w = t["data"].view(np.int8).astype(np.float64) * t["scale"][0]
    return w, {"tensor": t["name"], "stored": "uint8 read as int8", "scale": t["scale"][0],
               "zero_point": 0, "rule": "int8(byte) * scale"}


def build(path):
    """The layer list facs runs, float64 weights in candle layout, and the quant records."""
    ops, inputs, outputs = parse(path)
    producers = {o["outputs"][0]["index"]: o for o in ops}
    tensors, quant, layers = {}, [], []
    pending_pad = None
    for op in ops:
        kind = op["op"]
        if kind in ("DEQUANTIZE", "SOFTMAX"):
            continue
        if kind == "PAD":
            pending_pad = op["inputs"][1]["data"].tolist()  # [[0,0],[top,bottom],[left,right],[0,0]]
            continue
        if kind == "ADD":
            layers.append({"kind": "add"})
            continue
        x, w_t, b_t = op["inputs"]
        w, q = weight_value(w_t, producers)
        name = layer_name(w_t["name"])
        b = b_t["data"].astype(np.float64)
        o = op["options"]
        if q is not None:
            q["layer"] = name
            quant.append(q)
        hybrid = w_t["data"] is not None and w_t["type"] == np.uint8
        if kind == "FULLY_CONNECTED":
            n_out, n_in = w.shape
            h, wd, c = x["shape"][1:]
            w = w.reshape(n_out, h, wd, c).transpose(0, 3, 1, 2).reshape(n_out, n_in)
            assert o["act"] == 0 and not o["asymmetric_quantize_inputs"]
            layers.append({"kind": "dense", "name": name, "hybrid": hybrid})
        else:
            assert o["dilation"] == (1, 1)
            if kind == "DEPTHWISE_CONV_2D":
                assert o["depth_multiplier"] == 1
                w = w.transpose(3, 0, 1, 2)  # [1,kh,kw,C] -> [C,1,kh,kw]
            else:
                w = w.transpose(0, 3, 1, 2)  # OHWI -> OIHW
            kh = w.shape[2]
            sh, sw = o["stride"]
            assert sh == sw
            if pending_pad is not None:
                assert o["padding"] == 1  # VALID after an explicit PAD
                (_, _), (pt, pb), (pl, pr), (_, _) = pending_pad
                pad = (pt, pb, pl, pr)
            elif o["padding"] == 1 or kh == 1:  # VALID, or a 1x1 kernel
                pad = (0, 0, 0, 0)
            else:
                assert o["padding"] == 0 and sh == 1  # SAME, stride 1
                p = (kh - 1) // 2
                pad = (p, kh - 1 - p, p, kh - 1 - p)
            act = {0: "none", 3: "relu6"}[o["act"]]
            layers.append({"kind": "depthwise" if kind == "DEPTHWISE_CONV_2D" else "conv",
                           "name": name, "stride": sh, "pad": pad, "act": act,
                           "hybrid": hybrid, "k": kh})
        pending_pad = None
        tensors[name + ".weight"] = w
        tensors[name + ".bias"] = b
    return tensors, quant, layers


def hybrid_round(x):
    """TFLite's per-image symmetric input quantisation for hybrid ops, as floats."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        r = np.abs(x[i]).max()
        if r == 0:
            out[i] = 0
            continue
        s = r / 127.0
        q = np.clip(np.sign(x[i]) * np.floor(np.abs(x[i]) / s + 0.5), -127, 127)
        out[i] = q * s
    return out


def forward(tensors, layers, x, emulate_hybrid=True):
    """NCHW float64 forward pass of the converted weights; x: (n, 3, 200, 200). Logits."""
    block_in = None  # a block's input: the residual added to its projection
    for L in layers:
        if L["kind"] == "add":
            x = x + block_in
            continue
        if L["name"].endswith("_expand"):
            block_in = x
        w = tensors[L["name"] + ".weight"]
        b = tensors[L["name"] + ".bias"]
        if L["hybrid"] and emulate_hybrid:
            x = hybrid_round(x)
        if L["kind"] == "dense":
            x = x.reshape(x.shape[0], -1) @ w.T + b
            continue
        pt, pb, pl, pr = L["pad"]
        xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
        s, k = L["stride"], L["k"]
        n, c, h, wd = xp.shape
        oh, ow = (h - k) // s + 1, (wd - k) // s + 1
        if L["kind"] == "depthwise":
            y = np.zeros((n, c, oh, ow))
            for dy in range(k):
                for dx in range(k):
                    y += xp[:, :, dy:dy + s * oh:s, dx:dx + s * ow:s] * w[None, :, 0, dy, dx, None, None]
        else:
            y = np.zeros((n, w.shape[0], oh, ow))
            for dy in range(k):
                for dx in range(k):
                    patch = xp[:, :, dy:dy + s * oh:s, dx:dx + s * ow:s]
                    y += np.einsum("nchw,oc->nohw", patch, w[:, :, dy, dx])
        y += b[None, :, None, None]
        if L["act"] == "relu6":
            y = np.clip(y, 0, 6)
        x = y
    return x


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def reference(path, x_nhwc):
    """The ai-edge-litert interpreter on one NHWC float32 image; softmax probabilities and
    the dense layer's output (pre-softmax logits)."""
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=path, experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x_nhwc.astype(np.float32))
    it.invoke()
    probs = it.get_tensor(it.get_output_details()[0]["index"])[0].astype(np.float64)
    logit_idx = [t["index"] for t in it.get_tensor_details() if t["name"] == "predictis/BiasAdd"]
    logits = it.get_tensor(logit_idx[0])[0].astype(np.float64)
    return logits, probs


def serialize(tensors, meta):
    header = {"__metadata__": dict(sorted(meta.items()))}
    blobs, off = [], 0
    for name in sorted(tensors):
        t = np.ascontiguousarray(tensors[name], dtype="<f4")
        b = t.tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    hj += b" " * ((-len(hj)) % 8)
    return len(hj).to_bytes(8, "little") + hj + b"".join(blobs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tflite", default=DEFAULT_TFLITE)
    ap.add_argument("--out", default=DEFAULT_OUT)
    a = ap.parse_args(argv)
    tensors, quant, layers = build(a.tflite)
    for q in quant:
        print("%-28s %-18s scale %.9g zero_point %d" % (q["layer"], q["stored"], q["scale"], q["zero_point"]))
    n = sum(t.size for t in tensors.values())
    hybrid = [L["name"] for L in layers if L.get("hybrid")]
    meta = {
        "format": "pt",
        "model": "facex MobileNetV2 (alpha 1.0) 7-emotion classifier, 200x200",
        "source_package": "facex",
        "source_package_version": "1.1.0",
        "source_registry": "PyPI",
        "source_path": "facex/assets/model_optimized.tflite",
        "source_sha256": sha256_file(a.tflite),
        "license": "MIT, see models/facex_emotion_mobilenetv2.LICENSE",
        "training_data": "not stated by its authors",
        "labels": json.dumps(LABELS),
        "num_params": str(n),
        "input": "1x3x200x200 (NCHW) float32: grey face crop repeated to 3 channels, pixel/255",
        "output": "7 logits in the order of 'labels' (softmax gives the probabilities)",
        "layout": "conv [out, in, kh, kw]; depthwise [C, 1, 3, 3] (groups = C); "
                  "predictis.weight [7, 46080] in NCHW flatten order",
        "hybrid": json.dumps(hybrid),
        "quantization": json.dumps([{k: q[k] for k in ("layer", "stored", "scale", "zero_point")}
                                    for q in quant]),
        "converter": "tools/convert_facex.py",
    }
    data = serialize(tensors, meta)
    out = os.path.normpath(a.out)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, out)
    print("wrote %s: %d tensors, %d params, %d bytes, %d hybrid layers"
          % (out, len(tensors), n, len(data), len(hybrid)))
    print("sha256 %s" % hashlib.sha256(data).hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main())
