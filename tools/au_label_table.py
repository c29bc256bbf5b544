#!/usr/bin/env python3
"""Geometric AUs against the frames labelled by eye in tests/fixtures/au_labels.csv.

Runs `facs run` on the complete frame folders of the two bundled clips (FRAMES/wolfgang
and FRAMES/single_face, one JPEG per decoded frame, named by its 0-based index), joins each
log row to its label by file name, and prints a Markdown table per AU: how many frames
carry a clear label, how often the AU is present per state (crying, laughing, neutral,
smiling), and precision / recall over the clear labels. Standard library only.

    tools/au_label_table.py --frames ../shared/assets/media/frames [--facs target/release/facs]
        [--calibrate-secs 0.5 | --calibration CLIP=FILE ...] [--keep DIR]

`--calibration wolfgang=her.json` scores that clip against a calibration file (made with
`facs calibrate`); the other clip stays on the population default.
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUS = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU09", "AU12", "AU17", "AU20", "AU25", "AU26"]
STATES = ["crying", "laughing", "neutral", "smiling"]


def run_facs(facs, folder, log, extra):
    cmd = [facs, "run", "-y", "--input", folder, "--emotion", "none", "--log", log] + extra
    done = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"facs failed on {folder} (exit {done.returncode}):\n{done.stderr}")


def rows_by_file(folder, log):
    """Log rows keyed by the file number of the frame they describe."""
    files = sorted(f for f in os.listdir(folder) if f.endswith(".jpg"))
    out = {}
    with open(log, newline="") as fh:
        for r in csv.DictReader(fh):
            if r["success"] != "1" or r["AU01_p"] == "":
                continue
            name = files[int(r["frame"]) - 1]
            out[int(name[: -len(".jpg")])] = r
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", required=True, help="folder holding wolfgang/ and single_face/")
    ap.add_argument("--facs", default=os.path.join(ROOT, "target/release/facs"))
    ap.add_argument("--labels", default=os.path.join(ROOT, "tests/fixtures/au_labels.csv"))
    ap.add_argument("--calibrate-secs", help="pass --calibrate-secs to facs (default: none)")
    ap.add_argument("--calibration", action="append", default=[], metavar="CLIP=FILE",
                    help="score CLIP against this calibration file (repeatable)")
    ap.add_argument("--keep", help="write the logs here instead of a temporary folder")
    args = ap.parse_args()

    with open(args.labels, newline="") as fh:
        labels = list(csv.DictReader(fh))
    label_aus = [c for c in labels[0] if c.startswith("AU")]
    extra = ["--calibrate-secs", args.calibrate_secs] if args.calibrate_secs else []
    files = {}
    for c in args.calibration:
        clip, sep, path = c.partition("=")
        if not sep or not path:
            sys.exit(f"--calibration {c!r}: expected CLIP=FILE")
        files[clip] = os.path.abspath(path)
    if files and args.calibrate_secs:
        sys.exit("--calibration and --calibrate-secs: give one or the other")
    outdir = args.keep or tempfile.mkdtemp(prefix="facs-au-labels-")
    os.makedirs(outdir, exist_ok=True)
    rows = {}
    for clip in sorted({l["clip"] for l in labels}):
        folder = os.path.join(args.frames, clip)
        log = os.path.join(outdir, f"{clip}.csv")
        run_facs(args.facs, folder, log, extra + (["--calibration", files[clip]] if clip in files else []))
        rows[clip] = rows_by_file(folder, log)

    joined = []  # (label row, log row)
    missing = 0
    for l in labels:
        r = rows[l["clip"]].get(int(l["frame"]))
        if r is None:
            missing += 1
        else:
            joined.append((l, r))
    if args.calibrate_secs:
        baseline = f"--calibrate-secs {args.calibrate_secs}"
    elif files:
        baseline = "; ".join(f"{clip}: {os.path.basename(f)}" for clip, f in sorted(files.items())) + \
            "; other clips: population default"
    else:
        baseline = "population default"
    print(f"baseline: {baseline}; {len(joined)} labelled frames with a face, {missing} without")
    print()
    head = "| AU | frames with a clear label | " + " | ".join(f"present: {s}" for s in STATES)
    print(head + " | precision | recall |")
    print("|---|---:|" + "---:|" * len(STATES) + "---:|---:|")
    for au in AUS:
        cells = []
        for s in STATES:
            of = [r for l, r in joined if l["state"] == s]
            on = sum(r[f"{au}_c"] == "1" for r in of)
            cells.append(f"{on}/{len(of)} ({100 * on / len(of):.0f}%)" if of else "")
        if au in label_aus:
            clear = [(l[au] == "1", r[f"{au}_c"] == "1") for l, r in joined if l[au] in ("0", "1")]
            tp = sum(t and p for t, p in clear)
            fp = sum(p and not t for t, p in clear)
            fn = sum(t and not p for t, p in clear)
            prec = f"{tp / (tp + fp):.2f} ({tp}/{tp + fp})" if tp + fp else "-"
            rec = f"{tp / (tp + fn):.2f} ({tp}/{tp + fn})" if tp + fn else "-"
            n = str(len(clear))
        else:
            prec = rec = "-"
            n = "-"
        print(f"| {au} | {n} | " + " | ".join(cells) + f" | {prec} | {rec} |")


if __name__ == "__main__":
    main()
