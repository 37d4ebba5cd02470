"""A plain folder: `real/` and `fake/`, each holding videos and/or images at any depth.

Images are taken to be face crops already (what `fakescope train` has always read); prepare's
`--detect-in-images` runs the face pipeline on them instead. A folder carries no ids: each file is its
own group, and a subfolder under real/ or fake/ becomes the method.
"""

from __future__ import annotations

from pathlib import Path

from fakescope.data.datasets import SourceItem, file_group, media_kind, register_reader


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
                                    file_group(f"{name}/{rel.with_suffix('').as_posix()}"), kind=kind))
    return items
