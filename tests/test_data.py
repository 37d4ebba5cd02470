"""Labelled crop readers (folder layout, CSV with or without a split column) and the grouped split that
must never put a group on both sides."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakescope.data import CropItem, grouped_split, load_crop_images, read_crops, train_val
from fakescope.data.datasets import CROP, read_dataset
from fakescope.errors import FakescopeError


def _image(path: Path, colour: tuple[int, int, int], size: int = 40) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), colour, np.uint8)).save(path)
    return path


@pytest.fixture
def crop_folder(tmp_path: Path) -> Path:
    _image(tmp_path / "real" / "a.png", (10, 20, 30))
    _image(tmp_path / "real" / "sub" / "b.jpg", (10, 20, 30))
    _image(tmp_path / "fake" / "a.png", (200, 100, 50))
    (tmp_path / "fake" / "notes.txt").write_text("not a crop")
    (tmp_path / "other").mkdir()
    _image(tmp_path / "other" / "c.png", (0, 0, 0))  # neither real/ nor fake/: not labelled
    return tmp_path


def test_folder_layout(crop_folder: Path) -> None:
    items = read_crops(crop_folder)
    assert [(it.path.relative_to(crop_folder).as_posix(), it.label) for it in items] == [
        ("real/a.png", 0), ("real/sub/b.jpg", 0), ("fake/a.png", 1)]
    # A folder carries no video ids: each file is its own group, even with a name shared across classes.
    assert len({it.group for it in items}) == 3


def _csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def test_csv_with_split_and_extra_columns(tmp_path: Path) -> None:
    csv = _csv(tmp_path / "labels.csv",
               "path,label,dataset,method,group,split,source\n"
               "faces/fake/x.jpg,fake,DFDC,,orig1,train,somewhere\n"
               "faces/real/orig1.jpg,REAL,DFDC,,orig1,train,somewhere\n"
               "faces/real/y.jpg,0,DFDC,,y,val,somewhere\n"
               "videos/z.mp4,1,DFDC,,z,video,somewhere\n"
               "other/w.png,1,FF,Deepfakes,w,crossval,somewhere\n")
    items = read_crops(csv)
    assert [it.path for it in items] == [tmp_path / p for p in
                                         ("faces/fake/x.jpg", "faces/real/orig1.jpg", "faces/real/y.jpg",
                                          "other/w.png")]  # the video row is not a crop
    assert [it.label for it in items] == [1, 0, 0, 1]
    assert [it.split for it in items] == ["train", "train", "val", "crossval"]
    assert [it.group for it in items] == ["orig1", "orig1", "y", "w"]
    assert items[3].method == "Deepfakes" and items[3].dataset == "FF"
    only = read_crops(csv, prefix="faces/")
    assert [it.path.name for it in only] == ["x.jpg", "orig1.jpg", "y.jpg"]


def test_csv_without_split_or_group(tmp_path: Path) -> None:
    """Without a group column each file is its own group, by the same rule as the `csv` dataset format."""
    csv = _csv(tmp_path / "l.csv", "path,label\nreal/a.jpg,real\nfake/b.jpg,fake\n")
    items = read_crops(csv)
    assert [(it.label, it.split, it.group) for it in items] == [(0, "", "file:real/a.jpg"), (1, "", "file:fake/b.jpg")]
    assert {it.path: it.group for it in items} == {it.path: it.group for it in read_dataset(csv, "csv")}


@pytest.mark.parametrize("header", ["path,label", "Path,Label", " PATH , label "])
def test_every_reader_takes_the_same_csv_headers(tmp_path: Path, header: str) -> None:
    """A labels CSV that `fakescope prepare --format csv` accepts is accepted by the commands that read crops
    (train, evaluate, eda) too: one CSV reader, whatever case or padding a spreadsheet gave the header."""
    _image(tmp_path / "real" / "a.jpg", (10, 20, 30))
    _image(tmp_path / "fake" / "b.jpg", (200, 100, 50))
    csv = _csv(tmp_path / "l.csv", f"{header}\nreal/a.jpg,real\nfake/b.jpg,FAKE\n")
    crops = {it.path: it.label for it in read_crops(csv)}
    sources = {it.path: it.label for it in read_dataset(csv, "csv")}
    assert crops == sources == {tmp_path / "real" / "a.jpg": 0, tmp_path / "fake" / "b.jpg": 1}


def test_a_folder_is_read_by_one_reader(crop_folder: Path) -> None:
    """`read_crops` on a real/+fake/ folder lists the images the `folder` dataset format lists, with the
    same groups and methods."""
    crops = {(it.path, it.label, it.group, it.method) for it in read_crops(crop_folder)}
    sources = {(it.path, it.label, it.group, it.method) for it in read_dataset(crop_folder, "folder")
               if it.kind == CROP}
    assert crops == sources and len(crops) == 3


def test_csv_saved_by_a_spreadsheet_with_a_byte_order_mark(tmp_path: Path) -> None:
    """Excel writes UTF-8 CSVs with a BOM: the first column must still be called `path`."""
    csv = _csv(tmp_path / "excel.csv", "path,label\nreal/a.jpg,real\n", encoding="utf-8-sig")
    assert [it.path.name for it in read_crops(csv)] == ["a.jpg"]


@pytest.mark.parametrize(("text", "words"), [("file,label\na.jpg,real\n", "path,label"),
                                             ("path,label\na.jpg,maybe\n", ":2: label must be")])
def test_bad_csv_is_a_clear_error(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(FakescopeError, match=words):
        read_crops(_csv(tmp_path / "bad.csv", text))


def test_nothing_to_read_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FakescopeError, match="no labelled face crops"):
        read_crops(tmp_path)
    with pytest.raises(FakescopeError, match="expected"):
        read_crops(tmp_path / "nope.txt")


def test_crops_load_as_rgb_at_the_requested_size(crop_folder: Path) -> None:
    items = read_crops(crop_folder)
    images = load_crop_images(items, 16)
    assert images.shape == (3, 16, 16, 3) and images.dtype == np.uint8
    np.testing.assert_allclose(images[2].reshape(-1, 3).mean(0), (200, 100, 50), atol=2)  # RGB, not BGR
    with pytest.raises(FakescopeError, match="not a readable image"):
        load_crop_images([CropItem(crop_folder / "fake" / "notes.txt", 1, "n")], 16)


def _random_items(rng: random.Random, n: int) -> list[CropItem]:
    """Items whose groups repeat, sometimes with two keys ("identity|video", as datasets write them)."""
    keys = [f"g{i}" for i in range(max(2, n // 3))]
    return [CropItem(Path(f"{i}.jpg"), rng.randint(0, 1), "|".join(rng.sample(keys, rng.randint(1, 2))))
            for i in range(n)]


@pytest.mark.parametrize("seed", range(20))
def test_grouped_split_never_puts_a_group_on_both_sides(seed: int) -> None:
    rng = random.Random(seed)
    items = _random_items(rng, rng.randint(4, 80))
    train, val = grouped_split(items, val_fraction=0.3, seed=seed)
    keys = [{k for it in side for k in it.group.split("|")} for side in (train, val)]
    assert not keys[0] & keys[1]
    assert train and not {id(it) for it in train} & {id(it) for it in val}


def test_grouped_split_keeps_a_video_together_and_takes_about_the_fraction() -> None:
    items = [CropItem(Path(f"{i}.jpg"), i % 2, f"video{i // 4}") for i in range(200)]  # 50 videos of 4
    train, val = grouped_split(items, val_fraction=0.2, seed=3)
    assert len(train) + len(val) == 200
    assert not {it.group for it in train} & {it.group for it in val}
    assert 30 <= len(val) <= 50 and {it.label for it in val} == {0, 1}
    assert grouped_split(items, 0.2, seed=3) == (train, val)  # reproducible
    assert grouped_split(items, 0.2, seed=4) != (train, val)


def test_train_val_takes_the_items_split_or_the_official_one_or_makes_one() -> None:
    """A cache carries its grouped split and, from the dataset, the published one (`--official-split`)."""
    items = [CropItem(Path(f"{i}.jpg"), i % 2, f"v{i // 2}", split=("train", "val")[i % 4 == 0],
                      official_split=("train", "val")[i >= 8]) for i in range(12)]
    train, val = train_val(items)
    assert [it.path.stem for it in val] == ["0", "4", "8"]
    train, val = train_val(items, official=True)
    assert [it.path.stem for it in val] == ["8", "9", "10", "11"] and len(train) == 8
    unsplit = [CropItem(Path(f"{i}.jpg"), i % 2, f"v{i // 2}") for i in range(40)]
    train, val = train_val(unsplit, val_fraction=0.25)
    assert (train, val) == grouped_split(unsplit, 0.25, 0) and val
