#!/usr/bin/env bash
# Runs `facs run` on the bundled clips and photos and prints one sha256 per log, so that a
# refactoring can be checked to leave every logged value unchanged:
#   tools/log_fingerprint.sh > before.txt; ...change...; tools/log_fingerprint.sh | diff before.txt -
# Also hashes two small `facs synth` data sets. Uses target/release/facs (build it first).
# The sidecar JSON is left out: it records times.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
facs=${FACS_BIN:-target/release/facs}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() {
  local name=$1; shift
  # -y: facs refuses to replace an existing log without it (the folder is fresh, but a log
  # name given twice below must not make the script fail).
  "$facs" run -y "$@" --log "$out/$name.csv" --jsonl "$out/$name.jsonl" >/dev/null 2>&1 || {
    echo "$name: facs run failed" >&2; exit 1; }
  (cd "$out" && sha256sum "$name.csv" "$name.jsonl")
}
run single_face_30f --input tests/fixtures/single_face_30f.mp4
run rotated --input tests/fixtures/single_face_30f_rotated.mp4
run no_face --input tests/fixtures/no_face_30f.mp4
run multi_face --input tests/fixtures/multi_face.jpg
run wolfgang_frames --input tests/fixtures/wolfgang --fps 25
run single_face_frames --input tests/fixtures/single_face --fps 25
run wolfgang_fer --input tests/fixtures/wolfgang --fps 25 --emotion fer
# Synthetic faces (the training tests' data): every image and the labels.
"$facs" synth --out "$out/synth" --count 40 --seed 7 >/dev/null
"$facs" synth --out "$out/synth_emotion" --count 40 --seed 8 --with-emotions >/dev/null
for d in synth synth_emotion; do
  (cd "$out/$d" && cat labels.csv images/*.png | sha256sum | sed "s|-|$d|")
done
