#!/usr/bin/env bash
# Training at EmotioNet's true AU frequencies (AU20 in 0.6% of the faces, no floor), on
# synthetic faces: the benchmark behind BENCHMARKS.md, "At EmotioNet's true rarest rate
# (0.6%)". tests/au_training.rs raises the rarest AUs to 2% to fit CI; this runs without.
#
#   tools/rare_rate.sh OUT_DIR                       # 8,000 training faces, both networks
#   FACES=6000 PHASE2_EPOCHS=2 tools/rare_rate.sh OUT_DIR
#   nice -n 5 tools/rare_rate.sh OUT_DIR             # yielding the CPU to other work
#   NETS=scratch tools/rare_rate.sh OUT_DIR          # one network (two such runs side by side)
#   FACES=4000 SYNTH_SEED=101 RATES=0.0625,0.0301,0.1317,0.0380,0.1973,0.0228,0.3148,0.0208,0.0200,0.4943,0.0884 \
#     PHASE2_EPOCHS=5 PHASE2_ARGS="--backbone-lr-div 1" tools/rare_rate.sh OUT_DIR
#                                                    # BENCHMARKS.md's 4,000 faces with a 2% floor
#
# What it runs (every command is echoed with its wall time):
#   - `facs synth` for training: FACES faces, seed SYNTH_SEED, EmotioNet's frequencies
#     (synth's default, no --rates) or RATES; validation and test: 400 faces each, seeds
#     102 and 103, every AU at 25% (the same faces as tests/au_training.rs draws). A set already in OUT_DIR is
#     kept (the same seed draws the same faces).
#   - `facs train` on face-api's backbone (the default), phase 1 only
#     (--frozen-epochs 10 --epochs 0); with PHASE2_EPOCHS > 0 also phase 1 then phase 2
#     (--frozen-epochs 10 --epochs PHASE2_EPOCHS PHASE2_ARGS), reusing the first run's crops and
#     backbone features.
#   - `facs train --backbone scratch --px 48 --width 8 --epochs 16` (the acceptance test's
#     settings).
#   - Every model: the per-AU thresholds are chosen on the validation faces by
#     `facs train --val`, then `facs eval` on the test faces.
# Then a table: training-set count per AU, and test F1 per AU and macro-F1 of every model
# evaluated in OUT_DIR so far. Crops and backbone features are cached in each model's
# folder: a second run on the same OUT_DIR skips face preparation.
#
# Settings (environment):
#   FACS_BIN       the facs binary (default: target/release/facs of this checkout)
#   FACES          training faces (default: 8000; AU20 then in about 48)
#   PHASE2_EPOCHS  phase 2 epochs of the backbone run (default: 0: phase 1 only)
#   PHASE2_ARGS    more `facs train` options for the phase 2 run (default: none), e.g.
#                  "--backbone-lr-div 1"
#   SEED           training seed of every run (default: 1)
#   SYNTH_SEED     `facs synth` seed of the training faces (default: 201)
#   RATES          `facs synth --rates` of the training faces (default: none: EmotioNet's
#                  own frequencies)
#   NETS           which networks to train: "backbone", "scratch" or both (the default)
# Needs python3 (for the table) and the release build.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
FACS_BIN=${FACS_BIN:-$root/target/release/facs}
FACES=${FACES:-8000}
PHASE2_EPOCHS=${PHASE2_EPOCHS:-0}
SEED=${SEED:-1}
SYNTH_SEED=${SYNTH_SEED:-201}
RATES=${RATES:-}
PHASE2_ARGS=${PHASE2_ARGS:-}
NETS=${NETS:-backbone scratch}
if [ ! -x "$FACS_BIN" ]; then
    echo "$FACS_BIN not found: cargo build --release first" >&2
    exit 2
fi
out=$(mkdir -p "$1" && cd "$1" && pwd)
data=$out/data
mkdir -p "$data"
# A calibration folder of this run's own, so that nothing outside OUT_DIR is touched.
export FACS_CALIBRATION=$out/calibration

