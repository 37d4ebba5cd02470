"""Measure a checkpoint (and the MesoNet baseline) on the shared data and write the figures of its card.

    python scripts/model_card.py default --out card.json      # any bundled name or .safetensors path

Every figure is a `fakescope evaluate` run on ../shared/data/labels.csv, and the card records the command
that gives it alone (for our model; MesoNet is built here from its published .h5). Frame level: dfdc-faces
val split and ffpp-faces (cross-dataset, never trained on), each crop resized whole to the model's input.
Video level: every video in videos/dfdc and videos/ffpp through the full scan pipeline (32 frames, YuNet,
tracking, max over persons); videos/real-people, all real, gives a false-positive rate.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from fakescope.evaluate.report import build_report, collect
from fakescope.models import FaceClassifier, ModelConfig, create_model

# figure: (split in labels.csv, the paths it covers, the level it is reported at)
FIGURES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "frame_dfdc_val": ("val", ("dfdc-faces/",), "frame"),
    "frame_ffpp_faces": ("crossval", ("ffpp-faces/",), "frame"),
    "video_dfdc_ffpp": ("video", ("videos/dfdc/", "videos/ffpp/"), "video"),
    "video_real_people": ("video", ("videos/real-people/",), "video"),
}


def figure(clf: FaceClassifier, labels: Path, split: str, only: tuple[str, ...], level: str) -> dict:
    """One `fakescope evaluate` of `labels` reduced to the card's figure at `level`."""
    ev = collect(clf, labels, "csv", split, prefix=only)
    report = build_report(ev, clf, str(labels), split, only)
    rep = report["overall"][level]
    if rep["n_fake"] == 0:  # reals alone: no AUC, only how often they are called fake
        probs = np.asarray(getattr(ev, level).probs)
        return {"n": rep["n"], "false_positive_rate": round(1 - rep["specificity"], 4),
                "median_p_fake": round(float(np.median(probs)), 4), "ece": round(rep["ece"], 4),
                "unscored": report["unscored"]}
    fig = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in rep.items() if k != "level"}
    methods = {m: r[level]["auc"] for by in report["by_method"].values() for m, r in by.items()}
    if level == "frame" and len(methods) > 1:
        fig["auc_per_method"] = {m: round(a, 4) for m, a in sorted(methods.items())}
    if report["files"]:
        fig["unscored"] = report["unscored"]
        fig["per_video"] = {str(Path(f["path"]).relative_to(labels.parent / "videos")): round(f["probability"], 4)
                            for f in report["files"]}
    return fig


def measure(clf: FaceClassifier, data: Path, log, model: str = "") -> dict:
    """The card's figures; with `model` (what `fakescope evaluate` takes), each says how to get it alone."""
    out = {}
    for name, (split, only, level) in FIGURES.items():
        t = time.time()
        out[name] = fig = figure(clf, data / "labels.csv", split, only, level)
        if model:
            fig["command"] = (f"fakescope evaluate {model} {data / 'labels.csv'} --split {split} "
                              + " ".join(f"--only {o}" for o in only))
        shown = (f"AUC {fig['auc']:.4f} ECE {fig['ece']:.4f}" if "auc" in fig
                 else f"false-positive rate {fig['false_positive_rate']:.3f}")
        log(f"{level}-level {name}: {shown} (n={fig['n']}, {time.time() - t:.0f}s)")
    return out


def mesonet_classifier(weights: Path, crop_margin: float) -> FaceClassifier:
    m = create_model("meso4", weights=weights)
    return FaceClassifier(m, ModelConfig.from_module("meso4", m, crop_margin=crop_margin, name=weights.stem))


def measure_with_baseline(clf: FaceClassifier, data: Path, mesonet: str, log, model: str) -> dict:
    """Our figures (`model`: how `fakescope evaluate` names the model), and MesoNet's (`mesonet`: its .h5
    relative to `data`; '' to skip) on the same inputs."""
    card = {"fakescope": measure(clf, data, log, model)}
    if mesonet:
        log("MesoNet baseline:")
        card["mesonet_" + Path(mesonet).stem] = measure(mesonet_classifier(data / mesonet, clf.config.crop_margin),
                                                       data, log)
    return card


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--data", default=os.environ.get("FAKESCOPE_DATA", "../shared/data"))
    ap.add_argument("--mesonet", default="peers/mesonet/Meso4_DF.h5", help="relative to --data; '' to skip")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    card = measure_with_baseline(FaceClassifier.load(args.model), Path(args.data), args.mesonet, print, args.model)
    Path(args.out).write_text(json.dumps(card, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
