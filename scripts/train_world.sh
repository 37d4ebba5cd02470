#!/usr/bin/env bash
# Issue 8, candidate B: the shipped model fine-tuned with today's generators in the training set.
# scripts/world_pool.py writes the training CSV (DFDC crops; real-people train-role clips and the fakes-only
# videos/wild calib groups, AniPortrait, MuseTalk and two lip-sync pairs, each clean and frame-degraded) and a
# calib pool without the moved groups, then trains and calibrates. Needs $RUNS/videos16 and its pools
# (scripts/train_degraded.sh makes them); makes the frame-degraded caches if they are missing.
#   bash scripts/train_world.sh [--resume]
set -euo pipefail
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-$HOME/.cache/fakescope-runs}
export OMP_WAIT_POLICY=PASSIVE
for folder in real-people wild; do
  [ -d "$RUNS/deg-$folder" ] || fakescope prepare --format csv "$DATA/labels.csv" --only "videos/$folder/" \
    --frames 16 --degrade 1 --out "$RUNS/deg-$folder" -q
done
python "$(dirname "$0")/world_pool.py" "$RUNS" "$DATA/labels.csv"
fakescope train "$RUNS/world-train.csv" --init default --pseudo-fakes 0.3 --degrade 0.5 \
  --epochs 2 --patience 2 --lr 1e-4 --crop-margin 0.9 --seed 6 --out "$RUNS/world" "$@"
fakescope calibrate "$RUNS/world/best.safetensors" "$RUNS/pool-dfdc-faces-calib.csv" "$RUNS/world-calib.csv" --half \
  --out "$RUNS/cal-world.safetensors"
