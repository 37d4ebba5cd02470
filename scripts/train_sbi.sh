#!/usr/bin/env bash
# Stage 2 of the default model: fine-tune stage 1 (runs/default, scripts/train_default.sh) with
# self-blended pseudo-fakes of DFDC's and real-people's real faces mixed into every batch.
# CPU: about 6 to 7 minutes an epoch on 2 cores. Called by scripts/train_default.sh.
set -euo pipefail
DATA=${DATA:-../shared/data}
export OMP_WAIT_POLICY=PASSIVE
[ -f cache/dfdc/manifest.csv ] || fakescope prepare "$DATA/labels.csv" --format csv --only dfdc-faces/ \
  --out cache/dfdc --workers 1 -q
[ -f cache/real-people/manifest.csv ] || fakescope prepare "$DATA/labels.csv" --format csv \
  --only videos/real-people/ --out cache/real-people --frames 8 --val 0 --test 0 --workers 1 -q
fakescope train cache/dfdc --official-split --extra-reals cache/real-people --pseudo-fakes 0.3 \
  --init runs/default/best.safetensors --model efficientnet_lite0 --input-size 128 \
  --epochs 4 --patience 2 --batch-size 32 --lr 2e-4 --seed 0 --out runs/default-sbi "$@"
