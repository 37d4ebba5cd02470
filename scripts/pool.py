"""Who plays which role in the shared data for the default model (issue 8): train, calib or test, by `group`.

- train: what the model learns from. DFDC crops of split=train; a third of the real-people clips (each clip
  is its own group). Nothing of videos/wild: its groups are whole source repositories, most with fakes only,
  and a source seen with one label only is a shortcut, not a lesson. (The shipped v4's last stage moves the
  fakes-only wild calib groups into training, with real-people clips as their counterweight:
  scripts/world_pool.py. The test role below is the same for it.)
- calib: where the temperature, the threshold and the UNCERTAIN band are chosen (and the trainer selects its
  epoch on DFDC val). DFDC crops of split=val, a quarter of the real-people clips, and the videos/wild groups
  listed below: MEAD talking heads against DreamTalk, AniPortrait, MuseTalk, two lip-sync pairs.
- test: never trained on, never calibrated on: every FF++ crop and video (cross-dataset), the DFDC videos,
  the rest of real-people and of videos/wild (DeepFaceLive swaps with their inputs, EDTalk with its driving
  clips, SadTalker, Wav2Lip, the other pairs).

The lists are fixed here, before any figure of a model trained on them was seen, and are the only place
this assignment is written. `python scripts/pool.py CACHE` prints the counts and writes, beside the cache,
`pool-<cache>-<role>.csv` (the cache's manifest rows of that role, absolute paths, with a `role` column)
and `pool-dfdc-faces-<role>.csv` (the DFDC crops).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

WILD_CALIB = {"ali-vilab/dreamtalk", "Zejun-Yang/AniPortrait", "AhmadAFS1/MuseTalk", "pair8", "pair9"}
REAL_PEOPLE_CALIB = {"LivePortrait_d13.mp4", "LivePortrait_d14.mp4", "LivePortrait_s20.mp4",
                     "video-retalking_3.mp4", "SadTalker_WDA_AlexandriaOcasioCortez_000.mp4", "LivePortrait_d3.mp4"}
REAL_PEOPLE_TRAIN = {"LivePortrait_d19.mp4", "LivePortrait_d20.mp4", "LivePortrait_d6.mp4", "LivePortrait_d9.mp4",
                     "LivePortrait_s29.mp4", "LivePortrait_s32.mp4", "video-retalking_4.mp4", "video-retalking_5.mp4"}
ROLES = ("train", "calib", "test")


def role(path: str, group: str, split: str) -> str:
    """The role of one file of ../shared/data/labels.csv, from its path, group and split."""
    if path.startswith("dfdc-faces/"):
        return "train" if split == "train" else "calib"
    if path.startswith("videos/real-people/"):
        return "train" if group in REAL_PEOPLE_TRAIN else "calib" if group in REAL_PEOPLE_CALIB else "test"
    if path.startswith("videos/wild/"):
        return "calib" if group in WILD_CALIB else "test"
    return "test"  # ffpp-faces, videos/ffpp, videos/dfdc


def source_of(path: str) -> str:
    """The source a figure is reported under: the folder a file comes from."""
    parts = path.split("/")
    return parts[0] if parts[0] != "videos" else "/".join(parts[:2])


def label_roles(labels_csv: Path) -> dict[str, tuple[str, str]]:
    """Absolute path of every file in labels.csv -> (role, group)."""
    root = labels_csv.parent
    with open(labels_csv, newline="") as fh:
        return {str((root / r["path"]).resolve()): (role(r["path"], r["group"], r["split"]), r["group"])
                for r in csv.DictReader(fh)}


def cache_rows(cache: Path, labels_csv: Path) -> list[dict]:
    """The manifest rows of a cache prepared from labels.csv's videos, in manifest order, with absolute paths
    and each row's `role` and `group` (its source file's, from labels.csv)."""
    roles = label_roles(labels_csv)
    with open(cache / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for row in rows:
        role_, group = roles[str(Path(row["source"]).resolve())]
        out.append(dict(row, path=str((cache / row["path"]).resolve()), group=group, role=role_))
    return out


def split_cache(cache: Path, labels_csv: Path) -> dict[str, int]:
    """Write pool-<role>.csv for a cache prepared from labels.csv's videos; returns the crop count per role."""
    root = labels_csv.parent.resolve()
    by_role: dict[str, list[dict]] = {r: [] for r in ROLES}
    for row in cache_rows(cache, labels_csv):
        rel = str(Path(row["source"]).resolve().relative_to(root))
        by_role[row["role"]].append(dict(row, split=row["role"], source=rel))
    for role_, items in by_role.items():
        if items:
            with open(cache.parent / f"pool-{cache.name}-{role_}.csv", "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=list(items[0]))
                w.writeheader()
                w.writerows(items)
    return {r: len(v) for r, v in by_role.items()}


def split_crops(labels_csv: Path, out_dir: Path) -> dict[str, int]:
    """Write pool-dfdc-faces-<role>.csv: the shipped DFDC crops of each role (train: split=train, calib:
    split=val), with absolute paths, so every pool source is a CSV of the same kind."""
    with open(labels_csv, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["path"].startswith("dfdc-faces/")]
    counts = {}
    for role_ in ("train", "calib"):
        items = [dict(r, path=str((labels_csv.parent / r["path"]).resolve()), role=role_) for r in rows
                 if role(r["path"], r["group"], r["split"]) == role_]
        with open(out_dir / f"pool-dfdc-faces-{role_}.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(items[0]))
            w.writeheader()
            w.writerows(items)
        counts[role_] = len(items)
    return counts


if __name__ == "__main__":
    cache = Path(sys.argv[1])
    labels = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("../shared/data/labels.csv")
    print("videos:", split_cache(cache, labels))
    print("dfdc-faces:", split_crops(labels, cache.parent))
