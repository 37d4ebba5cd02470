"""Checks on the real third-party material in ../shared/data (read-only; skipped where it is absent): its
table reads as the trainer reads it, its official split does not leak a source video, and the whole scan
pipeline copes with real videos."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from fakescope.data import grouped_split, load_crop_images, read_crops
from fakescope.scan import Scanner


@pytest.fixture(scope="module")
def labels(shared_data: Path) -> list:
    if not (shared_data / "labels.csv").is_file():
        pytest.skip("../shared/data/labels.csv is not here")
    return read_crops(shared_data / "labels.csv")


def test_every_listed_crop_exists_and_both_classes_are_there(labels: list) -> None:
    missing = [it.path for it in labels if not it.path.is_file()]
    assert not missing, f"{len(missing)} listed crops are missing, e.g. {missing[:3]}"
    assert {it.label for it in labels} == {0, 1}
    assert all(it.path.suffix.lower() in (".jpg", ".jpeg", ".png") for it in labels)  # videos left out


def test_dfdc_official_split_keeps_each_source_video_on_one_side(labels: list) -> None:
    """The fakes of a source video and the video itself share a group; train and val must not share one."""
    sides = defaultdict(set)
    for it in labels:
        if it.split in ("train", "val"):
            sides[it.group].add(it.split)
    assert sides and all(len(s) == 1 for s in sides.values())


def test_prefix_selects_one_folder_and_our_split_does_not_leak(shared_data: Path) -> None:
    items = read_crops(shared_data / "labels.csv", prefix="dfdc-faces/")
    assert items and all(it.path.is_relative_to(shared_data / "dfdc-faces") for it in items)
    train, val = grouped_split(items, 0.15, seed=0)
    assert not {it.group for it in train} & {it.group for it in val}
    assert {it.label for it in val} == {0, 1}


def test_a_few_crops_decode(labels: list) -> None:
    sample = labels[:: max(1, len(labels) // 16)][:16]
    images = load_crop_images(sample, 64)
    assert images.shape == (len(sample), 64, 64, 3) and images.std() > 10


def _smallest(folder: Path) -> Path:
    videos = sorted(folder.rglob("*.mp4"), key=lambda p: (p.stat().st_size, p.name))
    if not videos:
        pytest.skip(f"no videos in {folder}")
    return videos[0]


@pytest.mark.parametrize("folder", ["videos/real-people", "videos/dfdc"])
def test_real_videos_scan_end_to_end(folder: str, shared_data: Path, tiny_model_path: Path,
                                     check_schema: Callable[[str], dict]) -> None:
    """Real footage (H.264 from phones and cameras, up to 1080p): sampled, faces found and tracked. The
    verdict itself is the default model's business, not this test's (the test model is untrained)."""
    video = _smallest(shared_data / folder)
    result = Scanner(model=tiny_model_path, num_frames=16).scan(video)
    (file,) = result
    assert file.ok, file.message
    assert file.kind == "video" and file.frames_sampled == 16 and file.persons
    assert max(len(p.frames) for p in file.persons) >= 8, "the main face was lost in most frames"
    check_schema(result.to_json())


def test_the_model_cards_ffpp_figure_is_an_evaluate_run(shared_data: Path, tiny_model_path: Path) -> None:
    """The card's cross-dataset figure is `evaluate --split crossval --only ffpp-faces/` on the table: the
    FF++ crops only, with the four methods broken out."""
    from fakescope.evaluate.report import build_report, collect
    from fakescope.models import FaceClassifier

    clf = FaceClassifier.load(tiny_model_path)
    ev = collect(clf, shared_data / "labels.csv", "csv", "crossval", limit=200, prefix="ffpp-faces/")
    report = build_report(ev, clf, "labels.csv", "crossval", "ffpp-faces/")
    assert report["overall"]["frame"]["n"] == 200 and report["only"] == ["ffpp-faces/"]
    assert set(report["by_dataset"]) == {"FaceForensics++"}
    assert set(report["by_method"]["FaceForensics++"]) == {"Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"}
