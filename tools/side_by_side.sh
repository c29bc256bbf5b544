#!/usr/bin/env bash
# facs next to the Python `fer` package on the same clip, in one run: each tool processes
# the whole clip (decode included) RUNS times, alternating, and the medians are compared.
# Also scores both on the frames labelled by eye (tools/bench_fer.py).
#
# Needs: a release build (cargo build --release), ffmpeg, and fer in /tmp/fer-venv
# (tools/README.md says how to install it).
#
#   tools/side_by_side.sh [CLIP] [extra facs run options...]
#
# Default clip: ../shared/assets/media/WolfgangLanger_Pexels.mp4. facs runs `facs run` with
# its default options; add options after the clip to change them, e.g. `--emotion fer
# --no-landmarks` for the same job fer does, or `--full-every 1` for the exhaustive search.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

clip=${1:-../shared/assets/media/WolfgangLanger_Pexels.mp4}
shift || true
runs=${RUNS:-3}
out=$(mktemp -d)
facs=target/release/facs
fer_py=${FER_PYTHON:-/tmp/fer-venv/bin/python}

[ -x "$facs" ] || { echo "build facs first: cargo build --release" >&2; exit 1; }
[ -x "$fer_py" ] || { echo "fer is not installed at $fer_py (see tools/README.md)" >&2; exit 1; }

frames=$(ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$clip")
facs_fps=()
fer_fps=()
for i in $(seq "$runs"); do
  start=$(date +%s.%N)
  # -y: each run replaces the previous run's log.
  "$facs" run -y --input "$clip" --log "$out/facs.csv" "$@" > "$out/facs_run$i.txt"
  end=$(date +%s.%N)
  facs_fps+=("$(python3 -c "print($frames / ($end - $start))")")
  "$fer_py" tools/bench_fer.py "$clip" --runs 1 --json "$out/fer$i.json" > "$out/fer_run$i.txt"
  fer_fps+=("$(python3 -c "import json; print(json.load(open('$out/fer$i.json'))['fps_median'])")")
  echo "run $i: facs ${facs_fps[-1]} fps, fer ${fer_fps[-1]} fps"
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
facs_med=$(median "${facs_fps[@]}")
fer_med=$(median "${fer_fps[@]}")
echo "clip: $clip ($frames frames), machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "facs median ${facs_med} fps, fer median ${fer_med} fps, ratio $(python3 -c "print(round($facs_med / $fer_med, 2))")x"
echo "facs accuracy on the labelled frames:"
python3 tools/bench_fer.py --facs-csv "$out/facs.csv" | tail -n 6
echo "fer accuracy on the labelled frames:"
tail -n 6 "$out/fer_run1.txt"
echo "(outputs kept in $out)"
