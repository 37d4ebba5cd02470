"""`fakescope eda`: what in a set of labelled crops could separate the classes *other than* the manipulation.

A detector learns whatever separates its training classes most cheaply. If the fakes of a dataset are
smaller, more compressed, darker or framed differently than its reals, a model can score well by learning
that, and fail on the next dataset. This looks for such shortcuts before training:

- the mean and standard-deviation face of each class and their differences (framing, colour, blur);
- class balance overall and per dataset, method and split;
- crop size, JPEG quality (estimated from the quantisation tables) and bytes per pixel, per class;
- for each of those simple features, the ROC AUC it alone reaches at telling fake from real
  ("separability": 0.5 is none, 1.0 is a perfect shortcut).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from fakescope.data.crops import CropItem, load_crop_images, read_crops
from fakescope.data.split import spread
from fakescope.evaluate.metrics import roc_auc

CLASSES = ("real", "fake")
# IJG standard luminance table (ITU T.81 Annex K), quality 50: files scale it by quality.
STD_LUMINANCE_SUM = 3664  # sum of its 64 entries
SHORTCUT_AUC = 0.65  # separability above this is worth a warning


def jpeg_quality(quant_table: Sequence[int]) -> float:
    """IJG quality (1-100) whose scaled standard table has the same sum as this luminance table.

    Sums do not depend on the order the table is stored in (zigzag or not), and files written by libjpeg,
    PIL or OpenCV use exactly this scaling, so their quality comes back to within about one step."""
    scale = 100.0 * sum(quant_table) / STD_LUMINANCE_SUM  # IJG: S = 5000/q below 50, 200 - 2q above
    quality = 5000.0 / scale if scale > 100 else (200.0 - scale) / 2
    return float(np.clip(quality, 1, 100))


def file_facts(path: Path) -> dict:
    """Size, format, JPEG quality (None when not a JPEG) and bytes per pixel, from the header alone."""
    with Image.open(path) as im:
        w, h = im.size
        quant = getattr(im, "quantization", None) or {}
        fmt = im.format or "?"
    return {"width": w, "height": h, "format": fmt, "jpeg_quality": jpeg_quality(quant[0]) if 0 in quant else None,
            "bytes_per_pixel": path.stat().st_size / max(1, w * h)}


def _summary(values: list[float]) -> dict:
    v = np.asarray([x for x in values if x is not None], np.float64)
    if not len(v):
        return {"n": 0}
    q = np.percentile(v, [0, 5, 50, 95, 100])
    return {"n": len(v), "min": q[0], "p5": q[1], "median": q[2], "p95": q[3], "max": q[4],
            "mean": float(v.mean())}


def _separability(real: list, fake: list) -> float:
    """How well the feature alone ranks fakes apart from reals, either way round (0.5 = not at all)."""
    r = [x for x in real if x is not None]
    f = [x for x in fake if x is not None]
    if not r or not f:
        return float("nan")
    auc = roc_auc([0] * len(r) + [1] * len(f), r + f)
    return float(max(auc, 1 - auc))


def balance(items: Sequence[CropItem]) -> dict:
    def count(key) -> dict:
        c = Counter((key(it), CLASSES[it.label]) for it in items)
        return {k: {cls: c[(k, cls)] for cls in CLASSES} for k in sorted({k for k, _ in c})}

    return {"overall": {cls: sum(1 for it in items if it.label == i) for i, cls in enumerate(CLASSES)},
            "by_dataset": count(lambda it: it.dataset or "-"), "by_method": count(lambda it: it.method or "-"),
            "by_split": count(lambda it: it.split or "-")}


def face_statistics(by_class: dict[str, list[CropItem]], size: int
                    ) -> tuple[dict[str, np.ndarray], dict[str, list[float]]]:
    """Mean and standard-deviation image per class ((size, size, 3) floats in [0, 255]), and each crop's
    mean brightness."""
    stats, brightness = {}, {}
    for cls, items in by_class.items():
        x = load_crop_images(items, size).astype(np.float32)
        stats[f"mean_{cls}"], stats[f"std_{cls}"] = x.mean(0), x.std(0)
        brightness[cls] = x.reshape(len(x), -1).mean(1).tolist()
    return stats, brightness


def explore(source: str | Path, out: str | Path, limit: int = 2000, size: int = 128,
            prefix: str | Sequence[str] | None = None) -> dict:
    """Write eda.json, eda.md, faces.png and distributions.png for the crops at `source` (a cache, a
    folder of real/ and fake/, or a CSV); at most `limit` crops per class are looked at."""
    items = read_crops(source, prefix)
    by_class = {cls: spread([it for it in items if it.label == i], limit) for i, cls in enumerate(CLASSES)}
    by_class = {cls: its for cls, its in by_class.items() if its}
    facts = {cls: [file_facts(it.path) for it in its] for cls, its in by_class.items()}
    faces, brightness = face_statistics(by_class, size)
    features = {
        "width": lambda f: f["width"], "height": lambda f: f["height"], "jpeg_quality": lambda f: f["jpeg_quality"],
        "bytes_per_pixel": lambda f: f["bytes_per_pixel"],
    }
    per_feature = {name: {cls: _summary([get(f) for f in facts[cls]]) for cls in facts}
                   for name, get in features.items()}
    per_feature["mean_brightness"] = {cls: _summary(v) for cls, v in brightness.items()}
    separability = {}
    if len(by_class) == 2:
        for name, get in features.items():
            separability[name] = _separability([get(f) for f in facts["real"]], [get(f) for f in facts["fake"]])
        separability["mean_brightness"] = _separability(brightness["real"], brightness["fake"])
    if len(faces) == 4:
        diff = faces["mean_fake"] - faces["mean_real"]
        separability_note = {"mean_face_max_abs_diff": float(np.abs(diff).max()),
                             "mean_face_mean_abs_diff": float(np.abs(diff).mean())}
    else:
        separability_note = {}
    formats = {cls: dict(Counter(f["format"] for f in facts[cls])) for cls in facts}
    report = {"schema": "fakescope.eda/1", "source": str(source), "crops": len(items),
              "looked_at": {cls: len(its) for cls, its in by_class.items()}, "balance": balance(items),
              "formats": formats, "features": per_feature, "separability_auc": separability,
              "face_difference": separability_note,
              "warnings": [f"{name} alone separates the classes (AUC {auc:.2f}): a shortcut a model can learn"
                           for name, auc in separability.items() if auc > SHORTCUT_AUC]}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eda.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    (out / "eda.md").write_text(to_markdown(report))
    _plot_faces(faces, out / "faces.png")
    _plot_distributions(facts, brightness, out / "distributions.png")
    return report


def to_markdown(report: dict) -> str:
    b = report["balance"]
    lines = [f"# Shortcuts in `{report['source']}`", "",
             f"{report['crops']} crops: {b['overall']['real']} real, {b['overall']['fake']} fake. Looked at "
             + ", ".join(f"{n} {c}" for c, n in report["looked_at"].items()) + " (evenly spread).", ""]
    lines += [f"> **Warning:** {w}" for w in report["warnings"]] + ([""] if report["warnings"] else [])
    lines += ["## What each simple feature alone reaches (ROC AUC, 0.5 = nothing)", "",
              "| feature | separability AUC | real median | fake median |", "|---|---|---|---|"]
    for name, stats in report["features"].items():
        auc = report["separability_auc"].get(name, float("nan"))
        med = {cls: stats.get(cls, {}).get("median") for cls in CLASSES}
        lines.append(f"| {name} | {auc:.3f} | " + " | ".join("n/a" if m is None else f"{m:.3g}" for m in
                                                              med.values()) + " |")
    lines += ["", "## Class balance", "", "| by | value | real | fake |", "|---|---|---|---|"]
    for by in ("by_dataset", "by_method", "by_split"):
        lines += [f"| {by[3:]} | {k} | {v['real']} | {v['fake']} |" for k, v in b[by].items()]
    lines += ["", f"File formats: {report['formats']}", "",
              ("Figures: `faces.png` (mean and standard-deviation face per class, and fake minus real), "
               "`distributions.png` (crop size, JPEG quality, bytes per pixel, brightness per class)."), ""]
    return "\n".join(lines)


def _plot_faces(faces: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(10, 6.8))
    for row, stat in enumerate(("mean", "std")):
        for col, cls in enumerate(CLASSES):
            ax = axes[row, col]
            if f"{stat}_{cls}" in faces:
                img = faces[f"{stat}_{cls}"]
                ax.imshow(np.clip(img / (img.max() or 1) if stat == "std" else img / 255, 0, 1))
            ax.set_title(f"{stat} face, {cls}")
            ax.axis("off")
        ax = axes[row, 2]
        if f"{stat}_real" in faces and f"{stat}_fake" in faces:
            diff = (faces[f"{stat}_fake"] - faces[f"{stat}_real"]).mean(2)
            lim = float(np.abs(diff).max()) or 1.0
            im = ax.imshow(diff, cmap="coolwarm", vmin=-lim, vmax=lim)
            fig.colorbar(im, ax=ax, fraction=0.046)
        ax.set_title(f"{stat}: fake - real (grey levels)")
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_distributions(facts: dict[str, list[dict]], brightness: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("crop width (px)", lambda f: f["width"]), ("JPEG quality (estimated)", lambda f: f["jpeg_quality"]),
              ("bytes per pixel", lambda f: f["bytes_per_pixel"])]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    for ax, (title, get) in zip(axes, panels):
        for cls, class_facts in facts.items():
            v = [get(f) for f in class_facts if get(f) is not None]
            if v:
                ax.hist(v, bins=30, alpha=0.5, label=f"{cls} (n={len(v)})")
        ax.set_title(title)
        ax.legend(fontsize=8)
    for cls, v in brightness.items():
        axes[3].hist(v, bins=30, alpha=0.5, label=cls)
    axes[3].set_title("mean brightness")
    axes[3].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
