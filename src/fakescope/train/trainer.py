"""A plain, reproducible fine-tuning loop for CPU (or a GPU when there is one).

All crops are decoded once into memory (14k crops at 160 px is about 1 GB), then each epoch draws augmented
views. The best epoch by validation AUC is kept; the learning rate drops when validation loss plateaus;
training stops early after `patience` epochs without a better AUC. Finally a temperature is fitted on the
validation logits so the shipped probabilities are calibrated.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fakescope.data import CropItem, load_crop_images
from fakescope.evaluate.metrics import expected_calibration_error, fit_temperature, log_loss, roc_auc
from fakescope.models import FaceClassifier, ModelConfig, create_model
from fakescope.train.augment import augment


@dataclass
class TrainConfig:
    model: str = "efficientnet_lite0"
    input_size: int = 128
    epochs: int = 6
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    patience: int = 2
    seed: int = 0
    crop_margin: float = 0.9  # matches the tight DFDC crops (see README, "crop policy")
    # Crops are stored this much larger than the input so random crops can move and rescale the face.
    load_scale: float = 1.25
    device: str = "auto"


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _batches(n: int, batch_size: int, rng: np.random.Generator, shuffle: bool):
    order = rng.permutation(n) if shuffle else np.arange(n)
    for i in range(0, n, batch_size):
        yield order[i:i + batch_size]


def _to_tensor(batch: np.ndarray, clf: FaceClassifier, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(clf.preprocess(batch)).to(device)


def predict_logits(clf: FaceClassifier, images: np.ndarray, device: torch.device, batch_size: int = 64
                   ) -> np.ndarray:
    clf.module.eval()
    out = []
    with torch.inference_mode():
        for idx in _batches(len(images), batch_size, np.random.default_rng(0), shuffle=False):
            out.append(clf.module(_to_tensor(images[idx], clf, device)).float().reshape(-1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def train_classifier(train_items: Sequence[CropItem], val_items: Sequence[CropItem], config: TrainConfig,
                     out_dir: str | Path, log: Callable[[str], None] = print) -> FaceClassifier:
    """Train, keep the best epoch, calibrate; writes `best.safetensors`, `last.safetensors` and
    `history.json` (+ `curves.png`) to `out_dir` and returns the calibrated best model."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = _device(config.device)

    module = create_model(config.model, pretrained=True, input_size=config.input_size)
    clf = FaceClassifier(module.to(device), ModelConfig.from_module(config.model, module,
                                                                    crop_margin=config.crop_margin,
                                                                    name=out_dir.name), backend="torch")
    load_size = int(round(config.input_size * config.load_scale))
    t0 = time.time()
    train_x = load_crop_images(train_items, load_size)
    val_x = load_crop_images(val_items, config.input_size)
    train_y = np.array([it.label for it in train_items], np.float32)
    val_y = np.array([it.label for it in val_items], np.int64)
    log(f"loaded {len(train_x)} train / {len(val_x)} val crops in {time.time() - t0:.0f}s")

    pos_weight = torch.tensor([(len(train_y) - train_y.sum()) / max(train_y.sum(), 1)], device=device)
    opt = torch.optim.AdamW(module.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.3, patience=0)
    history: list[dict] = []
    best_auc, best_epoch, step = -math.inf, -1, 0
    for epoch in range(1, config.epochs + 1):
        module.train()
        t_epoch, losses = time.time(), []
        for idx in _batches(len(train_x), config.batch_size, rng, shuffle=True):
            if len(idx) < 2:
                continue  # batch norm needs two samples
            views = np.stack([augment(train_x[i], config.input_size, rng) for i in idx])
            x = _to_tensor(views, clf, device)
            y = torch.from_numpy(train_y[idx]).to(device)
            if step < config.warmup_steps:
                for g in opt.param_groups:
                    g["lr"] = config.lr * (step + 1) / config.warmup_steps
            loss = F.binary_cross_entropy_with_logits(module(x).reshape(-1), y, pos_weight=pos_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            step += 1
        z = predict_logits(clf, val_x, device)
        p = 1 / (1 + np.exp(-z))
        row = {"epoch": epoch, "train_loss": float(np.mean(losses)), "val_loss": log_loss(val_y, p),
               "val_auc": roc_auc(val_y, p), "lr": opt.param_groups[0]["lr"],
               "seconds": round(time.time() - t_epoch, 1)}
        history.append(row)
        log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        plateau.step(row["val_loss"])
        clf.save(out_dir / "last.safetensors")
        if best_epoch < 0 or row["val_auc"] > best_auc:
            best_auc, best_epoch = row["val_auc"], epoch
            clf.save(out_dir / "best.safetensors")
        elif epoch - best_epoch >= config.patience:
            log(f"early stop: no better val AUC since epoch {best_epoch}")
            break

    best = FaceClassifier.load(out_dir / "best.safetensors", backend="torch")
    best.module.to(device)
    z = predict_logits(best, val_x, device)
    best.config.temperature = fit_temperature(val_y, z)
    p = 1 / (1 + np.exp(-z / best.config.temperature))
    summary = {"config": asdict(config), "best_epoch": best_epoch, "history": history,
               "n_train": len(train_items), "n_val": len(val_items),
               "val": {"frame_auc": roc_auc(val_y, p), "temperature": best.config.temperature,
                       "log_loss": log_loss(val_y, p), "ece": expected_calibration_error(val_y, p)}}
    best.module.cpu()
    best.save(out_dir / "best.safetensors")
    (out_dir / "history.json").write_text(json.dumps(summary, indent=2))
    _plot_curves(history, out_dir / "curves.png")
    log(f"best epoch {best_epoch}: val frame AUC {summary['val']['frame_auc']:.4f}, "
        f"temperature {best.config.temperature:.3f}, ECE {summary['val']['ece']:.4f}")
    best.backend = "onnx"
    return best


def _plot_curves(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    a.plot(epochs, [h["train_loss"] for h in history], "o-", label="train loss")
    a.plot(epochs, [h["val_loss"] for h in history], "o-", label="val loss")
    a.set_xlabel("epoch")
    a.legend()
    b.plot(epochs, [h["val_auc"] for h in history], "o-", color="C2")
    b.set_xlabel("epoch")
    b.set_ylabel("val frame AUC")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
