"""`fakescope prepare`: crops cut as scan cuts them, a manifest with a leak-free split, resuming, bad files."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from fakescope.data import read_crops
from fakescope.data.datasets import SourceItem
from fakescope.data.prepare import COLUMNS, ROWS, PrepareOptions, _subset, damage_for, prepare
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


# ---- --degrade: whole frames damaged before the face is found ------------------------------------------
DEGRADED = re.compile(r"^(\d+p|blur\d|gamma|noise\d+|grey|h26[45]crf\d\d|jpeg\d\d)(\+(\d+p|blur\d|gamma|noise\d+|grey|"
                      r"h26[45]crf\d\d|jpeg\d\d))*$")


def crop_bytes(cache: Path) -> dict[str, bytes]:
    return {r["path"]: (cache / r["path"]).read_bytes() for r in rows(cache)}


@pytest.fixture(scope="module")
def degraded(video_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("degraded")
    prepare(video_folder, "folder", out, replace(OPTS, degrade=1.0, degrade_seed=5), progress=False,
            log=lambda m: None)
    return out


def test_share_one_damages_every_frame_of_reals_and_fakes_and_says_how(degraded: Path, cache: Path) -> None:
    table = rows(degraded)
    assert {r["label"] for r in table} == {"real", "fake"}
    assert all(DEGRADED.match(r["degraded"]) for r in table), {r["degraded"] for r in table}
    assert {"h264", "h265", "grey"} <= set(re.findall(r"h26[45]|grey", " ".join(r["degraded"] for r in table)))
    for video in {r["video"] for r in table}:  # one recipe per file: all its frames got the same
        assert len({r["degraded"] for r in table if r["video"] == video}) == 1
    settings = json.loads((degraded / "prepare.json").read_text())["settings"]
    assert settings["degrade"] == 1.0 and settings["degrade_seed"] == 5
    clean = crop_bytes(cache)
    assert all(clean.get(path) != data for path, data in crop_bytes(degraded).items())


def test_share_zero_is_todays_output_byte_for_byte(cache: Path, video_folder: Path) -> None:
    """With --degrade 0 the stored JPEG is exactly the crop scan cuts from the decoded frame, as before."""
    from fakescope.faces import create_detector
    from fakescope.media import read_media
    from fakescope.scan import crop_tracks, find_tracks

    table = rows(cache)
    assert all(r["degraded"] == "" for r in table)
    assert json.loads((cache / "prepare.json").read_text())["settings"]["degrade"] == 0
    _, frames = read_media(video_folder / "fake" / "fake2.mp4", num_frames=OPTS.frames)
    tracks = find_tracks(frames, create_detector("yunet"))
    crops = crop_tracks(frames, tracks, OPTS.size, OPTS.margin)
    mine = [r for r in table if r["video"] == "fake2"]
    assert len(mine) == len(crops)
    for row, crop in zip(mine, crops):
        _, jpeg = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        assert (cache / row["path"]).read_bytes() == jpeg.tobytes()


def test_damage_is_seeded(video_folder: Path, degraded: Path, tmp_path: Path) -> None:
    again, other = tmp_path / "again", tmp_path / "other"
    prepare(video_folder, "folder", again, replace(OPTS, degrade=1.0, degrade_seed=5, workers=2), progress=False,
            log=lambda m: None)  # in other processes, in another order
    assert sorted(map(str, rows(again))) == sorted(map(str, rows(degraded)))
    assert crop_bytes(again) == crop_bytes(degraded)
    prepare(video_folder, "folder", other, replace(OPTS, degrade=1.0, degrade_seed=6), progress=False,
            log=lambda m: None)
    assert [r["degraded"] for r in rows(other)] != [r["degraded"] for r in rows(degraded)]


def test_which_files_and_what_damage_never_depend_on_the_label() -> None:
    """The draw depends on the seed and the file's path in the dataset, nothing else; at a share of 0.5
    about half the files of each class are damaged, with the same mix of damage."""
    opts = PrepareOptions(degrade=0.5, degrade_seed=1)
    assert damage_for("real/a.mp4", opts, 720, False) == damage_for("real/a.mp4", opts, 720, False)
    for cls in ("real", "fake"):
        drawn = [damage_for(f"{cls}/{i}.mp4", opts, 720, False) for i in range(400)]
        done = [d for d in drawn if d]
        assert 0.42 < len(done) / 400 < 0.58
        assert 0.35 < np.mean([d.height is not None for d in done]) < 0.65
        assert 0.45 < np.mean([d.codec is not None for d in done]) < 0.75
    assert damage_for("real/a.mp4", PrepareOptions(), 720, False) is None


def test_a_240p_frame_is_where_faces_are_found_and_cut(video_folder: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Downscaled, the small frame is the footage: detection runs on it, boxes are at its scale, and the
    crop is cut from it."""
    import importlib

    from fakescope.faces import create_detector, crop_face
    from fakescope.media import read_media
    from fakescope.media.degrade import FrameDamage, downscale
    from fakescope.media.encode import write_video

    prep = importlib.import_module("fakescope.data.prepare")

    big = tmp_path / "big"
    for cls in ("real", "fake"):
        (big / cls).mkdir(parents=True)
        _, frames = read_media(video_folder / cls / f"{cls}0.mp4", num_frames=6)
        write_video(big / cls / f"{cls}0.mp4", (cv2.resize(f.image, (640, 480)) for f in frames), fps=6)
    monkeypatch.setattr(prep, "damage_for", lambda key, opts, height, still: FrameDamage(height=240))
    opts = replace(OPTS, degrade=1.0, val=0, test=0)
    prepare(big, "folder", tmp_path / "cache", opts, progress=False, log=lambda m: None)
    table = rows(tmp_path / "cache")
    assert {r["label"] for r in table} == {"real", "fake"} and {r["degraded"] for r in table} == {"240p"}
    row = next(r for r in table if r["video"] == "real0")
    _, frames = read_media(big / "real" / "real0.mp4", num_frames=OPTS.frames)
    frame = next(f for f in frames if f.index == int(row["frame"]))
    small = downscale(frame.image, 240)
    assert small.shape[:2] == (240, 320)
    face = create_detector("yunet").detect(small)[0]
    assert np.allclose([float(v) for v in row["box"].split()], face.box, atol=0.01)
    big_face = create_detector("yunet").detect(frame.image)[0]
    assert abs(face.box[2] - big_face.box[2] / 2) < 0.1 * big_face.box[2], "the box is at the 240p scale"
    stored = cv2.cvtColor(cv2.imread(str(tmp_path / "cache" / row["path"])), cv2.COLOR_BGR2RGB)
    assert np.abs(stored.astype(int) - crop_face(small, face, OPTS.size, OPTS.margin)).mean() < 3


