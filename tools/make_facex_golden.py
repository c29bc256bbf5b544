#!/usr/bin/env python3
"""Make the facex golden fixtures: 200x200 grey face crops + expected.json.

    python3 tools/make_facex_golden.py [--media /work/shared/assets/media] \
        [--tflite /work/shared/assets/models/facex_emotion_mobilenetv2.tflite] \
        [--out tests/fixtures/facex_golden]

Needs: numpy, pillow, ai-edge-litert (its interpreter and its flatbuffer schema module).

Each crop: the source image to 8-bit grey (PIL convert("L"), ITU-R 601 luma), the box
(PIL convention left, top, right, bottom), resized to 200x200 with PIL BILINEAR, saved as a
grey PNG. The input is the re-read PNG pixels / 255, repeated into 3 channels (NHWC
1x200x200x3 float32), which is what facex feeds its model.

Two references, both the ai-edge-litert interpreter:

  * `float`: the same graph with the hybrid ops' 8-bit weights replaced by their dequantised
    float32 values (the depthwise kernels already pass through DEQUANTIZE ops); the weights are
    then exactly the numbers in models/facex_emotion_mobilenetv2.safetensors. This is the
    network facs runs, computed by the reference interpreter; a port must match it to 1e-4.
  * `hybrid`: the original file. Its 1x1 convolutions and dense layer are TFLite "hybrid"
    ops that round their input to 8 bits on the fly (per image, max|x|/127 steps). A
    difference of 1e-6 in an activation can move a value across a rounding step, so two
    correct float implementations land up to a few tenths of a logit apart after 34 such
    roundings; facs does not reproduce that rounding, and this reference records how far
    the shipped model's own output is from the float network on each crop.
"""

import argparse
import hashlib
import io
import json
import os
import sys
import tempfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_facex as C  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# (output png, source path relative to media/, box (left, top, right, bottom), what it shows)
CROPS = [
    ("posed_surprise.png", "0-f1-su-ph.jpg", (115, 150, 405, 440), "posed surprise, frontal"),
    ("posed_happy.png", "0-f15-hao-ph.jpg", (110, 145, 400, 435), "posed happy (open smile), frontal"),
    ("posed_anger.png", "15-f13-anc-ph.jpg", (115, 160, 400, 445), "posed anger, 15 degree head angle"),
    ("posed_disgust.png", "45-m7-di-ph.jpg", (40, 190, 330, 480), "posed disgust, 45 degree head angle"),
    ("single_face_neutral_f005.png", "frames/single_face/000005.jpg", (205, 110, 380, 285), "man, neutral (frame 5)"),
    ("wolfgang_sad_f030.png", "frames/wolfgang/000030.jpg", (355, 115, 575, 335), "woman, crying, eyes closed (frame 30)"),
    ("wolfgang_laugh_f330.png", "frames/wolfgang/000330.jpg", (335, 80, 555, 300), "woman, laughing (frame 330)"),
]


def float_model(path):
    """Bytes of the same TFLite model with the 8-bit weights stored as dequantised float32."""
    from ai_edge_litert import schema_py_generated as S
    import flatbuffers
    with open(path, "rb") as f:
        model = S.ModelT.InitFromObj(S.Model.GetRootAsModel(f.read(), 0))
    g = model.subgraphs[0]
    dequant_code = [i for i, c in enumerate(model.operatorCodes)
                    if max(c.builtinCode, c.deprecatedBuiltinCode) == S.BuiltinOperator.DEQUANTIZE]
    for t in g.tensors:
        if t.type != S.TensorType.UINT8:
            continue
        buf = model.buffers[t.buffer]
        raw = np.asarray(buf.data, dtype=np.uint8)
        scale, zp = float(t.quantization.scale[0]), int(t.quantization.zeroPoint[0])
        consumers = [op for op in g.operators if t_index(g, t) in list(op.inputs)]
        if all(op.opcodeIndex in dequant_code for op in consumers):
            continue  # a DEQUANTIZE op turns it into float32 already: (byte - zp) * scale
        # a hybrid op's weights: the bytes are signed int8, symmetric
        assert zp == 0
        w = raw.view(np.int8).astype(np.float32) * np.float32(scale)
        buf.data = np.frombuffer(w.astype("<f4").tobytes(), dtype=np.uint8)
        t.type = S.TensorType.FLOAT32
        t.quantization = None
    b = flatbuffers.Builder(1 << 22)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def t_index(g, t):
    for i, x in enumerate(g.tensors):
        if x is t:
            return i
    raise KeyError


