#!/usr/bin/env python3
"""Trained AU models on the bundled real clips: the table behind BENCHMARKS.md, "Synthetic to
real transfer".

For each model folder given, `facs eval` runs on every frame of the labelled stretches of the
two clips (decoded JPEG frames), and the table counts, per group of frames, how many the model
gets right for AU06, AU12 and AU25 at its own thresholds (those `facs train --val` chose; 0.5
without them). The groups, labelled by eye (tests/au_training.rs uses the same ranges):

  single_face 0-15     neutral    AU06, AU12, AU25 absent
  single_face 25-69    smiling    all three present (teeth showing)
  wolfgang 256-464     laughing   all three present (mouth open)
  wolfgang 0-56        crying     AU12, AU25 absent; AU06 not labelled (eyes squeezed shut)

Usage:
  tools/transfer_table.py --frames ../shared/assets/media/frames MODEL_DIR [MODEL_DIR ...]

Needs the release build (target/release/facs, or --facs).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUS = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU09", "AU12", "AU17", "AU20", "AU25", "AU26"]
# (group, clip folder, first frame, last frame, AU06, AU12, AU25); "" is unknown.
GROUPS = [
    ("single_face neutral", "single_face", 0, 15, "0", "0", "0"),
    ("single_face smiling", "single_face", 25, 69, "1", "1", "1"),
    ("WolfgangLanger laughing", "wolfgang", 256, 464, "1", "1", "1"),
    ("WolfgangLanger crying", "wolfgang", 0, 56, "", "0", "0"),
]
SCORED = [6, 12, 25]


def right(report, au):
    """(frames right, frames labelled) for one AU of a `facs eval` report.json."""
    a = next(a for a in report["aus"] if a["au"] == au)
    c = a["counts"]
    return c["tp"] + c["tn"], c["tp"] + c["tn"] + c["fp"] + c["fn"]


def evaluate(facs, model, frames, work):
    """Per group, [(right, labelled)] for AU06, AU12, AU25."""
    out = []
    for name, clip, first, last, au6, au12, au25 in GROUPS:
        files = sorted(
            f for f in os.listdir(os.path.join(frames, clip))
            if f.endswith(".jpg") and first <= int(f[:6]) <= last
        )
        if not files:
            sys.exit(f"no frames {first}-{last} in {os.path.join(frames, clip)}")
        tag = name.replace(" ", "_")
        csv = os.path.join(work, f"{tag}.csv")
        with open(csv, "w") as f:
            f.write("image," + ",".join(AUS) + "\n")
            for img in files:
                cells = {"AU06": au6, "AU12": au12, "AU25": au25}
                f.write(f"{clip}/{img}," + ",".join(cells.get(a, "") for a in AUS) + "\n")
        report = os.path.join(work, f"report_{tag}")
        subprocess.run(
            [facs, "eval", "--au-model", model, "--csv", csv, "--images", frames,
             "--out", report, "--quiet"],
            check=True, stdout=subprocess.DEVNULL,
        )
        with open(os.path.join(report, "report.json")) as f:
            r = json.load(f)
        out.append([right(r, au) for au in SCORED])
    return out


def cell(rc):
    r, n = rc
    return f"{r}/{n}" if n else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", required=True,
                    help="folder with single_face/ and wolfgang/ frames (NNNNNN.jpg)")
    ap.add_argument("--facs", default=os.path.join(ROOT, "target/release/facs"))
    ap.add_argument("models", nargs="+", help="model folders written by `facs train`")
    args = ap.parse_args()
    if not os.access(args.facs, os.X_OK):
        sys.exit(f"{args.facs} not found: cargo build --release first")
    frames = os.path.abspath(args.frames)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        env_cal = os.path.join(tmp, "calibration")
        os.environ["FACS_CALIBRATION"] = env_cal
        for i, m in enumerate(args.models):
            work = os.path.join(tmp, str(i))
            os.makedirs(work)
            results[m] = evaluate(args.facs, os.path.abspath(m), frames, work)
    head = ["frames"] + [f"{os.path.basename(os.path.normpath(m))} AU{au:02d}"
                         for m in args.models for au in SCORED]
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * (len(head) - 1))
    for g, group in enumerate(GROUPS):
        row = [group[0]] + [cell(results[m][g][k]) for m in args.models for k in range(3)]
        print("| " + " | ".join(row) + " |")
    # Smiling + neutral together: the transfer goal is AU12 on these.
    row = ["smiling + neutral"]
    for m in args.models:
        for k in range(3):
            r = sum(results[m][g][k][0] for g in range(3))
            n = sum(results[m][g][k][1] for g in range(3))
            row.append(f"{r}/{n} ({100 * r / n:.1f}%)")
    print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
