"""Does decoding only the reference frames (FFmpeg skip_frame "NONREF") make verdicts worse?

    python bench/bench_skip_frame.py [--model default] [--workers 2] [--only videos/dfdc ...]

Every labelled video in ../shared/data/videos (labels.csv, split "video") is scanned twice in the same run,
by the same Scanner: with every frame decoded (the default) and with reference frames only. Printed: ROC AUC
of the video probability and the false-FAKE rate (real videos called FAKE at the model's threshold) for
both, per folder and overall; how many verdicts flip; the median decode time of each. Skips cleanly when
the shared data is absent.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _labelled(only: list[str] | None) -> list[tuple[str, int]]:
    with open(SHARED / "labels.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "video"]
    rows = [r for r in rows if not only or any(r["path"].startswith(p) for p in only)]
    return [(str(SHARED / r["path"]), int(r["label"] == "fake")) for r in rows if (SHARED / r["path"]).is_file()]


_scanner = None


def _init(model: str) -> None:
    global _scanner
    from fakescope.batch import init_worker_process
    from fakescope.scan import Scanner

    init_worker_process()
    _scanner = Scanner(model=model)


def _both(path: str) -> dict:
    """The same file with every frame and with reference frames only: probability, verdict, decode time."""
    from fakescope.media import decode

    out = {}
    for name, flag in (("all", False), ("ref", True)):
        decode.REFERENCE_FRAMES_ONLY = flag
        r = _scanner.scan_file(path)
        out[name] = (r.probability, r.verdict, r.timings.get("decode"), r.frames_sampled)
    decode.REFERENCE_FRAMES_ONLY = False
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="default")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", action="append", help="paths in labels.csv starting with this (repeatable)")
    args = ap.parse_args()
    if not (SHARED / "labels.csv").is_file():
        print(f"({SHARED} absent: nothing to measure)")
        return
    from fakescope.evaluate.metrics import roc_auc
    from fakescope.scan import Scanner

    items = _labelled(args.only)
    threshold = Scanner(model=args.model).threshold  # also exports the ONNX graph once, before the workers
    t = time.perf_counter()
    with mp.get_context("spawn").Pool(args.workers, _init, (args.model,)) as pool:
        results = pool.map(_both, [p for p, _ in items], chunksize=1)
    wall = time.perf_counter() - t
    groups: dict[str, list[int]] = {"all": list(range(len(items)))}
    for i, (p, _) in enumerate(items):
        groups.setdefault(str(Path(p).relative_to(SHARED / "videos")).split("/")[0], []).append(i)
    print(f"{len(items)} videos, model {args.model}, threshold {threshold:.3f}, {wall:.0f} s for both passes "
          f"({args.workers} processes); videos without a face (no probability) count as p=0")
    print(f"{'set':12} {'n':>4} {'real':>4} {'AUC all':>8} {'AUC ref':>8} {'falseFAKE all':>14} "
          f"{'falseFAKE ref':>14} {'flips':>5}")
    for name, idx in groups.items():
        labels = [items[i][1] for i in idx]
        row = [name, len(idx), labels.count(0)]
        for mode in ("all", "ref"):
            probs = [results[i][mode][0] or 0.0 for i in idx]
            row.append(roc_auc(labels, probs) if 0 < sum(labels) < len(labels) else float("nan"))
        for mode in ("all", "ref"):
            reals = [results[i][mode][1] for i in idx if items[i][1] == 0]
            row.append(f"{reals.count('FAKE')}/{len(reals)}")
        row.append(sum(results[i]["all"][1] != results[i]["ref"][1] for i in idx))
        print(f"{row[0]:12} {row[1]:>4} {row[2]:>4} {row[3]:8.3f} {row[4]:8.3f} {row[5]:>14} {row[6]:>14} "
              f"{row[7]:>5}")
    dec = {m: statistics.median(r[m][2] for r in results if r[m][2] is not None) for m in ("all", "ref")}
    dp = statistics.median(abs((r["all"][0] or 0) - (r["ref"][0] or 0)) for r in results)
    print(f"median decode s/video: all frames {dec['all']:.3f}, reference only {dec['ref']:.3f} "
          f"(ratio {dec['ref'] / dec['all']:.2f}); median |p_all - p_ref| {dp:.4f}")
    print(f"(python {sys.version.split()[0]}; one run on a shared machine: times are noisy, verdicts are not)")


if __name__ == "__main__":
    main()