def run(path, x_nhwc):
    return C.reference(path, x_nhwc)


def png_bytes(u8):
    buf = io.BytesIO()
    Image.fromarray(u8, mode="L").save(buf, format="PNG", optimize=False, compress_level=9)
    return buf.getvalue()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--media", default="/work/shared/assets/media")
    ap.add_argument("--tflite", default=C.DEFAULT_TFLITE)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "facex_golden"))
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    tmp = tempfile.NamedTemporaryFile(suffix=".tflite", delete=False)
    tmp.write(float_model(a.tflite))
    tmp.close()
    tensors, _, layers = C.build(a.tflite)
    t32 = {n: t.astype(np.float32).astype(np.float64) for n, t in tensors.items()}
    cases = []
    for png, src, box, what in CROPS:
        grey = Image.open(os.path.join(a.media, src)).convert("L").crop(box)
        u8 = np.asarray(grey.resize((200, 200), Image.BILINEAR), dtype=np.uint8)
        data = png_bytes(u8)
        with open(os.path.join(a.out, png), "wb") as f:
            f.write(data)
        px = np.asarray(Image.open(io.BytesIO(data)), dtype=np.uint8)
        assert np.array_equal(px, u8)
        x = np.repeat((px.astype(np.float32) / np.float32(255))[None, :, :, None], 3, axis=3)
        lf, pf = run(tmp.name, x)
        lh, ph = run(a.tflite, x)
        top = int(np.argmax(pf))
        # the converted weights through tools' own float64 forward pass: checks the converter
        ln = C.forward(t32, layers, x.transpose(0, 3, 1, 2).astype(np.float64), False)[0]
        assert np.abs(ln - lf).max() < 1e-3, np.abs(ln - lf).max()
        print("numpy forward of the safetensors vs float reference: max |dlogit| %.2e"
              % np.abs(ln - lf).max())
        cases.append({
            "file": png, "source": src, "box": list(box), "description": what,
            "png_sha256": hashlib.sha256(data).hexdigest(),
            "top": C.LABELS[top], "top_hybrid": C.LABELS[int(np.argmax(ph))],
            "logits": [float(v) for v in lf], "probs": [float(v) for v in pf],
            "logits_hybrid": [float(v) for v in lh], "probs_hybrid": [float(v) for v in ph],
        })
        print("%-30s float top=%-9s p=%.4f | hybrid top=%-9s p=%.4f | max |dprob| %.2e |dlogit| %.2e"
              % (png, C.LABELS[top], pf[top], C.LABELS[int(np.argmax(ph))], ph.max(),
                 np.abs(pf - ph).max(), np.abs(lf - lh).max()))
    os.unlink(tmp.name)
    doc = {
        "model_source": "PyPI facex==1.1.0 facex/assets/model_optimized.tflite",
        "model_source_sha256": C.sha256_file(a.tflite),
        "reference": "ai-edge-litert interpreter (float: 8-bit weights dequantised in the graph; "
                     "hybrid: the original file)",
        "labels": C.LABELS,
        "input": "png pixels (8-bit grey, 200x200) / 255 repeated to 3 channels, NHWC 1x200x200x3",
        "logits": "output of the dense layer predictis (pre-softmax)",
        "cases": cases,
    }
    with open(os.path.join(a.out, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
