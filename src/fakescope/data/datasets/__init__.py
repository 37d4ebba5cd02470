"""Readers for the standard deepfake dataset layouts, chosen by name (`read_dataset(root, "ffpp")`).

Each format lives in its own module of this package and registers a function `root -> list[SourceItem]` with
`@register_reader("name")`; the registry finds the module by itself, so a new format is one new file. A reader only lists
what is there and what the dataset says about it (label, method, source video, identities, official split);
decoding, face detection and cropping happen once, in `fakescope.data.prepare`, for every format alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fakescope.data.labels import as_prefixes, csv_rows, parse_label
from fakescope.errors import FakescopeError
from fakescope.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from fakescope.registry import Registry

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
READERS: Registry[Reader] = Registry("dataset format", __name__)
register_reader = READERS.register


def list_formats() -> list[str]:
    return READERS.names()


def join_keys(*keys: str) -> str:
    return GROUP_SEP.join(dict.fromkeys(k for k in keys if k))


def file_group(rel: str) -> str:
    """The group of a file that came without one (a folder, a CSV without a group column): itself."""
    return join_keys(f"file:{rel}")


def media_kind(path: Path) -> str | None:
    """CROP for an image, MEDIA for a video, None for anything else (by name: a listing opens no file)."""
    suffix = path.suffix.lower()
    return CROP if suffix in IMAGE_SUFFIXES else MEDIA if suffix in VIDEO_SUFFIXES else None


def read_dataset(root: str | Path, fmt: str, prefix: str | Sequence[str] | None = None) -> list[SourceItem]:
    """Every labelled file of the dataset at `root` in layout `fmt`, sorted by path; with `prefix`, only
    those whose path relative to the dataset (the CSV's folder for a CSV) starts with it (or one of them)."""
    reader = READERS.get(fmt)
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


__all__ = ["CROP", "GROUP_SEP", "MEDIA", "READERS", "SourceItem", "csv_rows", "file_group", "join_keys",
           "list_formats", "media_kind", "parse_label", "read_dataset", "register_reader"]
