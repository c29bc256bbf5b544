#!/usr/bin/env python3
"""Compares two facs logs of the same input row by row (face by face), standard library only.

Prints, over the faces with landmarks in both: how many AU present values differ (and which
AUs), the AU probabilities' absolute differences, how often the top emotion and happy >= 0.5
differ, and the landmarks' distance (mean over the 68 points, % of the distance between the
outer eye corners). For scale, it prints how often the first log's own values change from a
face's frame to its next.

usage: tools/compare_logs.py A.csv B.csv
"""
import csv
import math
import sys


def load(path):
    with open(path, newline="") as f:
        return {(int(r["frame"]), r["face_id"]): r for r in csv.DictReader(f) if r["x_0"] != ""}


def quantile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round((len(values) - 1) * p)))] if values else float("nan")


def top(row, emotions):
    scores = [float(row[e]) for e in emotions]
    return scores.index(max(scores))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    a, b = load(sys.argv[1]), load(sys.argv[2])
    keys = sorted(k for k in a if k in b)
    if not keys:
        sys.exit("no face with landmarks in both logs")
    columns = list(a[keys[0]].keys())
    aus = [c[:-2] for c in columns if c.startswith("AU") and c.endswith("_c")]
    emotions = [c for c in columns if c.startswith("emotion_")]
    flips = {au: 0 for au in aus}
    prob_diff, landmarks = [], []
    top_differs = happy_differs = 0
    for k in keys:
        ra, rb = a[k], b[k]
        for au in aus:
            flips[au] += ra[au + "_c"] != rb[au + "_c"]
            prob_diff.append(abs(float(ra[au + "_p"]) - float(rb[au + "_p"])))
        top_differs += top(ra, emotions) != top(rb, emotions)
        happy_differs += (float(ra["happy"]) >= 0.5) != (float(rb["happy"]) >= 0.5)
        eyes = math.hypot(float(ra["x_36"]) - float(ra["x_45"]), float(ra["y_36"]) - float(ra["y_45"]))
        mean = sum(
            math.hypot(float(ra[f"x_{i}"]) - float(rb[f"x_{i}"]), float(ra[f"y_{i}"]) - float(rb[f"y_{i}"]))
            for i in range(68)
        ) / 68
        landmarks.append(100 * mean / max(eyes, 1.0))
    n, total = len(keys), sum(flips.values())
    which = ", ".join(f"{au} {v}" for au, v in flips.items() if v)
    print(f"faces in both: {n}")
    print(f"AU present values that differ: {total} of {n * len(aus)} ({100 * total / (n * len(aus)):.1f}%){': ' + which if which else ''}")
    print(f"AU probability |difference|: p50 {quantile(prob_diff, 0.5):.3f}, p95 {quantile(prob_diff, 0.95):.3f}")
    print(f"top emotion differs: {top_differs}; happy >= 0.5 differs: {happy_differs}")
    print(f"landmarks apart (% of eye-corner distance): p50 {quantile(landmarks, 0.5):.2f}, "
          f"p95 {quantile(landmarks, 0.95):.2f}, max {max(landmarks):.2f}")
    changes = pairs = top_changes = 0
    for (frame, face) in keys:
        later = a.get((frame + 1, face))
        if later is None:
            continue
        pairs += 1
        changes += sum(a[(frame, face)][au + "_c"] != later[au + "_c"] for au in aus)
        top_changes += top(a[(frame, face)], emotions) != top(later, emotions)
    if pairs:
        print(f"first log, frame to next frame: AU present values that change {changes} of "
              f"{pairs * len(aus)} ({100 * changes / (pairs * len(aus)):.1f}%); top emotion changes {top_changes} of {pairs}")


if __name__ == "__main__":
    main()
