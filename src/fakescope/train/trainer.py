"""A plain, reproducible fine-tuning loop for CPU (or a GPU when there is one).

All crops are decoded once into memory (14k crops at 160 px is about 1 GB), then each epoch draws augmented
views. A share of every batch can be self-blended pseudo-fakes made on the fly from real faces
(`pseudo_fakes`, see train/sbi.py). The first `freeze_epochs` train the head alone, so the random head
does not wreck the pretrained features before it has learnt anything. The best epoch by validation AUC is
kept; the learning rate drops when validation loss plateaus; training stops early after `patience` epochs
without a better AUC. Every epoch leaves `last.safetensors` and `state.pt`, from which `resume` carries on.
Finally a temperature is fitted on the validation logits so the shipped probabilities are calibrated.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fakescope.data import CropItem, load_crop_images, read_crops
from fakescope.data.crops import IMAGE_SUFFIXES, MANIFEST
from fakescope.errors import FakescopeError
from fakescope.evaluate.metrics import expected_calibration_error, fit_temperature, log_loss, roc_auc
from fakescope.models import FaceClassifier, ModelConfig, create_model, head_module
from fakescope.models.classifier import check_device
from fakescope.train.augment import augment
from fakescope.train.config import BALANCING, MASKS, TUNING, TrainConfig
from fakescope.train.sbi import self_blend

STATE = "state.pt"


@dataclass
class TrainState:
    """Where a run stands after an epoch: with last.safetensors, all `resume` needs."""

    epoch: int = 0
    step: int = 0
    best_auc: float = -math.inf
    best_epoch: int = -1
    history: list[dict] = field(default_factory=list)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return check_device(name)


def _to_tensor(batch: np.ndarray, clf: FaceClassifier, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(clf.preprocess(batch)).to(device)


def predict_logits(clf: FaceClassifier, images: np.ndarray) -> np.ndarray:
    """Logits in eval mode (batch norm on its running statistics), on whatever device the model is on."""
    clf.module.eval()
    return clf.logits(images, batch_size=64)


def read_extra_reals(source: str | Path) -> list[CropItem]:
    """Real face crops from elsewhere, for the training side only: a prepared cache, a CSV, a folder with
    real/ (its fakes are ignored), or a plain folder of images, all taken as real. They widen what "real"
    looks like and, with pseudo-fakes, are blended into fakes too, so their source is on both sides of
    the label and cannot become a shortcut for "real"."""
    path = Path(source)
    if path.is_dir() and not (path / MANIFEST).is_file() and not (path / "real").is_dir():
        items = [CropItem(p, 0, group=f"extra:{p.relative_to(path)}") for p in sorted(path.rglob("*"))
                 if p.suffix.lower() in IMAGE_SUFFIXES]
    else:
        items = [it for it in read_crops(path) if it.label == 0]
    if not items:
        raise FakescopeError(f"{source}: no real face crops found")
    return items


def _check_config(config: TrainConfig) -> None:
    if not 0 <= config.pseudo_fakes < 1:
        raise FakescopeError("pseudo-fakes is the share of each batch: give a value in [0, 1)")
    if not 0 <= config.degrade <= 1:
        raise FakescopeError("degrade is the share of training views damaged: give a value in [0, 1]")
    if not 0 <= config.lower_face <= 1:
        raise FakescopeError("lower-face is the share of pseudo-fakes blended nose to chin: give a value in [0, 1]")
    if config.balance not in BALANCING:
        raise FakescopeError(f"balance must be one of {', '.join(BALANCING)}")
    if config.tune not in TUNING:
        raise FakescopeError(f"tune must be one of {', '.join(TUNING)}")
    if config.masks not in MASKS:
        raise FakescopeError(f"masks must be one of {', '.join(MASKS)}")
    if config.masks == "mesh" and config.pseudo_fakes > 0:
        from fakescope.faces.landmarks import INSTALL, mesh_available

        if not mesh_available():  # said before minutes of loading crops, not after
            raise FakescopeError(f"--masks mesh needs MediaPipe's face mesh model: {INSTALL}")
    if config.freeze_epochs < 0 or config.epochs < 1:
        raise FakescopeError("epochs must be at least 1 and freeze-epochs at least 0")


def _split_batch(config: TrainConfig, has_reals: bool) -> tuple[int, int]:
    """(dataset crops, pseudo-fakes) per batch."""
    n_sbi = round(config.pseudo_fakes * config.batch_size) if has_reals else 0
    return max(1, config.batch_size - n_sbi), n_sbi


def _epoch_order(labels: np.ndarray, balance: str, rng: np.random.Generator) -> np.ndarray:
    """Indices for one epoch; with "sample", the rarer class drawn again (with replacement) up to the other."""
    if balance != "sample" or len(np.unique(labels)) < 2:
        return rng.permutation(len(labels))
    by_class = [np.flatnonzero(labels == c) for c in (0, 1)]
    big = max(len(b) for b in by_class)
    drawn = [b if len(b) == big else np.concatenate([b, rng.choice(b, big - len(b))]) for b in by_class]
    return rng.permutation(np.concatenate(drawn))


def fake_share(labels: np.ndarray, config: TrainConfig) -> float:
    """Expected share of fakes among the views the model sees, pseudo-fakes included."""
    n_items, n_sbi = _split_batch(config, bool((labels == 0).any()))
    q = 0.5 if config.balance == "sample" and len(np.unique(labels)) == 2 else float(labels.mean())
    return (n_sbi + n_items * q) / (n_items + n_sbi)


def _set_trainable(module: torch.nn.Module, frozen_backbone: bool, tune: str = "all") -> None:
    """Train mode; with a frozen backbone only the head learns, and batch norm keeps its ImageNet statistics.
    With `tune="norms"` the head and the normalisation layers learn."""
    head = {id(p) for p in head_module(module).parameters()}
    norms = {id(p) for m in module.modules()
             if isinstance(m, (torch.nn.LayerNorm, torch.nn.modules.batchnorm._BatchNorm)) for p in m.parameters()}
    for p in module.parameters():
        p.requires_grad = id(p) in head or (not frozen_backbone and (tune == "all" or id(p) in norms))
    module.train()
    if frozen_backbone:
        for m in module.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()


def _make_batch(idx: np.ndarray, images: np.ndarray, labels: np.ndarray, landmarks: list, reals: np.ndarray,
                n_sbi: int, config: TrainConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    views = [augment(images[i], config.input_size, rng, config.degrade) for i in idx]
    y = list(labels[idx])
    for i in rng.choice(reals, n_sbi) if n_sbi else []:
        fake, _ = self_blend(images[i], landmarks[i], rng, config.lower_face)
        views.append(augment(fake, config.input_size, rng, config.degrade))
        y.append(1.0)
    return np.stack(views), np.asarray(y, np.float32)


def _blend_landmarks(items: Sequence[CropItem], images: np.ndarray, reals: np.ndarray, config: TrainConfig,
                     log: Callable[[str], None]) -> list:
    """Per training crop, what its pseudo-fakes' masks are drawn from: its 5 landmarks, or with masks="mesh"
    the face mesh of each real crop (found once, before the first epoch; the 5 points where it finds no face)."""
    landmarks: list = [it.landmarks for it in items]
    if config.masks != "mesh" or config.pseudo_fakes == 0:
        return landmarks
    from fakescope.faces.landmarks import FaceMesh

    mesh, t0, missed = FaceMesh(threads=torch.get_num_threads()), time.time(), 0
    for i in reals:
        points = mesh(images[i])
        missed += points is None
        if points is not None:
            landmarks[i] = points
    log(f"face mesh on {len(reals)} real crops in {time.time() - t0:.0f}s ({missed} without a face: 5 points)")
    return landmarks


def _validation_set(items: Sequence[CropItem], config: TrainConfig, log: Callable[[str], None]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Val crops at the input size. With pseudo-fakes and no fakes in val (training on reals alone), fixed
    pseudo-fakes of the val reals stand in, so val AUC still means something."""
    x = load_crop_images(items, config.input_size)
    y = np.array([it.label for it in items], np.int64)
    if config.pseudo_fakes > 0 and not y.any() and len(y):
        rng = np.random.default_rng(config.seed + 1)
        fakes = np.stack([self_blend(img, it.landmarks, rng, config.lower_face)[0] for img, it in zip(x, items)])
        log(f"val has no fakes: scoring against {len(fakes)} fixed pseudo-fakes of its reals")
        x, y = np.concatenate([x, fakes]), np.concatenate([y, np.ones(len(fakes), np.int64)])
    if len(np.unique(y)) < 2:
        log("warning: val holds one class only; val AUC is undefined and the first epoch is kept")
    return x, y


