"""A linear probe on frozen DINOv2 ViT-S/14 features, written as a `vit_small_dinov2` checkpoint.

    python scripts/dinov2_probe.py TRAIN.csv --out probe.safetensors [--input-size 224] [--max-dfdc 6000]
    fakescope calibrate probe.safetensors POOL.csv ... --out cal-probe.safetensors

The backbone is not trained: each training crop's pooled features (CLS + mean patch token, L2-normalised and
scaled, exactly as the model's own `forward_head(pre_logits=True)` gives them) are computed once and cached
beside the output (`<out>.features.npz`), and a logistic regression (scikit-learn, balanced classes) fitted
on them becomes the model's head. On a CPU this is the only way to put all of a training set in front of a
foundation backbone (a train step costs ~0.13 s a face here); what it answers is how far frozen features go
with the same data a fine-tuned CNN gets. Rows of the CSV's split `train` are used, each path once; the
DFDC crops (dataset DFDC) are subsampled to `--max-dfdc` (seeded) to fit a session.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np
import torch

from fakescope.data import load_crop_images, read_crops
from fakescope.faces.crop import CROP_MARGIN
from fakescope.models import FaceClassifier, ModelConfig, create_model

ARCH = "vit_small_dinov2"


def pooled_features(module: torch.nn.Module, clf: FaceClassifier, items, chunk: int = 256) -> np.ndarray:
    """(N, 768) pooled features of crops, resized whole to the model's input as scan feeds them."""
    out = []
    for i in range(0, len(items), chunk):
        x = torch.from_numpy(clf.preprocess(load_crop_images(items[i:i + chunk], clf.config.input_size)))
        with torch.inference_mode():
            out += [module.forward_head(module.forward_features(b), pre_logits=True).numpy() for b in x.split(32)]
        print(f"  features {min(i + chunk, len(items))}/{len(items)}", flush=True)
    return np.concatenate(out)


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("train", help="a CSV of labelled crops (its split=train rows are used)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--input-size", type=int, default=224)
    ap.add_argument("--max-dfdc", type=int, default=6000, help="DFDC crops kept (0: all)")
    ap.add_argument("--c", type=float, default=1.0, help="inverse L2 strength of the logistic regression")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    seen, items = set(), []
    for it in read_crops(args.train):
        if it.split == "train" and it.path not in seen:
            seen.add(it.path)
            items.append(it)
    dfdc = [it for it in items if it.dataset == "DFDC"]
    if args.max_dfdc and len(dfdc) > args.max_dfdc:
        keep = set(random.Random(args.seed).sample(range(len(dfdc)), args.max_dfdc))
        drop = {dfdc[i].path for i in range(len(dfdc)) if i not in keep}
        items = [it for it in items if it.path not in drop]
    y = np.array([it.label for it in items])
    print(f"{len(items)} training crops ({int(y.sum())} fake), {sum(it.dataset == 'DFDC' for it in items)} DFDC")

    module = create_model(ARCH, pretrained=True, input_size=args.input_size).eval()
    clf = FaceClassifier(module, ModelConfig.from_module(ARCH, module, crop_margin=CROP_MARGIN), backend="torch")
    cache = args.out.with_suffix(".features.npz")
    cached = np.load(cache) if cache.is_file() else None
    if cached is not None and np.array_equal(cached["y"], y):  # the same rows' labels: the same run's features
        x = cached["x"]
    else:
        start = time.time()
        x = pooled_features(module, clf, items)
        print(f"features in {time.time() - start:.0f} s")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, x=x, y=y)
    probe = LogisticRegression(C=args.c, class_weight="balanced", max_iter=5000).fit(x, y)
    with torch.no_grad():
        module.head.weight.copy_(torch.from_numpy(probe.coef_.astype(np.float32)))
        module.head.bias.copy_(torch.from_numpy(probe.intercept_.astype(np.float32)))
    clf.config.extra = {"probe": {"train": str(args.train), "crops": len(items), "c": args.c,
                                  "max_dfdc": args.max_dfdc, "seed": args.seed}}
    clf.save(args.out)
    print(f"train accuracy {probe.score(x, y):.3f}; wrote {args.out} (uncalibrated)")


if __name__ == "__main__":
    main()
