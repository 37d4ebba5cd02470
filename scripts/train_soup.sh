#!/usr/bin/env bash
# Issue 8, the next candidate: a uniform weight-space soup (scripts/interpolate.py) of stage-4 runs that
# differ only in their seed, each G's recipe (scripts/train_world.sh with the two fakes-only wild test groups
# OpenTalker/SadTalker and PawanOct84/TalkingAvatar moved into training), then calibrated per frame. Three
# seeds of that recipe each ranked unseen tools better than v4 and FF++ face swaps a little worse; averaged,
# seeds usually keep what they share and lose what each got by chance.
#   [SEEDS="9 10 11"] [OUT=soup] bash scripts/train_soup.sh
# Each seed trains into $RUNS/g<SEED> (about 25 min on the idle 2-core CPU); a seed whose calibrated copy
# $RUNS/cal-g<SEED>.safetensors exists is not touched again, one cut short resumes (scripts/stage.sh).
# Benchmark: python bench/bench_sources.py default $RUNS/cal-$OUT.safetensors --exclude-trained \
#   $RUNS/world-train-g<first seed>.csv
set -euo pipefail
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-$HOME/.cache/fakescope-runs}
SEEDS=${SEEDS:-9 10 11}
OUT=${OUT:-soup}
here=$(dirname "$0")
ingredients=()
for seed in $SEEDS; do
  [ -f "$RUNS/cal-g$seed.safetensors" ] || ADD_GROUPS="OpenTalker/SadTalker PawanOct84/TalkingAvatar" \
    OUT=g$seed SEED=$seed CALIBRATE_FLAGS=--per-frame bash "$here/train_world.sh"
  ingredients+=("$RUNS/g$seed/best.safetensors")
done
python "$here/interpolate.py" "${ingredients[@]}" --out "$RUNS/$OUT.safetensors"
fakescope calibrate "$RUNS/$OUT.safetensors" "$RUNS/pool-dfdc-faces-calib.csv" "$RUNS/world-calib.csv" --half \
  --per-frame --out "$RUNS/cal-$OUT.safetensors"
