"""Calibration at the level users read (fakescope.evaluate.calibration, `fakescope calibrate`): the threshold
holds every source's false-FAKE share under its limit, the band its UNCERTAIN share, the temperature is
fitted on video-level probabilities, and the calibrated copy of a model records what it was chosen on."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fakescope.cli import main
from fakescope.data import read_crops
from fakescope.evaluate.calibration import (
    PoolVideo,
    calibrate,
    choose_band,
    choose_threshold,
    fit_video_temperature,
    pool_videos,
    video_probability,
)
from fakescope.models import FaceClassifier
from fakescope.models.classifier import temperature_scaled


def test_threshold_keeps_every_source_under_the_limit() -> None:
    rng = np.random.default_rng(0)
    reals = {"big": rng.uniform(0, 0.7, 1000), "small": np.array([0.1, 0.2, 0.83])}
    t = choose_threshold(reals, max_false_fake=0.02)
    # One real of three in "small" is 33%: the threshold must pass it, whatever "big" allows.
    assert t > 0.83 and np.mean(reals["small"] >= t) == 0
    assert choose_threshold({"a": np.array([0.1, 0.2])}) == 0.5, "never below 0.5"
    # Only as high as needed: just above the highest real that had to be excluded.
    assert t == pytest.approx(0.83, abs=1e-9)


def test_band_reaches_down_until_a_source_has_too_many_reals_in_it() -> None:
    reals = {"a": np.array([0.1, 0.55, 0.6, 0.7, 0.2, 0.3, 0.1, 0.2, 0.3, 0.4]), "b": np.array([0.1] * 50)}
    u = choose_band(reals, threshold=0.8, max_uncertain=0.1)
    assert np.mean((reals["a"] >= u) & (reals["a"] < 0.8)) <= 0.1
    assert 0.6 < u <= 0.7, "one of a's ten reals may sit in the band, not two"
    assert choose_band({"a": np.array([0.1])}, threshold=0.9) == 0.5, "the band stops at 0.5"


def test_temperature_is_fitted_on_video_probabilities() -> None:
    """Logits twice what they should be (for x ~ N(+-1, 1) the true log-odds are 2x; these are 4x), one
    frame a video: the fit finds T near 2. With several frames a video
    the mean of their probabilities is less extreme than any frame, and the fit sharpens it instead."""
    rng = np.random.default_rng(1)
    videos = []
    for i in range(400):
        label = i % 2
        z = rng.normal(1.0 if label else -1.0, 1.0, size=1) * 4
        videos.append(PoolVideo(label, "s", [z]))
    t = fit_video_temperature(videos)
    assert 1.6 < t < 2.5
    y = np.array([v.label for v in videos])

    def nll(temperature: float) -> float:
        p = np.clip([video_probability(v, temperature) for v in videos], 1e-7, 1 - 1e-7)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    assert nll(t) < nll(1.0) and nll(t) < nll(t * 1.5) and nll(t) < nll(t / 1.5)
    many = [PoolVideo(v.label, "s", [np.repeat(v.track_logits[0], 8) + np.random.default_rng(i).normal(0, 4, 8)])
            for i, v in enumerate(videos)]
    assert fit_video_temperature(many) < t


def test_calibrate_reports_each_source_at_the_chosen_point() -> None:
    rng = np.random.default_rng(2)
    videos = [PoolVideo(0, "dfdc", [rng.normal(-2, 1, 4)]) for _ in range(200)]
    videos += [PoolVideo(1, "dfdc", [rng.normal(2, 1, 4)]) for _ in range(200)]
    videos += [PoolVideo(0, "talking", [rng.normal(0.5, 0.5, 4)]) for _ in range(20)]  # a shifted source
    cal = calibrate(videos, max_false_fake=0.05, max_uncertain=0.1)
    assert 0.5 <= cal.uncertain_from <= cal.threshold
    for row in cal.sources.values():
        assert row["genuine_fake_share"] <= 0.05 and row["genuine_uncertain_share"] <= 0.1
    assert cal.sources["talking"] == {**cal.sources["talking"], "genuine": 20, "fake": 0}


def test_per_frame_holds_the_threshold_for_genuine_frames_judged_alone() -> None:
    """Genuine clips whose frames swing widely around a low mean: every clip's mean passes, but single frames
    (a still image) would be called FAKE. With `per_frame` the threshold rises until at most the limit of
    those frames is FAKE; the one-frame source adds no frame rows of its own."""
    rng = np.random.default_rng(4)
    videos = [PoolVideo(0, "talking", [rng.normal(-1.0, 2.5, 16)]) for _ in range(30)]
    videos += [PoolVideo(1, "talking", [rng.normal(1.5, 2.5, 16)]) for _ in range(30)]
    videos += [PoolVideo(label, "dfdc", [rng.normal(3 * label - 1.5, 1, 1)]) for label in (0, 1) for _ in range(200)]
    by_video = calibrate(videos, max_false_fake=0.02, max_uncertain=0.05)
    both = calibrate(videos, max_false_fake=0.02, max_uncertain=0.05, per_frame=True)
    assert by_video.temperature == both.temperature and both.threshold > by_video.threshold
    frames = np.concatenate([temperature_scaled(v.track_logits[0], both.temperature) for v in videos
                             if v.source == "talking" and v.label == 0])
    assert np.mean(frames >= by_video.threshold) > 0.02 >= np.mean(frames >= both.threshold)
    row = both.sources["talking (frames)"]
    assert row["unit"] == "frames" and row["genuine"] == 480 and row["genuine_fake_share"] <= 0.02
    assert "dfdc (frames)" not in both.sources and "talking (frames)" not in by_video.sources


def test_calibrate_warns_when_the_pool_says_not_to_trust_the_model() -> None:
    """A source ranked backwards is named with its AUC; a pool ranked backwards throughout drives the
    temperature to the end of its range, which is said too. A healthy pool gives no warning."""
    rng = np.random.default_rng(3)
    healthy = [PoolVideo(label, "dfdc", [rng.normal(4 * label - 2, 1, 4)]) for label in (0, 1) for _ in range(100)]
    cal = calibrate(healthy)
    assert cal.warnings == [] and cal.sources["dfdc"]["auc"] > 0.9
    backwards = [PoolVideo(label, "talking", [rng.normal(2 - 4 * label, 1, 4)]) for label in (0, 1) for _ in range(20)]
    cal = calibrate(healthy + backwards)
    lo, hi = cal.sources["talking"]["auc_ci"]
    assert lo <= cal.sources["talking"]["auc"] <= hi < 0.5  # 20 and 20 videos, far apart: surely backwards
    assert any(w.startswith("talking: its genuine videos score above its fakes") and "95 % interval" in w
               for w in cal.warnings)
    cal = calibrate(backwards)
    assert cal.temperature == pytest.approx(20.0)
    assert any("end of its search range" in w for w in cal.warnings), cal.warnings


def test_pool_videos_groups_crops_by_video_and_track(tmp_path: Path) -> None:
    rows = [("a/t0-1.png", "real", "v1", 0, "0 0 40 50"), ("a/t0-2.png", "real", "v1", 0, "0 0 30 60"),
            ("a/t1-1.png", "real", "v1", 1, "0 0 10 10"), ("b/t0-1.png", "fake", "v2", 0, "")]
    path = _write_csv(tmp_path, rows)
    items = read_crops(path)
    videos = pool_videos(items, np.array([0.0, 1.0, 2.0, 3.0]))
    by_label = {v.label: v for v in videos}
    assert len(videos) == 2 and [list(z) for z in by_label[0].track_logits] == [[0.0, 1.0], [2.0]]
    assert by_label[0].face_sides == [35.0, 10.0] and by_label[1].face_sides == [None]


def _write_csv(root: Path, rows, size: int = 64) -> Path:
    rng = np.random.default_rng(0)
    with open(root / "crops.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "dataset", "video", "track", "box"])
        for rel, label, video, track, box in rows:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / rel), rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
            w.writerow([rel, label, "set", video, track, box])
    return root / "crops.csv"


def test_calibrate_command_writes_a_model_that_says_what_it_was_calibrated_on(tiny_model_path, tmp_path, capsys):
    rows = [(f"{label}/{v}-{k}.png", label, f"{label}{v}", 0, "0 0 100 100")
            for label in ("real", "fake") for v in range(6) for k in range(2)]
    csv_path = _write_csv(tmp_path, rows)
    out = tmp_path / "calibrated.safetensors"
    assert main(["calibrate", str(tiny_model_path), str(csv_path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "calibrated model written to" in printed and "set: 6 genuine / 6 fake videos; video AUC " in printed
    clf = FaceClassifier.load(out)
    cal = clf.config.extra["calibration"]
    assert cal["level"] == "video" and cal["pool"][0]["crops"] == 24 and cal["sources"]["set"]["genuine"] == 6
    assert clf.config.threshold == pytest.approx(cal["threshold"]) and clf.config.threshold >= 0.5
    assert 0.5 <= clf.config.uncertain_from <= clf.config.threshold
    assert clf.config.temperature == pytest.approx(cal["temperature"])
    json.dumps(clf.config.extra)  # plain data, as the checkpoint's metadata must be
    original = FaceClassifier.load(tiny_model_path)
    np.testing.assert_allclose(clf.logits(np.zeros((1, 128, 128, 3), np.uint8)),
                               original.logits(np.zeros((1, 128, 128, 3), np.uint8)), atol=1e-5)
    # --per-frame: each source's genuine frames are held to the limits too, and reported as such
    assert main(["calibrate", str(tiny_model_path), str(csv_path), "--out", str(out), "--per-frame"]) == 0
    assert "set (frames): 12 genuine / 0 fake frames; " in capsys.readouterr().out
    assert FaceClassifier.load(out).config.extra["calibration"]["level"] == "video+frames"


def test_calibrate_mirror_scores_the_pool_as_the_calibrated_copy_will(tiny_model_path, tmp_path):
    rows = [(f"{label}/{v}-{k}.png", label, f"{label}{v}", 0, "0 0 100 100")
            for label in ("real", "fake") for v in range(6) for k in range(2)]
    csv_path = _write_csv(tmp_path, rows)
    outs = {m: tmp_path / f"{m}.safetensors" for m in ("plain", "mirror")}
    assert main(["calibrate", str(tiny_model_path), str(csv_path), "--out", str(outs["plain"])]) == 0
    assert main(["calibrate", str(tiny_model_path), str(csv_path), "--out", str(outs["mirror"]), "--mirror"]) == 0
    plain, mirror = (FaceClassifier.load(outs[m]) for m in ("plain", "mirror"))
    assert not plain.config.mirror and mirror.config.mirror
    crop = np.random.default_rng(1).integers(0, 256, (1, 128, 128, 3), dtype=np.uint8)
    np.testing.assert_allclose(mirror.logits(crop), (plain.logits(crop) + plain.logits(crop[:, :, ::-1])) / 2,
                               atol=1e-4)
    assert main(["calibrate", str(outs["mirror"]), str(csv_path), "--out", str(tmp_path / "kept.safetensors")]) == 0
    assert FaceClassifier.load(tmp_path / "kept.safetensors").config.mirror  # kept unless told otherwise
