#!/usr/bin/env bash
# Trains the bundled default model from ../shared/data (DFDC face crops, train split; selected on val).
# CPU: about 4 minutes an epoch at 128 px on 2 cores. Then: python scripts/ship_model.py runs/default
set -euo pipefail
DATA=${DATA:-../shared/data}
export OMP_WAIT_POLICY=PASSIVE
fakescope train "$DATA/labels.csv" --only dfdc-faces/ --model efficientnet_lite0 --input-size 128 \
  --epochs 8 --patience 3 --batch-size 32 --lr 5e-4 --seed 0 --out runs/default "$@"
