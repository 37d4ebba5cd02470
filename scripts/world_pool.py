"""Training CSV for issue 8's candidate B: the default model's train role plus today's generators.

scripts/pool.py keeps all of `videos/wild` out of training. This variant moves the wild calib groups that
hold fakes only (WILD_TRAIN) into training, with their frame-degraded copies, and writes:
- `world-train.csv`: DFDC crops of labels.csv (split train and val, the trainer selects on val), the
  real-people train-role crops (REAL_REPEAT times) and the WILD_TRAIN crops (WILD_REPEAT times), each from
  the clean cache and its `--degrade 1.0` twin;
- `world-calib.csv`: pool-videos16-calib.csv without the WILD_TRAIN groups (DreamTalk with its MEAD reals
  stays), for `fakescope calibrate` beside pool-dfdc-faces-calib.csv.

Composite clips: the README of ../shared/data says AniPortrait's left panel is the still reference photo
(and the middle one of its 3-panel clips the driving video); only the rightmost face track of a composite
is the generated face, so only it is labelled fake here.

    python scripts/world_pool.py RUNS LABELS_CSV [--frames N] [--add-groups GROUP ...] [--out NAME]

`--frames N` (default 16, v4's) reads the crops of today's generators and of the real-people clips from
caches cut at N frames a clip (RUNS/videosN, RUNS/degN-real-people, RUNS/degN-wild; 16 reads videos16 and
deg-*) and repeats them 16/N as often, so each class gets as many views from more distinct frames; it
writes world-trainN.csv (16: world-train.csv).

`--add-groups` moves more `videos/wild` groups into training (and out of the calib pool, should they be
there); `bench/bench_sources.py --exclude-trained CSV` then leaves them out of the test role for every model
it compares. The real-people clips are repeated so that genuine and fake clips keep equal weight: real
repeats = (fake clips - the moved groups' own genuine clips) x their repeats / real-people clips (v4: 16 wild
clips x 3 = 48 = 8 real-people clips x 6).
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

from pool import cache_rows

WILD_TRAIN = {"Zejun-Yang/AniPortrait", "AhmadAFS1/MuseTalk", "pair8", "pair9"}
# Panels side by side: the rightmost face is the generated one (DeepFaceLive: left the original, right the swap).
COMPOSITES = {"Zejun-Yang/AniPortrait", "iperov/DeepFaceLive"}
WILD_REPEAT = 3  # at BASE_FRAMES frames a clip
BASE_FRAMES = 16  # v4's caches: videos16, deg-real-people, deg-wild, and world-train.csv
FIELDS = ("path", "label", "group", "split", "landmarks", "dataset", "method", "video", "track")


def rightmost_tracks(rows: list[dict]) -> set[tuple[str, str]]:
    """(video, track) of the face furthest right in each composite video, by the mean left edge of its box."""
    xs: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows:
        xs[(r["video"], r["track"])].append(float(r["box"].split()[0]))
    best: dict[str, tuple[float, str]] = {}
    for (video, track), v in xs.items():
        x = sum(v) / len(v)
        if video not in best or x > best[video][0]:
            best[video] = (x, track)
    return {(video, track) for video, (_, track) in best.items()}


def wild_and_people(caches: list[Path], labels_csv: Path, frames: int = BASE_FRAMES,
                    wild_train: frozenset[str] = frozenset(WILD_TRAIN)) -> list[dict]:
    """Training rows of the real-people train clips and of the `wild_train` groups' clips, from every cache,
    each repeated so that real and fake clips weigh the same (see the module's docstring)."""
    wild_repeat = max(1, round(WILD_REPEAT * BASE_FRAMES / frames))
    picked = []  # (row, is a real-people clip), in cache and manifest order
    for cache in caches:
        rows = cache_rows(cache, labels_csv)
        keep = rightmost_tracks([r for r in rows if r["group"] in COMPOSITES])
        for r in rows:
            if "/videos/real-people/" in r["source"] and r["role"] == "train":
                picked.append((r, True))
            elif r["group"] in wild_train and (r["group"] not in COMPOSITES or (r["video"], r["track"]) in keep):
                picked.append((r, False))

    def clips(people: bool, label: str) -> int:
        return len({r["source"] for r, p in picked if p == people and r["label"] == label})

    # A moved group's own genuine clips count with its fakes; the real-people clips make up the rest.
    missing = (clips(False, "fake") - clips(False, "real")) * wild_repeat
    real_repeat = max(1, round(missing / max(clips(True, "real"), 1)))
    return [dict(r, split="train") for r, people in picked for _ in range(real_repeat if people else wild_repeat)]


def main(runs: Path, labels_csv: Path, frames: int = BASE_FRAMES, add_groups: frozenset[str] = frozenset(),
         out: str | None = None) -> None:
    root = labels_csv.parent
    with open(labels_csv, newline="") as fh:
        dfdc = [dict(r, path=str((root / r["path"]).resolve())) for r in csv.DictReader(fh)
                if r["path"].startswith("dfdc-faces/")]
    base = frames == BASE_FRAMES
    deg = "deg-" if base else f"deg{frames}-"
    moved = frozenset(WILD_TRAIN) | add_groups
    extra = wild_and_people([runs / f"videos{frames}", runs / f"{deg}real-people", runs / f"{deg}wild"], labels_csv,
                            frames, moved)
    train_csv = runs / (out or ("world-train.csv" if base else f"world-train{frames}.csv"))
    with open(train_csv, "w", newline="") as fh:
        w = csv.DictWriter(fh, FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(dfdc + extra)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for r in extra:
        counts[(r["group"] if r["label"] == "fake" else "real-people", r["label"])] += 1
    print(f"{train_csv.name}: {len(dfdc)} DFDC crops, then (group, label): crop views")
    for k, n in sorted(counts.items()):
        print(f"  {k}: {n}")
    with open(runs / "pool-videos16-calib.csv", newline="") as fh:
        calib = list(csv.DictReader(fh))
    kept = [r for r in calib if r["group"] not in moved]
    with open(runs / "world-calib.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, list(calib[0]))
        w.writeheader()
        w.writerows(kept)
    print(f"world-calib.csv: {len(kept)} of {len(calib)} calib video crops (the moved groups left out)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", type=Path)
    ap.add_argument("labels", type=Path)
    ap.add_argument("--frames", type=int, default=BASE_FRAMES,
                    help=f"frames a clip of the caches read (default {BASE_FRAMES})")
    ap.add_argument("--add-groups", nargs="+", default=[], metavar="GROUP",
                    help="more videos/wild groups (labels.csv's `group`) to train on")
    ap.add_argument("--out", help="the training CSV's name in RUNS (default world-train[N].csv)")
    args = ap.parse_args()
    main(args.runs, args.labels, args.frames, frozenset(args.add_groups), args.out)
