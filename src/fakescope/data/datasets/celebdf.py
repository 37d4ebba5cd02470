"""Celeb-DF v1/v2 (Li et al., CVPR 2020):

    Celeb-real/id0_0000.mp4          a celebrity's interview (identity id0)
    YouTube-real/00000.mp4           other real YouTube videos (no identity given: the video is the group)
    Celeb-synthesis/id0_id16_0000.mp4  id16's face swapped onto id0's video id0_0000
    List_of_testing_videos.txt       '<1 real | 0 fake> <folder>/<file>' per line: the official test set

Identities go into the group, so a split keeps each celebrity on one side. Celeb-DF swaps many pairs among
59 people, so these groups chain together; `fakescope.data.split` deals with that (and says how).
"""

from __future__ import annotations

from pathlib import Path

from fakescope.data.datasets import SourceItem, join_keys, register_reader
from fakescope.errors import FakescopeError
from fakescope.media import VIDEO_SUFFIXES

TEST_LIST = "List_of_testing_videos.txt"


def _official_test(root: Path) -> set[str]:
    path = root / TEST_LIST
    if not path.exists():
        return set()
    test = set()
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in ("0", "1"):
            raise FakescopeError(f"{path}:{n}: expected '<0|1> <folder>/<file>', got {line.strip()!r}")
        test.add(parts[1])
    return test


def _identity_keys(folder: str, stem: str) -> list[str]:
    parts = stem.split("_")
    if folder == "YouTube-real":
        return [f"celebdf-yt:{stem}"]
    if folder == "Celeb-real":
        return [f"celebdf:{parts[0]}"]
    return [f"celebdf:{parts[0]}", f"celebdf:{parts[1]}"]  # target video's person, then the swapped-in face


@register_reader("celebdf")
def read_celebdf(root: Path) -> list[SourceItem]:
    test = _official_test(root)
    items = []
    for folder, label in (("Celeb-real", 0), ("YouTube-real", 0), ("Celeb-synthesis", 1)):
        for path in sorted((root / folder).glob("*")):
            if path.suffix.lower() not in VIDEO_SUFFIXES:
                continue
            rel = f"{folder}/{path.name}"
            items.append(SourceItem(path, label, "Celeb-DF", "Celeb-synthesis" if label else "", path.stem,
                                    join_keys(*_identity_keys(folder, path.stem)),
                                    official_split=("test" if rel in test else "train") if test else ""))
    return items
