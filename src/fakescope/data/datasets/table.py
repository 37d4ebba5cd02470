"""A CSV of `path,label[,group][,dataset][,method][,video][,split]` (paths relative to the CSV), format `csv`.

This is also how `../shared/data/labels.csv` reads. Videos and images may be mixed; images are face crops
already unless prepare is told `--detect-in-images`. Without a group column each file is its own group.
"""

from __future__ import annotations

from pathlib import Path

from fakescope.data.datasets import SourceItem, csv_rows, file_group, media_kind, parse_label, register_reader
from fakescope.errors import FakescopeError


@register_reader("csv")
def read_table(root: Path) -> list[SourceItem]:
    if root.suffix.lower() != ".csv" or not root.is_file():
        raise FakescopeError(f"{root}: format csv needs a CSV file of path,label[,group]")
    items = []
    for line, row in csv_rows(root, ("path", "label")):
        path = root.parent / row["path"]
        kind = media_kind(path)
        if kind is None:
            raise FakescopeError(f"{root}:{line}: {row['path']} is neither an image nor a video")
        items.append(SourceItem(path, parse_label(row["label"], f"{root}:{line}"), row.get("dataset") or root.stem,
                                row.get("method") or "", row.get("video") or path.stem,
                                row.get("group") or file_group(row["path"]), kind=kind,
                                official_split=row.get("split") or ""))
    return items
