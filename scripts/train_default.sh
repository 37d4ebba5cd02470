#!/usr/bin/env bash
# Trains the bundled default model from ../shared/data, in two stages (CPU, 2 cores):
#   1. runs/default: EfficientNet-Lite0 fine-tuned from ImageNet on the DFDC face crops (train split),
#      selected on the val split. About 4 minutes an epoch at 128 px.
#   2. runs/default-sbi: stage 1 fine-tuned with self-blended pseudo-fakes (scripts/train_sbi.sh).
# Then: python scripts/ship_model.py runs/default-sbi
set -euo pipefail
DATA=${DATA:-../shared/data}
export OMP_WAIT_POLICY=PASSIVE
fakescope train "$DATA/labels.csv" --only dfdc-faces/ --model efficientnet_lite0 --input-size 128 \
  --epochs 8 --patience 3 --batch-size 32 --lr 5e-4 --seed 0 --out runs/default "$@"
bash "$(dirname "$0")/train_sbi.sh"
