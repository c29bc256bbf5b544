#!/usr/bin/env python3
"""Optional cross-check of tools/fer_reference.py against real Keras.

Not TensorFlow: Keras 3 with the JAX backend (CPU), which loads the legacy
Keras 2 HDF5 file directly, offline. Set up once, outside the project:

    python3 -m venv /tmp/kvenv
    /tmp/kvenv/bin/pip install keras jax h5py pillow numpy
    /tmp/kvenv/bin/python tools/check_fer_keras.py

Checks: (1) every weight Keras loaded equals the HDF5 array; (2) for every
golden PNG, Keras' softmax output and pre-softmax (global_average_pooling2d_1)
output against expected.json; (3) every intermediate layer output against the
numpy reference's trace. Keras runs in float32, so agreement is ~1e-6, not exact.
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fer_reference as R  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main():
    hdf5 = sys.argv[1] if len(sys.argv) > 1 else R.DEFAULT_HDF5
    golden = os.path.join(ROOT, "tests", "fixtures", "fer_golden")
    print("keras", keras.__version__, "backend", keras.backend.backend())
    km = keras.models.load_model(hdf5, compile=False)
    ref = R.load_model(hdf5)

    # (1) weights
    n = 0
    for layer in km.layers:
        mine = ref.weights.get(layer.name, {})
        for v in layer.weights:
            short = v.path.split("/")[-1]
            assert np.array_equal(np.asarray(v.numpy(), np.float64), mine[short]), (layer.name, short)
            n += int(np.prod(v.shape))
    assert n == 58423, n
    print("weights identical: %d values" % n)

    names = [l.name for l in km.layers]
    probe = keras.Model(km.inputs, [km.get_layer(nm).output for nm in names])
    exp = json.load(open(os.path.join(golden, "expected.json")))
    worst = {"probs": 0.0, "logits": 0.0, "layers": 0.0}
    ok = True
    for c in exp["cases"]:
        px = np.asarray(Image.open(os.path.join(golden, c["file"])), dtype=np.uint8)
        x = R.scale_input(px)
        outs = dict(zip(names, probe.predict(x[None, :, :, None].astype(np.float32), verbose=0)))
        kp = np.asarray(outs["predictions"][0], np.float64)
        kl = np.asarray(outs["global_average_pooling2d_1"][0], np.float64)
        dp = np.abs(kp - np.array(c["probs"])).max()
        dl = np.abs(kl - np.array(c["logits"])).max()
        trace = {}
        ref.forward(x, trace)
        dlay = 0.0
        for nm in names:
            a = np.asarray(outs[nm][0], np.float64)
            b = trace[nm]
            dlay = max(dlay, float(np.abs(a - b).max() / (1.0 + np.abs(b).max())))
        same_top = int(np.argmax(kp)) == R.LABELS.index(c["top"])
        ok &= same_top
        worst["probs"] = max(worst["probs"], dp)
        worst["logits"] = max(worst["logits"], dl)
        worst["layers"] = max(worst["layers"], dlay)
        print("%-30s keras top=%-8s |dprob|=%.2e |dlogit|=%.2e layers rel=%.2e" % (
            c["file"], R.LABELS[int(np.argmax(kp))], dp, dl, dlay))
    ok &= worst["probs"] < 1e-4 and worst["logits"] < 1e-4 and worst["layers"] < 1e-4
    print("%s: worst |dprob| %.2e, |dlogit| %.2e, layer rel %.2e" % (
        "PASS" if ok else "FAIL", worst["probs"], worst["logits"], worst["layers"]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
