#!/usr/bin/env bash
# The shipped model's four stages for another backbone, so that it is measured against today's on the same
# recipe: stage 1 from ImageNet on the DFDC crops, stage 2 self-blended pseudo-fakes (scripts/train_default.sh,
# train_sbi.sh), stage 3 degraded footage (train_degraded.sh), stage 4 today's generators (train_world.sh),
# each starting from the one before, then calibrated like v4. Every stage lives in $RUNS/<PREFIX>-s<N>
# (stage 4: $RUNS/<PREFIX>, calibrated copy $RUNS/cal-<PREFIX>.safetensors); re-run the same command to carry
# on after a session was cut short: finished stages are skipped, one cut short resumes (scripts/stage.sh).
#   MODEL=efficientnet_lite2 [PREFIX=lite2] bash scripts/train_chain.sh [TRAIN_ARGS...]
# TRAIN_ARGS go to every stage's `fakescope train` (--device cuda where a GPU is lent).
# Benchmark: python bench/bench_sources.py default $RUNS/cal-<PREFIX>.safetensors
set -euo pipefail
: "${MODEL:?name the backbone, e.g. MODEL=efficientnet_lite2}"
RUNS=${RUNS:-$HOME/.cache/fakescope-runs}
PREFIX=${PREFIX:-${MODEL#efficientnet_}}
here=$(dirname "$0")
export RUNS
OUT=$RUNS/$PREFIX-s1 SBI_OUT=$RUNS/$PREFIX-s2 CACHE=$RUNS/cache bash "$here/train_default.sh" "$@"
INIT=$RUNS/$PREFIX-s2/best.safetensors OUT=$PREFIX-s3 bash "$here/train_degraded.sh" --model "$MODEL" "$@"
INIT=$RUNS/$PREFIX-s3/best.safetensors OUT=$PREFIX bash "$here/train_world.sh" --model "$MODEL" "$@"
