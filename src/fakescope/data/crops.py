"""Read labelled face crops from a folder (`real/`, `fake/`) or a CSV (`path,label[,group][,split]`).

The CSV may carry more columns (dataset, method, ...): `../shared/data/labels.csv` is read as it is, and so is
the `manifest.csv` of a cache that `fakescope prepare` wrote (pass the cache folder itself).
Labels are per source video, so every split is made by `group` (the source video or identity), never by
file: crops of one video on both sides of a split inflate every validation figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fakescope.data.datasets import CROP, SourceItem, file_group
from fakescope.data.datasets.folder import read_folder
from fakescope.data.labels import as_prefixes, csv_rows, parse_label
from fakescope.errors import FakescopeError
from fakescope.media import IMAGE_SUFFIXES

MANIFEST = "manifest.csv"


@dataclass(frozen=True)
class CropItem:
    path: Path
    label: int  # 1 = fake
    group: str
    split: str = ""
    dataset: str = ""
    method: str = ""
    video: str = ""
    track: int = 0  # which person in the video, when a video shows several
    # Five facial landmarks (right eye, left eye, nose, mouth corners) as x0, y0, ... x4, y4 in fractions of
    # the crop's side, when known: self-blended pseudo-fakes place their mask with them.
    landmarks: tuple[float, ...] | None = None
    official_split: str = ""  # the dataset's own split, kept by `prepare` beside the grouped `split`
    # The face box (x, y, width, height) in full-frame pixels the crop was cut from, when a cache knows it.
    box: tuple[float, ...] | None = None

    @classmethod
    def from_source(cls, item: SourceItem) -> CropItem:
        """A dataset's ready-made crop (kind "crop") as a crop to train on or score."""
        return cls(path=item.path, label=item.label, group=item.group, dataset=item.dataset, method=item.method,
                   video=item.video, official_split=item.official_split)


def parse_landmarks(text: str) -> tuple[float, ...] | None:
    values = tuple(float(v) for v in text.split())
    return values if len(values) == 10 else None


def read_crop_csv(csv_path: Path, prefix: str | Sequence[str] | None = None) -> list[CropItem]:
    """Rows whose path is not an image (videos listed in the same table) are left out, and with `prefix`
    those whose path does not start with it (or one of them)."""
    root = csv_path.parent
    prefixes = as_prefixes(prefix)
    items = []
    for line, row in csv_rows(csv_path, ("path", "label")):
        rel = row["path"]
        if prefixes and not rel.startswith(prefixes):
            continue
        if Path(rel).suffix.lower() not in IMAGE_SUFFIXES:
            continue
        items.append(CropItem(
            path=root / rel,
            label=parse_label(row["label"], f"{csv_path}:{line}"),
            group=row.get("group") or file_group(rel),
            split=row.get("split") or "",
            dataset=row.get("dataset") or "",
            method=row.get("method") or "",
            video=row.get("video") or "",
            track=int(row.get("track") or 0),
            landmarks=parse_landmarks(row.get("landmarks") or ""),
            official_split=row.get("official_split") or "",
            box=tuple(float(v) for v in row["box"].split()) if row.get("box") else None,
        ))
    return items


def read_crops(source: str | Path, prefix: str | Sequence[str] | None = None) -> list[CropItem]:
    """The crops of a prepared cache, of a `real/`+`fake/` folder (its images; read by the `folder` dataset
    format, so both see the same files), or of a CSV (its image rows)."""
    source = Path(source)
    if source.is_dir() and (source / MANIFEST).is_file():
        items = read_crop_csv(source / MANIFEST, prefix)
    elif source.is_dir():
        items = [CropItem.from_source(it) for it in read_folder(source) if it.kind == CROP]
    elif source.suffix.lower() == ".csv" and source.is_file():
        items = read_crop_csv(source, prefix)
    else:
        raise FakescopeError(f"{source}: expected a prepared cache, a folder with real/ and fake/, "
                             "or a CSV of path,label")
    if not items:
        raise FakescopeError(f"{source}: no labelled face crops found")
    return items


def _read_rgb(path: Path, size: int) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FakescopeError(f"{path}: not a readable image")
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def load_crop_images(items: Sequence[CropItem], size: int, threads: int = 2) -> np.ndarray:
    """All crops resized to `size`x`size`, as one (N, size, size, 3) uint8 RGB array in memory."""
    out = np.empty((len(items), size, size, 3), np.uint8)

    def work(i: int) -> None:
        out[i] = _read_rgb(items[i].path, size)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(len(items))))
    return out
