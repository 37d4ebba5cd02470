#!/usr/bin/env bash
# Stage 2 of the default model: fine-tune stage 1 (runs/default, scripts/train_default.sh) with
# self-blended pseudo-fakes of DFDC's and real-people's real faces mixed into every batch.
# CPU: about 6 to 7 minutes an epoch on 2 cores. Called by scripts/train_default.sh.
#   [MODEL=efficientnet_lite0] [INIT=runs/default/best.safetensors] [OUT=runs/default-sbi] [CACHE=cache] \
#     bash scripts/train_sbi.sh
set -euo pipefail
DATA=${DATA:-../shared/data}
CACHE=${CACHE:-cache}
export OMP_WAIT_POLICY=PASSIVE
# shellcheck source=scripts/stage.sh
source "$(dirname "$0")/stage.sh"
[ -f "$CACHE/dfdc/manifest.csv" ] || fakescope prepare "$DATA/labels.csv" --format csv --only dfdc-faces/ \
  --out "$CACHE/dfdc" --workers 1 -q
[ -f "$CACHE/real-people/manifest.csv" ] || fakescope prepare "$DATA/labels.csv" --format csv \
  --only videos/real-people/ --out "$CACHE/real-people" --frames 8 --val 0 --test 0 --workers 1 -q
train_stage "${OUT:-runs/default-sbi}" "$CACHE/dfdc" --official-split --extra-reals "$CACHE/real-people" \
  --pseudo-fakes 0.3 --init "${INIT:-runs/default/best.safetensors}" --model "${MODEL:-efficientnet_lite0}" \
  --input-size 128 --epochs 4 --patience 2 --batch-size 32 --lr 2e-4 --seed 0 "$@"
