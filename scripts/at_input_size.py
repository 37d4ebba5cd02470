"""A trained model re-expressed at another input size, its temperature refitted on the DFDC val crops.

    python scripts/at_input_size.py runs/default-sbi/best.safetensors --input-size 160 --out runs/at160.safetensors
    python scripts/model_card.py runs/at160.safetensors --out card160.json

EfficientNet has no layer tied to the input size, so the same weights run at 160 px as at 128. The trainer
shows the model random 80-100 % windows of crops loaded at 1.25x the input size, so faces look larger in
training than in a whole crop resized to the input at test: testing larger can make up for that ("FixRes",
Touvron et al. 2019). Only the temperature changes; the README says what this gave and why it is not shipped.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from fakescope.data import load_crop_images, read_crops
from fakescope.evaluate.metrics import expected_calibration_error, fit_temperature, roc_auc
from fakescope.models import FaceClassifier, create_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", help="bundled name or .safetensors")
    ap.add_argument("--input-size", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("FAKESCOPE_DATA", "../shared/data")))
    args = ap.parse_args()

    start = FaceClassifier.load(args.model, backend="torch")
    module = create_model(start.config.arch, input_size=args.input_size)
    module.load_state_dict(start.module.state_dict())
    config = start.config
    config.input_size, config.temperature = args.input_size, 1.0
    clf = FaceClassifier(module, config, backend="torch")

    val = [it for it in read_crops(args.data / "labels.csv", prefix="dfdc-faces/") if it.split == "val"]
    y = np.array([it.label for it in val])
    z = clf.logits(load_crop_images(val, args.input_size))
    config.temperature = fit_temperature(y, z)
    p = clf.probability(z)
    print(f"{args.input_size} px: temperature {config.temperature:.3f}, DFDC val frame AUC {roc_auc(y, p):.4f}, "
          f"ECE {expected_calibration_error(y, p):.4f}")
    clf.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
