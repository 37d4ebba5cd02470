"""AI Singapore Trusted Media Challenge (Chen et al. 2022), first seed: one CSV of
`filename,label,type` beside (or above) the videos.

TMC labels a video fake when its picture *or* its sound was manipulated. A face detector can only see the
picture, so the face label comes from the type instead (TMC paper: 1 real video and audio, 2 both fake,
3 only the video fake, 4 only the audio fake): type 4 is a real face. Rows without a type fall back to
the label. `method` keeps the type so evaluate can break results down by it.
"""

from __future__ import annotations

from pathlib import Path

from fakescope.data.datasets import SourceItem, csv_rows, join_keys, parse_label, register_reader
from fakescope.errors import FakescopeError

FACE_FAKE_BY_TYPE = {"1": 0, "2": 1, "3": 1, "4": 0}
TYPE_COLUMNS = ("type", "video type", "video_type")


def _find_csv(root: Path) -> Path:
    if root.is_file():
        return root
    found = sorted(root.glob("*.csv"))
    if len(found) != 1:
        raise FakescopeError(f"{root}: expected exactly one TMC CSV (filename,label,type), found {len(found)}")
    return found[0]


def _resolve(base: Path, filename: str) -> Path:
    """The video beside the CSV, or in a folder below it; names without an extension are .mp4."""
    name = filename if Path(filename).suffix else f"{filename}.mp4"
    direct = base / name
    return direct if direct.exists() else next(iter(sorted(base.rglob(name))), direct)


@register_reader("tmc")
def read_tmc(root: Path) -> list[SourceItem]:
    csv_path = _find_csv(root)
    items = []
    for line, row in csv_rows(csv_path, ("filename", "label")):
        vtype = next((row[c] for c in TYPE_COLUMNS if row.get(c)), "")
        if vtype and vtype not in FACE_FAKE_BY_TYPE:
            raise FakescopeError(f"{csv_path}:{line}: video type must be 1-4, got {vtype!r}")
        label = FACE_FAKE_BY_TYPE[vtype] if vtype else parse_label(row["label"], f"{csv_path}:{line}")
        path = _resolve(csv_path.parent, row["filename"])
        items.append(SourceItem(path, label, "TMC", f"type {vtype}" if vtype else "", path.stem,
                                join_keys(f"tmc:{path.stem}")))
    return items
