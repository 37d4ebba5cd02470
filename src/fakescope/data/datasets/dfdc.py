"""DFDC training set (Dolhansky et al. 2020): `dfdc_train_part_*/metadata.json` beside the videos, mapping
each file to {"label": "FAKE"|"REAL", "original": <source real video>, "split": ...}.

A fake is grouped with the real video it was made from (`original`); DFDC gives no identities, so two
source videos of the same actor can still fall on both sides of a split.
"""

from __future__ import annotations

import json
from pathlib import Path

from fakescope.data.datasets import SourceItem, join_keys, register_reader
from fakescope.errors import FakescopeError


def dfdc_group(video: str, original: str | None) -> str:
    """Group key of a DFDC video: its source real video's id (its own id for a real)."""
    return join_keys(f"dfdc:{Path(original or video).stem}")


def parse_dfdc_label(value: object, where: str) -> int:
    label = str(value).strip().upper()
    if label not in ("REAL", "FAKE"):
        raise FakescopeError(f"{where}: label must be REAL or FAKE, got {value!r}")
    return int(label == "FAKE")


@register_reader("dfdc")
def read_dfdc(root: Path) -> list[SourceItem]:
    items = []
    for meta_path in sorted([*root.glob("metadata.json"), *root.glob("*/metadata.json")]):
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as exc:
            raise FakescopeError(f"{meta_path}: not readable JSON ({exc})") from None
        for name, entry in meta.items():
            label = parse_dfdc_label(entry.get("label"), f"{meta_path}: {name}")
            items.append(SourceItem(meta_path.parent / name, label, "DFDC", "", Path(name).stem,
                                    dfdc_group(name, entry.get("original") if label else None),
                                    official_split=str(entry.get("split") or "")))
    return items
