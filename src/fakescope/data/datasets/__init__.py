"""Readers for the standard deepfake dataset layouts, chosen by name (`read_dataset(root, "ffpp")`).

Each format lives in its own file and registers a function `root -> list[SourceItem]`. A reader only lists
what is there and what the dataset says about it (label, method, source video, identities, official split);
decoding, face detection and cropping happen once, in `fakescope.data.prepare`, for every format alike.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from fakescope.data.crops import as_prefixes
from fakescope.errors import FakescopeError

# Separates the keys of a group: a crop whose group is "ffpp:000|ffpp:003" shares a side of every split with
# all crops that mention identity 000 or 003 (see fakescope.data.split).
GROUP_SEP = "|"
MEDIA, CROP = "media", "crop"  # run the face pipeline on it / it is already a face crop


@dataclass(frozen=True)
class SourceItem:
    """One labelled file of a dataset, before any face is cropped from it."""

    path: Path
    label: int  # 1 = fake
    dataset: str
    method: str = ""  # manipulation method of a fake ("" for reals or when the dataset does not say)
    video: str = ""  # the video the file is (or was cropped from)
    group: str = ""  # keys joined by GROUP_SEP: source video and identities that must not straddle a split
    kind: str = MEDIA
    official_split: str = ""  # what the dataset itself calls train / val / test, when it says


Reader = Callable[[Path], list[SourceItem]]
_READERS: dict[str, Reader] = {}


def register_reader(name: str) -> Callable[[Reader], Reader]:
    def wrap(reader: Reader) -> Reader:
        _READERS[name] = reader
        return reader

    return wrap


def list_formats() -> list[str]:
    return sorted(_READERS)


def join_keys(*keys: str) -> str:
    return GROUP_SEP.join(dict.fromkeys(k for k in keys if k))


def csv_rows(path: Path, required: set[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each row of a CSV, with column names stripped and lower-cased (spreadsheets
    vary); one clear error when a required column is missing."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = [c.strip().lower() for c in next(reader, [])]
        if not required <= set(header):
            raise FakescopeError(f"{path}: needs the columns {','.join(sorted(required))} (has {','.join(header)})")
        for line, values in enumerate(reader, start=2):
            yield line, dict(zip(header, (v.strip() for v in values)))


def read_dataset(root: str | Path, fmt: str, prefix: str | Sequence[str] | None = None) -> list[SourceItem]:
    """Every labelled file of the dataset at `root` in layout `fmt`, sorted by path; with `prefix`, only
    those whose path relative to the dataset (the CSV's folder for a CSV) starts with it (or one of them)."""
    try:
        reader = _READERS[fmt]
    except KeyError:
        raise FakescopeError(f"unknown dataset format {fmt!r}; known: {', '.join(list_formats())}") from None
    root = Path(root)
    if not root.exists():
        raise FakescopeError(f"{root}: no such file or folder")
    items = reader(root)
    if not items:
        raise FakescopeError(f"{root}: nothing labelled found for format {fmt!r} (is it the right layout?)")
    prefixes = as_prefixes(prefix)
    if prefixes:
        base = root.parent if root.is_file() else root
        items = [it for it in items if it.path.relative_to(base).as_posix().startswith(prefixes)]
        if not items:
            raise FakescopeError(f"{root}: nothing under {' or '.join(map(repr, prefixes))}")
    return sorted(items, key=lambda it: str(it.path))


from fakescope.data.datasets import (  # noqa: F401  (each registers itself)
    celebdf,
    dfdc,
    dfdc_faces,
    ffpp,
    folder,
    table,
    tmc,
)

__all__ = ["CROP", "GROUP_SEP", "MEDIA", "SourceItem", "join_keys", "list_formats", "read_dataset",
           "register_reader"]
