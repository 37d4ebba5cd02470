#!/usr/bin/env bash
# Issue 8, step 1: the shipped model (stage 2) fine-tuned on footage as it reaches users.
# DFDC train crops + the real-people clips of the train role (scripts/pool.py) as extra reals, 30% of each
# batch self-blended pseudo-fakes, half of all views degraded (train/augment.py `degrade`), selected on DFDC val.
# Run state lives outside the work tree; re-run the same command to carry on (scripts/stage.sh: a finished
# stage is skipped, one cut short resumes). INIT is the model it starts from, OUT its folder under RUNS;
# further arguments go to `fakescope train` (another backbone's chain adds --model NAME).
#   [INIT=default] [OUT=degraded] bash scripts/train_degraded.sh [TRAIN_ARGS...]
set -euo pipefail
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-$HOME/.cache/fakescope-runs}
export OMP_WAIT_POLICY=PASSIVE
# shellcheck source=scripts/stage.sh
source "$(dirname "$0")/stage.sh"
[ -d "$RUNS/videos16" ] || fakescope prepare --format csv "$DATA/labels.csv" --only videos/ --frames 16 \
  --out "$RUNS/videos16" --val 0 --test 0 -q
python "$(dirname "$0")/pool.py" "$RUNS/videos16" "$DATA/labels.csv"
train_stage "$RUNS/${OUT:-degraded}" "$DATA/labels.csv" --only dfdc-faces/ --init "${INIT:-default}" \
  --extra-reals "$RUNS/pool-videos16-train.csv" --pseudo-fakes 0.3 --degrade 0.5 \
  --epochs 3 --patience 2 --lr 1e-4 --crop-margin 0.9 --seed 3 "$@"
