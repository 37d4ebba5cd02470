"""Measure a checkpoint (and the MesoNet baseline) on the shared data and write the figures of its card.

    python scripts/model_card.py default --out card.json      # any bundled name or .safetensors path

Frame level: dfdc-faces val split and ffpp-faces (cross-dataset, never trained on), each crop resized whole
to the model's input. Video level: every video in videos/dfdc and videos/ffpp through the full scan
pipeline (32 frames, YuNet, tracking, max over persons); videos/real-people gives a false-positive rate.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from fakescope.data import read_crops
from fakescope.evaluate.metrics import binary_report, expected_calibration_error, roc_auc
from fakescope.evaluate.scoring import score_crops, score_videos
from fakescope.models import FaceClassifier, ModelConfig, create_model
from fakescope.scan import Scanner


def _round(d: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


def measure(clf: FaceClassifier, data: Path, log) -> dict:
    items = read_crops(data / "labels.csv")
    dfdc_val = [it for it in items if it.split == "val" and it.path.is_relative_to(data / "dfdc-faces")]
    ffpp = [it for it in items if it.split == "crossval"]
    out: dict = {}
    for name, subset in (("dfdc_val", dfdc_val), ("ffpp_faces", ffpp)):
        t = time.time()
        p = score_crops(clf, subset)
        y = np.array([it.label for it in subset])
        rep = _round(binary_report(y, p, clf.config.threshold))
        if name == "ffpp_faces":
            methods = sorted({it.method for it in subset if it.label == 1})
            reals = np.array([it.label == 0 for it in subset])
            rep["auc_per_method"] = {
                m: round(roc_auc(y[reals | np.array([it.method == m for it in subset])],
                                 p[reals | np.array([it.method == m for it in subset])]), 4) for m in methods}
        out[f"frame_{name}"] = rep
        log(f"frame-level {name}: AUC {rep['auc']:.4f} ECE {rep['ece']:.4f} (n={len(subset)}, {time.time()-t:.0f}s)")

    scanner = Scanner(model=clf)
    videos = sorted((data / "videos" / "dfdc").rglob("*.mp4")) + sorted((data / "videos" / "ffpp").rglob("*.mp4"))
    t = time.time()
    results = score_videos(scanner, videos)
    scored = [(r, 1 if "/fake/" in r.path else 0) for r in results if r.probability is not None]
    y = np.array([lab for _, lab in scored])
    p = np.array([r.probability for r, _ in scored])
    rep = _round(binary_report(y, p, clf.config.threshold))
    rep["unscored"] = [r.message for r in results if r.probability is None]
    rep["per_video"] = {Path(r.path).parent.parent.name + "/" + Path(r.path).parent.name + "/" + Path(r.path).name:
                        round(r.probability, 4) for r, _ in scored}
    out["video_dfdc_ffpp"] = rep
    log(f"video-level dfdc+ffpp: AUC {rep['auc']:.4f} acc {rep['accuracy']:.3f} (n={len(scored)}, {time.time()-t:.0f}s)")

    reals = score_videos(scanner, sorted((data / "videos" / "real-people").glob("*.mp4")))
    probs = [r.probability for r in reals if r.probability is not None]
    out["video_real_people"] = {
        "n": len(probs), "false_positive_rate": round(float(np.mean(np.array(probs) >= clf.config.threshold)), 4),
        "median_p_fake": round(float(np.median(probs)), 4), "ece": round(expected_calibration_error(
            np.zeros(len(probs)), np.array(probs)), 4)}
    log(f"video-level real-people: FPR {out['video_real_people']['false_positive_rate']:.3f} (n={len(probs)})")
    return out


def mesonet_classifier(weights: Path, crop_margin: float) -> FaceClassifier:
    m = create_model("meso4", weights=weights)
    return FaceClassifier(m, ModelConfig.from_module("meso4", m, crop_margin=crop_margin, name=weights.stem))


def measure_with_baseline(clf: FaceClassifier, data: Path, mesonet: str, log) -> dict:
    """Our figures, and MesoNet's (`mesonet`: its .h5 relative to `data`; '' to skip) on the same inputs."""
    card = {"fakescope": measure(clf, data, log)}
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
    card = measure_with_baseline(FaceClassifier.load(args.model), Path(args.data), args.mesonet, print)
    Path(args.out).write_text(json.dumps(card, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
