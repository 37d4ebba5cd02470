#!/usr/bin/env bash
# Trains the bundled default model from ../shared/data, in two stages (CPU, 2 cores):
#   1. runs/default: EfficientNet-Lite0 fine-tuned from ImageNet on the DFDC face crops (train split),
#      selected on the val split. About 4 minutes an epoch at 128 px.
#   2. runs/default-sbi: stage 1 fine-tuned with self-blended pseudo-fakes (scripts/train_sbi.sh).
# Then: python scripts/ship_model.py runs/default-sbi
#   [MODEL=efficientnet_lite0] [OUT=runs/default] [SBI_OUT=runs/default-sbi] bash scripts/train_default.sh
# A finished stage is skipped and one cut short resumes (scripts/stage.sh); further arguments (e.g. --device
# cuda) go to both stages' `fakescope train`.
set -euo pipefail
DATA=${DATA:-../shared/data}
MODEL=${MODEL:-efficientnet_lite0}
OUT=${OUT:-runs/default}
export OMP_WAIT_POLICY=PASSIVE
# shellcheck source=scripts/stage.sh
source "$(dirname "$0")/stage.sh"
train_stage "$OUT" "$DATA/labels.csv" --only dfdc-faces/ --model "$MODEL" --input-size 128 \
  --epochs 8 --patience 3 --batch-size 32 --lr 5e-4 --seed 0 "$@"
MODEL=$MODEL INIT=$OUT/best.safetensors OUT=${SBI_OUT:-runs/default-sbi} bash "$(dirname "$0")/train_sbi.sh" "$@"