step() {
    echo "+ $*" >&2
    local t0
    t0=$(date +%s)
    "$@"
    echo "  ($(($(date +%s) - t0)) s, load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
}

# facs synth into data/NAME, then NAME.csv with image paths relative to data/.
synth() {
    local name=$1
    shift
    if [ -f "$data/$name.csv" ]; then
        echo "= $data/$name.csv kept" >&2
        return
    fi
    step "$FACS_BIN" synth --out "$data/$name" --quiet "$@"
    {
        head -n 1 "$data/$name/labels.csv"
        tail -n +2 "$data/$name/labels.csv" | sed "s#^#$name/images/#"
    } >"$data/$name.csv"
}

even=0.25,0.25,0.25,0.25,0.25,0.25,0.25,0.25,0.25,0.25,0.25
t_start=$(date +%s)
echo "start $(date -u '+%Y-%m-%d %H:%M UTC'), load: $(cut -d' ' -f1-3 /proc/loadavg), FACES=$FACES PHASE2_EPOCHS=$PHASE2_EPOCHS PHASE2_ARGS=$PHASE2_ARGS SEED=$SEED SYNTH_SEED=$SYNTH_SEED RATES=$RATES" >&2
train_rates=()
if [ -n "$RATES" ]; then
    train_rates=(--rates "$RATES")
fi
synth train --count "$FACES" --seed "$SYNTH_SEED" "${train_rates[@]}"
synth val --count 400 --seed 102 --rates "$even"
synth test --count 400 --seed 103 --rates "$even"

train() {
    local name=$1
    shift
    step "$FACS_BIN" train --csv "$data/train.csv" --val "$data/val.csv" --images "$data" \
        --out "$out/$name" --seed "$SEED" --quiet "$@"
    step "$FACS_BIN" eval --au-model "$out/$name" --csv "$data/test.csv" --images "$data" \
        --out "$out/$name/report" --quiet
}

if [[ " $NETS " == *" backbone "* ]]; then
    train backbone_phase1 --frozen-epochs 10 --epochs 0
    if [ "$PHASE2_EPOCHS" -gt 0 ]; then
        name=backbone_phase2
        mkdir -p "$out/$name"
        # The same crops and frozen features: phase 1 repeats exactly, without computing
        # them again.
        cp -r "$out/backbone_phase1/crops" "$out/backbone_phase1/features" "$out/$name/"
        # shellcheck disable=SC2086 # PHASE2_ARGS is a list of options
        train "$name" --frozen-epochs 10 --epochs "$PHASE2_EPOCHS" $PHASE2_ARGS
    fi
fi
if [[ " $NETS " == *" scratch "* ]]; then
    train scratch --backbone scratch --px 48 --width 8 --epochs 16
fi

python3 - "$data/train.csv" "$out" <<'PY'
import csv, json, os, sys
train_csv, out = sys.argv[1], sys.argv[2]
models = [m for m in ("backbone_phase1", "backbone_phase2", "scratch")
          if os.path.isfile(f"{out}/{m}/report/report.json")]
rows = list(csv.DictReader(open(train_csv)))
aus = [c for c in rows[0].keys() if c.startswith("AU")]
print("| | " + " | ".join(aus) + " | macro-F1 |")
print("|---|" + "---:|" * (len(aus) + 1))
counts = [sum(r[a] == "1" for r in rows) for a in aus]
print(f"| training faces with the AU (of {len(rows)}) | "
      + " | ".join(f"{n} ({100 * n / len(rows):.1f}%)" for n in counts) + " | |")
for m in models:
    r = json.load(open(f"{out}/{m}/report/report.json"))
    f1 = {f"AU{a['au']:02d}": a["f1"] for a in r["aus"]}
    print(f"| {m} | " + " | ".join(f"{f1[a]:.3f}" for a in aus)
          + f" | {r['macro_f1']:.3f} |")
PY
echo "done $(date -u '+%Y-%m-%d %H:%M UTC') in $(($(date +%s) - t_start)) s, load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
