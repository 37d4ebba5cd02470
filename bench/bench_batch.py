"""Batch throughput: videos per hour for 1 and 2 local workers and for Ray with 1 and 2 nodes of one CPU,
over at least 40 real clips, beside the decode-only floor of the same clips, with peak memory; and the
start-up figures (`fakescope --version`, a whole `fakescope scan CLIP` process).

    python bench/bench_batch.py [--clips 40] [--videos DIR_OR_FILE ...] [--model default] [--no-ray]

Clips: the 1080p videos under ../shared/data/videos/{dfdc,ffpp} (repeated to reach --clips), or --videos.
Each configuration scans the whole list as `fakescope scan --out X.jsonl` does (scan_batch), worker start-up
(model load) included; the Ray cluster (started here on 127.0.0.1) is up before its clock starts. The floor
is read_media alone (decoding the sampled frames, no faces, no model) with 1 and 2 processes. Peak memory is
the largest total RSS of this process and all its descendants (workers, Ray's raylets and actors), sampled
every 0.2 s. The machine is shared: quote medians and ratios from one run.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Self

# Ray resolves 127.0.0.1 to the public address unless this is a one-host cluster; read when Ray is imported.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos"


def _rss_tree_mb(root: int) -> float:
    """Total resident memory of `root` and every process below it."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            fields = stat[stat.rfind(")") + 2:].split()
            children.setdefault(int(fields[1]), []).append(int(d.name))
            rss[int(d.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total / 2**20


class PeakMemory:
    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, _rss_tree_mb(os.getpid()))

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _clips(videos: list[Path] | None, n: int) -> list[str]:
    import av

    if videos:
        found = [p for v in videos for p in (sorted(v.rglob("*.mp4")) if v.is_dir() else [v])]
    else:
        found = []
        for p in sorted(SHARED.glob("dfdc/*/*.mp4")) + sorted(SHARED.glob("ffpp/*/*.mp4")):
            with av.open(str(p)) as c:
                s = c.streams.video[0]
                if max(s.codec_context.width, s.codec_context.height) >= 1920:
                    found.append(p)
    if not found:
        return []
    return [str(found[i % len(found)]) for i in range(max(n, len(found)))]


def _decode(path: str) -> int:
    from fakescope.media import read_media

    return len(read_media(path)[1])


def _floor(clips: list[str], processes: int) -> float:
    with mp.get_context("spawn").Pool(processes) as pool:
        pool.map(_decode, clips[:2])  # the imports, before the clock
        t = time.perf_counter()
        pool.map(_decode, clips, chunksize=1)
        return time.perf_counter() - t


def _scan(clips: list[str], model: str, **how) -> tuple[float, dict, float]:
    from fakescope.batch import scan_batch

    with tempfile.TemporaryDirectory() as tmp, PeakMemory() as mem:
        t = time.perf_counter()
        batch = scan_batch(clips, out=Path(tmp) / "r.jsonl", model=model, **how)
        wall = time.perf_counter() - t
    return wall, batch.counts, mem.peak


def _median_wall(cmd: list[str], n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=40)
    ap.add_argument("--videos", nargs="*", type=Path)
    ap.add_argument("--model", default="default")
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()
    clips = _clips(args.videos, args.clips)
    if not clips:
        print(f"({SHARED} absent and no --videos: nothing to measure)")
        return
    from fakescope.scan import Scanner

    Scanner(model=args.model).classifier._cached_onnx()  # the graph exported once: workers start torch-free
    print(f"{len(clips)} clips ({len(set(clips))} distinct), model {args.model}, {os.cpu_count()} cores")

    version = _median_wall([sys.executable, "-m", "fakescope", "--version"], 5)
    single = _median_wall([sys.executable, "-m", "fakescope", "scan", clips[0], "--model", args.model], 3)
    print(f"start-up: `fakescope --version` {version:.2f} s, `fakescope scan {Path(clips[0]).name}` "
          f"{single:.2f} s wall (whole process, medians of 5 and 3)")

    rows = []
    for processes in (1, 2):
        wall = _floor(clips, processes)
        rows.append((f"decode floor, {processes} process{'es' if processes > 1 else ''}", wall, None, None))
        print(f"  {rows[-1][0]}: {wall:.1f} s", flush=True)
    for workers in (1, 2):
        wall, counts, peak = _scan(clips, args.model, workers=workers)
        rows.append((f"scan, {workers} worker{'s' if workers > 1 else ''}", wall, counts, peak))
        print(f"  {rows[-1][0]}: {wall:.1f} s {counts}", flush=True)
    if not args.no_ray:
        try:
            from ray.cluster_utils import Cluster
        except ImportError:
            print("(Ray not installed: pip install -e '.[ray]' for the Ray rows)")
        else:
            node = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 100 * 2**20}
            cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
            try:
                for nodes in (1, 2):
                    if nodes == 2:
                        cluster.add_node(**node)
                        cluster.wait_for_nodes()
                    wall, counts, peak = _scan(clips, args.model, ray=cluster.address)
                    rows.append((f"Ray, {nodes} node{'s' if nodes > 1 else ''} x 1 CPU", wall, counts, peak))
                    print(f"  {rows[-1][0]}: {wall:.1f} s {counts}", flush=True)
            finally:
                cluster.shutdown()

    base = {name.split(",")[0]: wall for name, wall, *_ in rows if name.endswith(("1 process", "1 worker"))}
    ray1 = next((wall for name, wall, *_ in rows if name.startswith("Ray, 1 ")), None)
    print(f"\n{'configuration':30} {'wall s':>7} {'videos/h':>9} {'s/video':>8} {'speed-up':>8} {'peak RSS MB':>11}")
    for name, wall, counts, peak in rows:
        ref = ray1 if name.startswith("Ray") else base.get(name.split(",")[0])
        errors = (counts or {}).get("ERROR", 0)
        print(f"{name:30} {wall:7.1f} {len(clips) / wall * 3600:9.0f} {wall / len(clips):8.2f} "
              f"{(ref / wall if ref else 1):8.2f} {(f'{peak:.0f}' if peak else '-'):>11}"
              + (f"  ({errors} ERROR)" if errors else ""))
    print(f"(one run, python {sys.version.split()[0]}; the machine is shared with other jobs, so absolute "
          "figures are noisy: compare within this run)")


if __name__ == "__main__":
    main()
