"""End-to-end scan speed on this machine, split by stage, against the decode floor.

    python bench/bench_scan.py [--repeat 3] [--model default] [--videos DIR ...]

For the demo clip and every video in ../shared/data/videos (skipped when absent): median seconds per
video at the default settings (32 frames), per stage (decode, detect, crop, classify), and the ratio to
decode-only time for the same sampled frames (the floor: every frame up to the last sample has to be
decoded). Peak memory is the process's maximum RSS. Goal: a 10 s 1080p clip in under 2 s, within 1.5x
of the decode floor.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fakescope.demo import make_demo_media
from fakescope.media import read_media
from fakescope.scan import Scanner

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_one(scanner: Scanner, path: Path, repeat: int) -> dict:
    floor, total, stages = [], [], {"decode": [], "detect": [], "crop": [], "classify": []}
    for _ in range(repeat):
        t = time.perf_counter()
        read_media(path, num_frames=scanner.options.num_frames)
        floor.append(time.perf_counter() - t)
        t = time.perf_counter()
        result = scanner.scan_file(path)
        total.append(time.perf_counter() - t)
        for k, seconds in stages.items():
            seconds.append(result.timings.get(k, 0.0))
    med = {k: statistics.median(v) for k, v in stages.items()}
    return {"name": path.name, "size": f"{result.width}x{result.height}", "duration": result.duration or 0.0,
            "total": statistics.median(total), "floor": statistics.median(floor), **med,
            "verdict": result.verdict}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--model", default="default")
    ap.add_argument("--videos", nargs="*", type=Path, help="videos or folders (default: demo clip + shared videos)")
    args = ap.parse_args()

    scanner = Scanner(model=args.model)
    with tempfile.TemporaryDirectory() as tmp:
        paths = [make_demo_media(tmp)[0]]
        if args.videos:
            paths += [p for v in args.videos for p in (sorted(v.rglob("*.mp4")) if v.is_dir() else [v])]
        elif SHARED.is_dir():
            paths += sorted(SHARED.rglob("*.mp4"))
        else:
            print(f"({SHARED} absent: demo clip only)")
        scanner.scan_file(paths[0])  # warm-up: ONNX session, detector
        print(f"{'video':34} {'size':>10} {'dur s':>6} {'total':>6} {'decode':>6} {'detect':>6} {'crop':>5} "
              f"{'class':>5} {'floor':>6} {'ratio':>5}")
        rows = []
        for p in paths:
            r = bench_one(scanner, p, args.repeat)
            rows.append(r)
            print(f"{r['name'][:34]:34} {r['size']:>10} {r['duration']:6.1f} {r['total']:6.2f} {r['decode']:6.2f} "
                  f"{r['detect']:6.2f} {r['crop']:5.2f} {r['classify']:5.2f} {r['floor']:6.2f} "
                  f"{r['total'] / r['floor']:5.2f}", flush=True)
    hd = [r for r in rows if r["size"] in ("1920x1080", "1080x1920")]
    for label, sel in (("all videos", rows), ("1080p videos", hd)):
        if sel:
            print(f"{label}: n={len(sel)} median total {statistics.median(r['total'] for r in sel):.2f} s, "
                  f"median ratio to decode floor {statistics.median(r['total'] / r['floor'] for r in sel):.2f}")
    print(f"peak RSS {peak_rss_mb():.0f} MB (python {sys.version.split()[0]}, {args.repeat} repeats, medians)")


if __name__ == "__main__":
    main()