def test_resume_refuses_another_degradation(video_folder: Path, tmp_path: Path) -> None:
    opts = replace(OPTS, val=0, test=0)
    prepare(video_folder, "folder", tmp_path, opts, progress=False, log=lambda m: None, prefix="real/real1")
    for change, name in (({"degrade": 0.5}, "degrade"), ({"degrade_seed": 1}, "degrade_seed")):
        with pytest.raises(FakescopeError, match=rf"other settings \({name}\)"):
            prepare(video_folder, "folder", tmp_path, replace(opts, **change), progress=False, prefix="real/real1")
    # A cache made before --degrade existed was not degraded: it resumes at 0 and refuses anything else.
    info = json.loads((tmp_path / "prepare.json").read_text())
    for key in ("degrade", "degrade_seed"):
        del info["settings"][key]
    (tmp_path / "prepare.json").write_text(json.dumps(info))
    prepare(video_folder, "folder", tmp_path, opts, progress=False, log=lambda m: None, prefix="real/real1")
    (tmp_path / "prepare.json").write_text(json.dumps(info))
    with pytest.raises(FakescopeError, match=r"other settings \(degrade\)"):
        prepare(video_folder, "folder", tmp_path, replace(opts, degrade=1.0), progress=False, prefix="real/real1")
    with pytest.raises(FakescopeError, match=r"degrade is the share"):
        prepare(video_folder, "folder", tmp_path / "x", replace(opts, degrade=2.0), progress=False)


def test_cli_degrade_flags(video_folder: Path, tmp_path: Path, degraded: Path,
                           capsys: pytest.CaptureFixture) -> None:
    from fakescope.cli import main

    code = main(["prepare", str(video_folder), "--format", "folder", "--out", str(tmp_path), "--frames", "3",
                 "--size", "64", "--workers", "1", "--val", "0.25", "--test", "0.25", "--degrade", "1",
                 "--degrade-seed", "5", "-q"])
    assert code == 0 and rows(tmp_path) == rows(degraded)


def test_pictures_are_damaged_as_pictures(tmp_path: Path, astronaut: np.ndarray) -> None:
    """With --detect-in-images a picture is a frame too: damaged before its face is found, re-saved as JPEG
    rather than encoded as video."""
    for i in range(4):
        for cls in ("real", "fake"):
            (tmp_path / "data" / cls).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.roll(astronaut, 15 * i, axis=1)).save(tmp_path / "data" / cls / f"{cls}{i}.png")
    opts = replace(OPTS, detect_in_images=True, degrade=1.0, degrade_seed=2, val=0, test=0)
    prepare(tmp_path / "data", "folder", tmp_path / "cache", opts, progress=False, log=lambda m: None)
    labels = [r["degraded"] for r in rows(tmp_path / "cache")]
    assert len(labels) == 8 and all(DEGRADED.match(x) for x in labels) and "h26" not in " ".join(labels)
    assert any("jpeg" in x for x in labels)
