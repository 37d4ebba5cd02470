"""Does a model's score follow the face's size? Per video of the calib and test pools (scripts/pool.py): the
mean p_fake of its crops and the median longer side of its face boxes; printed per source folder and label,
with Spearman's rank correlation of the two over all genuine and over all fake videos.

    python scripts/scores_by_face_size.py [MODEL] [--runs ~/.cache/fakescope-runs]

Written for the question the model card asks of `videos/wild` (genuine clips scored above today's fakes):
is the face size the cause?
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from fakescope.data import read_crops
from fakescope.evaluate.scoring import crop_logits
from fakescope.models import FaceClassifier


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", default="default")
    ap.add_argument("--runs", type=Path, default=Path.home() / ".cache" / "fakescope-runs")
    args = ap.parse_args()
    clf = FaceClassifier.load(args.model)
    frames: dict[tuple[str, str, int], list[tuple[float, float]]] = defaultdict(list)  # (folder, video, label)
    for role in ("calib", "test"):
        pool_csv = args.runs / f"pool-videos16-{role}.csv"
        items = read_crops(pool_csv)
        with open(pool_csv, newline="") as fh:
            rows = {r["path"]: r for r in csv.DictReader(fh)}
        for it, p in zip(items, clf.probability(crop_logits(clf, items))):
            row = rows[str(it.path)]
            folder = "/".join(row["source"].split("/")[:2])
            frames[(folder, row["source"], it.label)].append((float(p), max(map(float, row["box"].split()[2:4]))))
    videos = [(folder, label, np.mean([p for p, _ in v]), np.median([s for _, s in v]))
              for (folder, _, label), v in frames.items()]
    for folder in sorted({v[0] for v in videos}):
        for label in (0, 1):
            mine = [v for v in videos if v[0] == folder and v[1] == label]
            if mine:
                print(f"{folder:20s} {'genuine' if label == 0 else 'fake':7s} {len(mine):3d} videos: mean p_fake "
                      f"{np.mean([v[2] for v in mine]):.3f}, median face {np.median([v[3] for v in mine]):.0f} px")
    for label in (0, 1):
        mine = [v for v in videos if v[1] == label]
        rho = spearmanr([v[2] for v in mine], [v[3] for v in mine])
        print(f"all {'genuine' if label == 0 else 'fake'} ({len(mine)} videos): Spearman(p_fake, face side) "
              f"{rho.statistic:.2f} (p = {rho.pvalue:.2g})")


if __name__ == "__main__":
    main()
