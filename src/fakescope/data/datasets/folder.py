"""A plain folder: `real/` and `fake/`, each holding videos and/or images at any depth.

Images are taken to be face crops already (what `fakescope train` has always read); prepare's
`--detect-in-images` runs the face pipeline on them instead. A folder carries no ids: each file is its
own group, and a subfolder under real/ or fake/ becomes the method.
"""

from __future__ import annotations

from pathlib import Path

from fakescope.data.datasets import CROP, MEDIA, SourceItem, join_keys, register_reader
from fakescope.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES


def media_kind(path: Path) -> str | None:
    """CROP for an image, MEDIA for a video, None for anything else."""
    suffix = path.suffix.lower()
    return CROP if suffix in IMAGE_SUFFIXES else MEDIA if suffix in VIDEO_SUFFIXES else None


@register_reader("folder")
def read_folder(root: Path) -> list[SourceItem]:
    items = []
    for name, label in (("real", 0), ("fake", 1)):
        for path in sorted((root / name).rglob("*")):
            kind = media_kind(path)
            if kind is None or not path.is_file():
                continue
            rel = path.relative_to(root / name)
            method = rel.parts[0] if label and len(rel.parts) > 1 else ""
            items.append(SourceItem(path, label, root.name, method, path.stem,
                                    join_keys(f"file:{name}/{rel.with_suffix('')}"), kind=kind))
    return items