def _save_state(path: Path, config: TrainConfig, state: TrainState, opt, plateau, rng: np.random.Generator
                ) -> None:
    torch.save({"config": asdict(config), "state": asdict(state), "optimizer": opt.state_dict(),
                "plateau": plateau.state_dict(), "numpy_rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state()}, path)


def _load_state(out_dir: Path, clf: FaceClassifier, config: TrainConfig, opt, plateau,
                rng: np.random.Generator) -> TrainState:
    from safetensors.torch import load_file

    saved = torch.load(out_dir / STATE, map_location="cpu", weights_only=True)
    changed = [k for k in ("model", "input_size", "load_scale") if saved["config"].get(k) != getattr(config, k)]
    if changed:
        raise FakescopeError(f"cannot resume {out_dir}: it was trained with another {', '.join(changed)}")
    weights = load_file(str(out_dir / "last.safetensors"))
    clf.module.load_state_dict({k: v.float() for k, v in weights.items()})
    opt.load_state_dict(saved["optimizer"])
    plateau.load_state_dict(saved["plateau"])
    rng.bit_generator.state = saved["numpy_rng"]
    torch.set_rng_state(saved["torch_rng"])
    return TrainState(**saved["state"])


def _load_init(module: torch.nn.Module, config: TrainConfig) -> None:
    """Start from a trained model of the same family. Another input size is fine where the weights do not
    depend on it (a convolutional net with global pooling: fine-tuning at a higher resolution), and refused
    where they do (MesoNet's dense layer)."""
    start = FaceClassifier.load(config.init, backend="torch")
    if start.config.arch != config.model:
        raise FakescopeError(f"--init {config.init} is {start.config.arch}; this run is {config.model}")
    try:
        module.load_state_dict(start.module.state_dict())
    except RuntimeError:
        raise FakescopeError(f"--init {config.init} was trained at {start.config.input_size} px and its weights "
                             f"do not fit {config.model} at {config.input_size} px") from None


def train_classifier(train_items: Sequence[CropItem], val_items: Sequence[CropItem], config: TrainConfig,
                     out_dir: str | Path, log: Callable[[str], None] = print, resume: bool = False
                     ) -> FaceClassifier:
    """Train, keep the best epoch, calibrate; writes `best.safetensors`, `last.safetensors`, `state.pt` and
    `history.json` (+ `curves.png`) to `out_dir` and returns the calibrated best model. With `resume`,
    carries on from the last finished epoch in `out_dir`."""
    _check_config(config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = _device(config.device)

    module = create_model(config.model, pretrained=config.pretrained and not config.init,
                          input_size=config.input_size)
    if config.init:
        _load_init(module, config)
    clf = FaceClassifier(module, ModelConfig.from_module(config.model, module, crop_margin=config.crop_margin,
                                                         name=out_dir.name), backend="torch", device=str(device))
    load_size = round(config.input_size * config.load_scale)
    t0 = time.time()
    train_x = load_crop_images(train_items, load_size)
    train_y = np.array([it.label for it in train_items], np.float32)
    reals = np.flatnonzero(train_y == 0)
    landmarks = _blend_landmarks(train_items, train_x, reals, config, log)
    val_x, val_y = _validation_set(val_items, config, log)
    log(f"loaded {len(train_x)} train / {len(val_x)} val crops in {time.time() - t0:.0f}s")

    n_items, n_sbi = _split_batch(config, len(reals) > 0)
    q = fake_share(train_y, config)
    if q == 0:
        raise FakescopeError("no fakes to learn from: add fake crops or make pseudo-fakes (--pseudo-fakes)")
    pos_weight = torch.tensor([(1 - q) / q], device=device) if config.balance == "weight" else None
    opt = torch.optim.AdamW(module.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.3, patience=0)
    state = TrainState()
    if resume and (out_dir / STATE).exists():
        state = _load_state(out_dir, clf, config, opt, plateau, rng)
        log(f"resuming after epoch {state.epoch} (best so far: epoch {state.best_epoch})")
    elif resume:
        log(f"nothing to resume in {out_dir}: starting afresh")
    for epoch in range(state.epoch + 1, config.epochs + 1):
        frozen = epoch <= config.freeze_epochs
        _set_trainable(module, frozen, config.tune)
        t_epoch, losses = time.time(), []
        order = _epoch_order(train_y, config.balance, rng)
        for start in range(0, len(order), n_items):
            idx = order[start:start + n_items]
            views, y = _make_batch(idx, train_x, train_y, landmarks, reals, n_sbi, config, rng)
            if len(y) < 2:
                continue  # batch norm needs two samples
            if state.step < config.warmup_steps:
                for g in opt.param_groups:
                    g["lr"] = config.lr * (state.step + 1) / config.warmup_steps
            logits = module(_to_tensor(views, clf, device)).reshape(-1)
            loss = F.binary_cross_entropy_with_logits(logits, torch.from_numpy(y).to(device), pos_weight=pos_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            state.step += 1
        p = clf.probability(predict_logits(clf, val_x))  # temperature 1 until the end
        row = {"epoch": epoch, "train_loss": float(np.mean(losses)) if losses else float("nan"),
               "val_loss": log_loss(val_y, p), "val_auc": roc_auc(val_y, p), "lr": opt.param_groups[0]["lr"],
               "frozen": frozen, "seconds": round(time.time() - t_epoch, 1)}
        state.history.append(row)
        state.epoch = epoch
        log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        plateau.step(row["val_loss"])
        clf.save(out_dir / "last.safetensors")
        stop = False
        if state.best_epoch < 0 or row["val_auc"] > state.best_auc:
            state.best_auc, state.best_epoch = row["val_auc"], epoch
            clf.save(out_dir / "best.safetensors")
        elif epoch > config.freeze_epochs and epoch - max(state.best_epoch, config.freeze_epochs) >= config.patience:
            log(f"early stop: no better val AUC since epoch {state.best_epoch}")
            stop = True
        _save_state(out_dir / STATE, config, state, opt, plateau, rng)
        if stop:
            break

    best = FaceClassifier.load(out_dir / "best.safetensors", backend="torch", device=str(device))
    z = predict_logits(best, val_x)
    best.config.temperature = fit_temperature(val_y, z)
    p = best.probability(z)
    summary = {"config": asdict(config), "best_epoch": state.best_epoch, "history": state.history,
               "n_train": len(train_items), "n_val": len(val_items), "n_val_scored": len(val_y),
               "pseudo_fakes_per_batch": n_sbi, "fake_share_seen": q,
               "val": {"frame_auc": roc_auc(val_y, p), "temperature": best.config.temperature,
                       "log_loss": log_loss(val_y, p), "ece": expected_calibration_error(val_y, p)}}
    best.save(out_dir / "best.safetensors")
    (out_dir / "history.json").write_text(json.dumps(summary, indent=2))
    _plot_curves(state.history, out_dir / "curves.png")
    log(f"best epoch {state.best_epoch}: val frame AUC {summary['val']['frame_auc']:.4f}, "
        f"temperature {best.config.temperature:.3f}, ECE {summary['val']['ece']:.4f}")
    return FaceClassifier.load(out_dir / "best.safetensors")  # for inference: CPU, ONNX Runtime


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
