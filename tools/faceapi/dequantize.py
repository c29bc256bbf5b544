#!/usr/bin/env python3
"""Dequantise face-api (TF.js) weights and write candle/PyTorch-layout safetensors.

Source: npm @vladmandic/face-api@1.7.15, model/<name>-weights_manifest.json + .bin
(MIT, see models/face-api.LICENSE).  See tools/faceapi/ARCHITECTURE.md for the net.

Dequantisation is the one TF.js uses (tfjs-core io_utils.decodeWeight):
    value_f32 = float32(q * scale + min)      (q: uint8, arithmetic in float64)
Weights without a "quantization" field are raw little-endian float32.
The result is bit-identical to what tf.io.loadWeights produces.

Layout conversion (names keep the TF.js name with '/' -> '.'):
  *.filters           TF conv2d  [kh, kw, in, out]   -> [out, in, kh, kw]
  *.depthwise_filter  TF depthwise [kh, kw, in, mult] -> [in*mult, 1, kh, kw]
                      (output channel index c*mult + m, as TF; here mult = 1)
  *.pointwise_filter  TF conv2d  [1, 1, in, out]     -> [out, in, 1, 1]
  fc.weights          TF matMul  [in, out]           -> [out, in]   (candle Linear: y = x W^T + b)
  *.bias              [n]                            -> [n]

Usage:
  python3 tools/faceapi/dequantize.py [--src /work/shared/assets/models] [--out models]
Requires: numpy, safetensors (pip install numpy safetensors).
"""
import argparse
import hashlib
import json
import os

import numpy as np
from safetensors.numpy import load_file

SRC = "/work/shared/assets/models"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models")
PACKAGE = "@vladmandic/face-api"
VERSION = "1.7.15"

MODELS = [
    # (manifest base name, output file)
    ("face_landmark_68_model", "face_landmark_68.safetensors"),
    ("face_expression_model", "face_expression.safetensors"),
]

DTYPE_BYTES = {"uint8": 1, "uint16": 2, "float16": 2, "float32": 4, "int32": 4}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_tfjs(src_dir, base):
    manifest_path = os.path.join(src_dir, base + "-weights_manifest.json")
    with open(manifest_path) as f:
        manifest = json.load(f)
    out = {}  # name -> (np.float32 array in TF layout)
    files = [manifest_path]
    for group in manifest:
        buf = b""
        for p in group["paths"]:
            fp = os.path.join(src_dir, p)
            files.append(fp)
            with open(fp, "rb") as f:
                buf += f.read()
        off = 0
        for w in group["weights"]:
            name, shape, dtype = w["name"], w["shape"], w["dtype"]
            assert dtype == "float32", (name, dtype)
            n = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            if q is not None:
                qd = q["dtype"]
                nbytes = n * DTYPE_BYTES[qd]
                raw = buf[off:off + nbytes]
                if qd in ("uint8", "uint16"):
                    qa = np.frombuffer(raw, dtype="<u1" if qd == "uint8" else "<u2")
                    vals = (qa.astype(np.float64) * float(q["scale"]) + float(q["min"])).astype(np.float32)
                elif qd == "float16":
                    vals = np.frombuffer(raw, dtype="<f2").astype(np.float32)
                else:
                    raise ValueError(f"{name}: unsupported quantization {qd}")
            else:
                nbytes = n * 4
                vals = np.frombuffer(buf[off:off + nbytes], dtype="<f4").astype(np.float32)
            off += nbytes
            out[name] = vals.reshape(shape)
        assert off == len(buf), f"{base}: consumed {off} of {len(buf)} bytes"
    return out, files


def save_safetensors_deterministic(tensors, path, metadata):
    """Write a safetensors file byte-for-byte reproducibly.

    safetensors.numpy.save_file serialises __metadata__ from a hash map, so its key
    order (and the file hash) changes from run to run.  Here the header is JSON with
    "__metadata__" first and tensors in sorted-name order, data laid out in the same
    order, header padded with spaces to a multiple of 8 bytes (as the reference
    writer does).  The file is then read back with the safetensors library.
    """
    header = {"__metadata__": {k: metadata[k] for k in sorted(metadata)}}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        t = tensors[name]
        b = np.ascontiguousarray(t, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(hb).to_bytes(8, "little"))
        f.write(hb)
        for b in blobs:
            f.write(b)
    back = load_file(path)
    assert sorted(back) == sorted(tensors)
    for k in tensors:
        assert back[k].dtype == np.float32 and np.array_equal(back[k], tensors[k]), k


def to_candle(name, a):
    leaf = name.rsplit("/", 1)[-1]
    if leaf == "filters":  # [kh, kw, in, out] -> [out, in, kh, kw]
        assert a.ndim == 4
        return a.transpose(3, 2, 0, 1)
    if leaf == "depthwise_filter":  # [kh, kw, in, mult] -> [in*mult, 1, kh, kw]
        kh, kw, cin, mult = a.shape
        return a.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
    if leaf == "pointwise_filter":  # [1, 1, in, out] -> [out, in, 1, 1]
        return a.transpose(3, 2, 0, 1)
    if name == "fc/weights":  # [in, out] -> [out, in]
        return a.T
    if leaf == "bias":
        return a
    raise ValueError(f"unexpected weight {name} {a.shape}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", default=SRC)
    ap.add_argument("--out", default=OUT)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for base, out_name in MODELS:
        weights, files = load_tfjs(a.src, base)
        tensors = {}
        nparams = 0
        for name in sorted(weights):
            t = np.ascontiguousarray(to_candle(name, weights[name]), dtype=np.float32)
            tensors[name.replace("/", ".")] = t
            nparams += t.size
        meta = {
            "source_package": f"npm {PACKAGE}@{VERSION}",
            "source_path": f"model/{base}-weights_manifest.json, model/{base}.bin",
            "license": "MIT",
            "converted_by": "tools/faceapi/dequantize.py",
            "dequantization": "float32(q*scale+min) per manifest quantization (uint8); unquantised entries raw float32",
            "layout": "conv [out,in,kh,kw]; depthwise [in*mult,1,kh,kw]; pointwise [out,in,1,1]; fc.weights [out,in]",
            "parameter_count": str(nparams),
        }
        for fp in files:
            meta["sha256:" + os.path.basename(fp)] = sha256(fp)
        out_path = os.path.join(a.out, out_name)
        save_safetensors_deterministic(tensors, out_path, meta)
        print(f"{os.path.normpath(out_path)}  params={nparams}  sha256={sha256(out_path)}")
        for k in sorted(tensors):
            print(f"  {k:34s} {list(tensors[k].shape)}")


if __name__ == "__main__":
    main()
