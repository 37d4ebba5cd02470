# Sourced by the training scripts: one stage of a recipe, so that a chain of stages can be re-run after a
# session was cut short without training a finished stage again.
#   train_stage OUT_DIR TRAIN_ARGS...
# A stage whose OUT_DIR holds history.json (written when `fakescope train` ends) is finished and skipped;
# one cut short (state.pt, written after every epoch) resumes; else it starts afresh. Delete OUT_DIR to
# train it again.
train_stage() {
  local out=$1
  shift
  if [ -f "$out/history.json" ]; then
    echo "$out is trained (history.json): skipped"
    return 0
  fi
  local resume=()
  [ -f "$out/state.pt" ] && resume=(--resume)
  fakescope train "$@" --out "$out" "${resume[@]}"
}
