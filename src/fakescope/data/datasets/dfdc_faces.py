"""DFDC face crops in the Kaggle "deepfake-faces" layout: `faces_224/<video id>.jpg` (one crop per video)
and `metadata.csv` with `videoname,original_width,original_height,label,original`.

The crops are used as they are (`kind="crop"`): they were cut by another detector, tightly (about 0.9x the
face box), and upscaled to 224 px, so `fakescope prepare` only finds landmarks on them for pseudo-fakes.
"""

from __future__ import annotations

from pathlib import Path

from fakescope.data.datasets import CROP, SourceItem, csv_rows, register_reader
from fakescope.data.datasets.dfdc import dfdc_group, parse_dfdc_label
from fakescope.errors import FakescopeError


@register_reader("dfdc-faces")
def read_dfdc_faces(root: Path) -> list[SourceItem]:
    meta_path, faces = root / "metadata.csv", root / "faces_224"
    if not meta_path.exists():
        raise FakescopeError(f"{root}: no metadata.csv (expected faces_224/ and metadata.csv)")
    items = []
    for line, row in csv_rows(meta_path, ("videoname", "label")):
        video = Path(row["videoname"]).stem
        label = parse_dfdc_label(row["label"], f"{meta_path}:{line}")
        original = row.get("original") or ""
        items.append(SourceItem(faces / f"{video}.jpg", label, "DFDC", "", video,
                                dfdc_group(video, original if label and original.lower() != "nan" else None),
                                kind=CROP))
    return items
