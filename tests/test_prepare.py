"""`fakescope prepare`: crops cut as scan cuts them, a manifest with a leak-free split, resuming, bad files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from fakescope.data import read_crops
from fakescope.data.datasets import SourceItem
from fakescope.data.prepare import COLUMNS, ROWS, PrepareOptions, _subset, prepare
from fakescope.data.split import leaked_keys
from fakescope.errors import FakescopeError

OPTS = PrepareOptions(frames=3, size=64, workers=1, val=0.25, test=0.25)


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> Path:
    """real/ and fake/ with three short clips each of a moving face, and one file that is not a video."""
    from fakescope.demo import _ken_burns
    from fakescope.media.encode import write_video

    root = tmp_path_factory.mktemp("videos")
    for i in range(3):
        for cls, img in (("real", astronaut), ("fake", cv2.GaussianBlur(astronaut, (0, 0), 2 + i))):
            path = root / cls / f"{cls}{i}.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_video(path, _ken_burns(np.roll(img, 20 * i, axis=1), 6, (320, 240)), fps=6)
    (root / "fake" / "broken.mp4").write_bytes(b"this is not a video" * 10)
    return root


@pytest.fixture(scope="module")
def cache(video_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cache")
    prepare(video_folder, "folder", out, OPTS, progress=False, log=lambda m: None)
    return out


def rows(cache: Path) -> list[dict]:
    with open(cache / "manifest.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_manifest_has_every_column_and_a_crop_per_detection(cache: Path) -> None:
    table = rows(cache)
    assert tuple(table[0]) == COLUMNS
    assert {r["video"] for r in table} == {f"{c}{i}" for c in ("real", "fake") for i in range(3)}
    assert all(r["frame"] and r["box"] and len(r["landmarks"].split()) == 10 for r in table)
    for r in table:
        img = cv2.imread(str(cache / r["path"]))
        assert img.shape == (64, 64, 3)
        lm = np.array(r["landmarks"].split(), float).reshape(5, 2)
        assert ((lm > 0.05) & (lm < 0.95)).all(), "landmarks are in crop fractions, inside the crop"
        assert lm[0, 1] < lm[2, 1] < lm[3, 1], "eyes above nose above mouth"


def test_crops_are_cut_exactly_as_scan_cuts_them(cache: Path, video_folder: Path) -> None:
    from fakescope.faces import create_detector, crop_face
    from fakescope.media import read_media

    row = next(r for r in rows(cache) if r["video"] == "real1")
    _, frames = read_media(video_folder / "real" / "real1.mp4", num_frames=OPTS.frames)
    frame = next(f for f in frames if f.index == int(row["frame"]))
    face = create_detector("yunet").detect(frame.image)[0]
    expected = crop_face(frame.image, face, OPTS.size, OPTS.margin)
    stored = cv2.cvtColor(cv2.imread(str(cache / row["path"])), cv2.COLOR_BGR2RGB)
    assert np.abs(stored.astype(int) - expected).mean() < 3  # JPEG at quality 95 and nothing else
    assert np.allclose([float(v) for v in row["box"].split()], face.box, atol=0.01)


def test_split_never_shares_a_group_and_readers_see_it(cache: Path) -> None:
    table = rows(cache)
    sides = [r["split"] for r in table]
    assert not leaked_keys([r["group"] for r in table], sides)
    assert {s for s in sides} <= {"train", "val", "test"}
    for video in {r["video"] for r in table}:
        assert len({r["split"] for r in table if r["video"] == video}) == 1
    items = read_crops(cache)
    assert {it.split for it in items} == set(sides) and all(it.landmarks for it in items)


def test_bad_file_is_reported_and_skipped(cache: Path) -> None:
    info = json.loads((cache / "prepare.json").read_text())
    assert [Path(src).name for src, _ in info["failed"]] == ["broken.mp4"]
    assert "\n" not in info["failed"][0][1]
    assert info["crops"] == len(rows(cache)) and info["sources"] == 7


def test_resume_does_only_what_is_left(video_folder: Path, tmp_path: Path) -> None:
    log: list[str] = []
    first = prepare(video_folder, "folder", tmp_path, OPTS, progress=False, log=log.append)
    manifest = rows(tmp_path)
    lines = (tmp_path / ROWS).read_text().splitlines()
    # As if killed while writing the 6th record: it and the 7th are redone; so is the broken file (the
    # first, by path), as failures are tried again.
    (tmp_path / ROWS).write_text("\n".join(lines[:-2] + [lines[-2][:25]]) + "\n")
    again = prepare(video_folder, "folder", tmp_path, OPTS, progress=False, log=log.append)
    assert log[-1] == "resuming: 4 of 7 files already done"
    assert again.crops == first.crops and rows(tmp_path) == manifest
    with pytest.raises(FakescopeError, match=r"other settings \(size\)"):
        prepare(video_folder, "folder", tmp_path, PrepareOptions(frames=3, size=96, workers=1), progress=False)


def test_parallel_workers_give_the_same_crops(video_folder: Path, tmp_path: Path, cache: Path) -> None:
    opts = PrepareOptions(frames=3, size=64, workers=2, val=0.25, test=0.25)
    prepare(video_folder, "folder", tmp_path, opts, progress=False, log=lambda m: None)
    key = ("video", "frame", "box", "landmarks", "split")
    assert sorted(tuple(r[k] for k in key) for r in rows(tmp_path)) == sorted(tuple(r[k] for k in key)
                                                                              for r in rows(cache))


def test_ready_crops_are_referenced_with_landmarks(tmp_path: Path, astronaut: np.ndarray) -> None:
    face = cv2.resize(astronaut[20:240, 130:350], (224, 224))  # a tight crop, as dfdc-faces ships them
    for name in ("real/a.jpg", "fake/b.jpg"):
        (tmp_path / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(face).save(tmp_path / "data" / name, quality=80)
    (tmp_path / "data" / "fake" / "c.jpg").write_bytes(b"not a jpeg")
    summary = prepare(tmp_path / "data", "folder", tmp_path / "cache", OPTS, progress=False, log=lambda m: None)
    table = rows(tmp_path / "cache")
    assert summary.crops == 2 and [Path(s).name for s, _ in summary.failed] == ["c.jpg"]
    assert (tmp_path / "cache" / table[0]["path"]).resolve() == (tmp_path / "data" / "fake" / "b.jpg").resolve()
    assert not (tmp_path / "cache" / "crops").exists(), "ready crops are not copied"
    assert all(len(r["landmarks"].split()) == 10 for r in table)


def test_no_face_anywhere_is_one_clear_error(tmp_path: Path) -> None:
    for name in ("real/a.png", "fake/b.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((120, 160, 3), 90, np.uint8)).save(tmp_path / name)
    opts = PrepareOptions(frames=3, size=64, workers=1, detect_in_images=True)
    with pytest.raises(FakescopeError, match=r"no face crops came out of 2 file\(s\)"):
        prepare(tmp_path, "folder", tmp_path / "cache", opts, progress=False, log=lambda m: None)


def test_limit_takes_both_classes() -> None:
    items = [SourceItem(Path(f"{i}.mp4"), int(i < 3), "d") for i in range(20)]  # 3 fakes, 17 reals
    picked = _subset(items, 6, seed=0)
    assert len(picked) == 6 and sum(it.label for it in picked) == 3
    assert _subset(items, 6, seed=0) == picked and _subset(items, 0, seed=0) == items


def test_only_a_part_of_the_dataset(video_folder: Path, tmp_path: Path) -> None:
    opts = PrepareOptions(frames=2, size=64, workers=1, val=0.0, test=0.0)
    summary = prepare(video_folder, "folder", tmp_path, opts, progress=False, log=lambda m: None, prefix="real/real1")
    assert summary.sources == 1 and {r["video"] for r in rows(tmp_path)} == {"real1"}
    assert {r["split"] for r in rows(tmp_path)} == {"train"}
    with pytest.raises(FakescopeError, match="nothing under 'elsewhere/'"):
        prepare(video_folder, "folder", tmp_path / "x", opts, progress=False, prefix="elsewhere/")
