#!/usr/bin/env bash
# Issue 8, stage 4 (the shipped v4): v3 fine-tuned with today's generators in the training set.
# scripts/world_pool.py writes the training CSV (DFDC crops; real-people train-role clips and the fakes-only
# videos/wild calib groups, AniPortrait, MuseTalk and two lip-sync pairs, each clean and frame-degraded) and a
# calib pool without the moved groups, then trains and calibrates. Needs $RUNS/videos16 and its pools
# (scripts/train_degraded.sh makes them); makes the frame-degraded caches if they are missing. v3, the
# starting point, is taken from git (commit 7850527) when $RUNS/v3.safetensors is missing, with its card;
# INIT starts from another model instead (another backbone's stage 3: add --model NAME to the arguments).
# A finished training stage is skipped and one cut short resumes (scripts/stage.sh); calibration always runs.
#   [SEED=6] [OUT=world] [INIT=MODEL] [ADD_GROUPS="GROUP ..."] [CALIBRATE_FLAGS=--per-frame] \
#     bash scripts/train_world.sh [TRAIN_ARGS...]
# ADD_GROUPS moves more videos/wild groups into training (world_pool.py --add-groups); benchmark such a run
# with `bench/bench_sources.py MODEL default --exclude-trained $RUNS/world-train-$OUT.csv`.
set -euo pipefail
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-$HOME/.cache/fakescope-runs}
OUT=${OUT:-world}
export OMP_WAIT_POLICY=PASSIVE
for folder in real-people wild; do
  [ -d "$RUNS/deg-$folder" ] || fakescope prepare --format csv "$DATA/labels.csv" --only "videos/$folder/" \
    --frames 16 --degrade 1 --out "$RUNS/deg-$folder" -q
done
# shellcheck source=scripts/stage.sh
source "$(dirname "$0")/stage.sh"
if [ -z "${INIT:-}" ]; then
  INIT=$RUNS/v3.safetensors
  for ext in safetensors json; do  # v3's weights and its card (which lists the stages it came from)
    [ -f "$RUNS/v3.$ext" ] || git -C "$(dirname "$0")" show \
      "7850527:src/fakescope/models/weights/default.$ext" > "$RUNS/v3.$ext"
  done
fi
TRAIN_CSV=world-train.csv
if [ -n "${ADD_GROUPS:-}" ]; then TRAIN_CSV=world-train-$OUT.csv; fi
# shellcheck disable=SC2086  # ADD_GROUPS is a list of group names
python "$(dirname "$0")/world_pool.py" "$RUNS" "$DATA/labels.csv" --out "$TRAIN_CSV" \
  ${ADD_GROUPS:+--add-groups $ADD_GROUPS}
train_stage "$RUNS/$OUT" "$RUNS/$TRAIN_CSV" --init "$INIT" --pseudo-fakes 0.3 --degrade 0.5 \
  --epochs 2 --patience 2 --lr 1e-4 --crop-margin 0.9 --seed "${SEED:-6}" "$@"
# shellcheck disable=SC2086
fakescope calibrate "$RUNS/$OUT/best.safetensors" "$RUNS/pool-dfdc-faces-calib.csv" "$RUNS/world-calib.csv" --half \
  ${CALIBRATE_FLAGS:-} --out "$RUNS/cal-$OUT.safetensors"
