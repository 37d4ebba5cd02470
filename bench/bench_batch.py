"""Batch throughput: videos per hour for 1 and 2 local workers and for Ray with 1 and 2 nodes of one CPU,
over at least 40 real clips, beside the decode-only floor of the same clips, with peak memory; and the
start-up figures (`fakescope --version`, a whole `fakescope scan CLIP` process).

    python bench/bench_batch.py [--clips 40] [--videos DIR_OR_FILE ...] [--model default] [--no-ray]
                                [--rows startup,floor,scan,ray,driver]

Clips: the 1080p videos under ../shared/data/videos/{dfdc,ffpp} (repeated to reach --clips), or --videos.
Each configuration scans the whole list as `fakescope scan --out X.jsonl` does (scan_batch), worker start-up
(model load) included; the Ray cluster (started here on 127.0.0.1) is up before its clock starts. The floor
is read_media alone (decoding the sampled frames, no faces, no model) with 1 and 2 processes. Peak memory is
the largest total RSS of this process and all its descendants (workers, Ray's raylets and actors), sampled
every 0.2 s. The machine is shared: quote medians and ratios from one run.

Where scaling out stops: the "driver" row times what the driver does for each file, in this process, on one
real result: unpickle it, write its JSON line (flushed) and its CSV row; with Ray, also one actor call
that returns such a result (the round trip, and the driver's CPU for it), and the clips' mean size (what
the shared storage must deliver a clip).

What each row may use. Local workers (and the floor's processes) are not pinned: N of them share all of
this machine's cores as the OS schedules them, each with its share of the cores as threads (cores // N: one
worker on 2 cores decodes and classifies with 2 threads, two workers with 1 each). A Ray node here is a
one-CPU machine: its raylet is started pinned to a core of its own (sched_setaffinity, which the raylet's
workers inherit: node 1 on the first core, node 2 on the second), and each actor (num_cpus=1) uses one
thread a pool. So "Ray, 1 node" is one core, and "2 nodes / 1 node" is what a second machine adds.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self

# Ray resolves 127.0.0.1 to the public address unless this is a one-host cluster; read when Ray is imported.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos"


def _tree(root: int) -> dict[int, tuple[int, float]]:
    """(resident bytes, CPU seconds so far) of `root` and of every process below it, by pid."""
    children: dict[int, list[int]] = {}
    usage: dict[int, tuple[int, float]] = {}
    page, tick = os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_CLK_TCK")
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            fields = stat[stat.rfind(")") + 2:].split()
            children.setdefault(int(fields[1]), []).append(int(d.name))
            usage[int(d.name)] = (int(fields[21]) * page, (int(fields[11]) + int(fields[12])) / tick)
        except (OSError, ValueError, IndexError):
            continue
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        out[pid] = usage.get(pid, (0, 0.0))
        todo.extend(children.get(pid, []))
    return out


class Usage:
    """While the block runs, every 0.2 s: the peak total RSS of this process and all below it (workers, Ray's
    raylets and actors), and the CPU seconds they spent (user + system; a process that ends between two
    looks loses at most its last 0.2 s). CPU seconds a video say what a clip costs whatever else the
    machine runs; wall seconds say what it took here."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._start: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _look(self) -> None:
        tree = _tree(os.getpid())
        self.peak_mb = max(self.peak_mb, sum(rss for rss, _ in tree.values()) / 2**20)
        self._last.update({pid: cpu for pid, (_, cpu) in tree.items()})

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._look()

    @property
    def cpu_s(self) -> float:
        return sum(cpu - self._start.get(pid, 0.0) for pid, cpu in self._last.items())

    def __enter__(self) -> Self:
        self._start = {pid: cpu for pid, (_, cpu) in _tree(os.getpid()).items()}
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._look()


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


def _floor(clips: list[str], processes: int) -> tuple[float, None, Usage]:
    from fakescope.batch import init_worker_process
    from fakescope.threads import process_cores

    threads = max(1, process_cores() // processes)  # as LocalPool gives its workers
    with mp.get_context("spawn").Pool(processes, init_worker_process, (threads,)) as pool:
        pool.map(_decode, clips[:2])  # the imports, before the clock
        with Usage() as usage:
            t = time.perf_counter()
            pool.map(_decode, clips, chunksize=1)
            wall = time.perf_counter() - t
    return wall, None, usage


def _scan(clips: list[str], model: str, **how) -> tuple[float, dict, Usage]:
    from fakescope.batch import scan_batch

    with tempfile.TemporaryDirectory() as tmp, Usage() as usage:
        t = time.perf_counter()
        batch = scan_batch(clips, out=Path(tmp) / "r.jsonl", model=model, **how)
        wall = time.perf_counter() - t
    return wall, batch.counts, usage


@contextlib.contextmanager
def _pinned(cpu: int) -> Iterator[None]:
    """Processes started in this block (a Ray node's raylet and its helpers, and through the raylet every
    worker it starts) may run on `cpu` only: a one-CPU machine. Linux only."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _raylets() -> list[tuple[int, str]]:
    """(pid, the CPUs it may use) of every raylet below this process: the proof that each node is pinned."""
    out = []
    for pid in _tree(os.getpid()):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "raylet":
                status = Path(f"/proc/{pid}/status").read_text()
                out.append((pid, status.split("Cpus_allowed_list:")[1].split()[0]))
        except (OSError, IndexError):
            continue
    return sorted(out)


def _driver(clip: str, model: str, ray_too: bool, n: int = 2000) -> None:
    """What the driver spends on one file, whatever scans it (see the module docstring)."""
    import pickle

    from fakescope.batch import CsvWriter, FileKey, JsonlWriter
    from fakescope.scan import Scanner

    result = Scanner(model=model).scan_file(clip)
    blob, key = pickle.dumps(result), FileKey.of(clip)
    with tempfile.TemporaryDirectory() as tmp:
        jsonl, table = JsonlWriter(Path(tmp) / "r.jsonl"), CsvWriter(Path(tmp) / "r.csv")
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            r = pickle.loads(blob)
            jsonl.write(r, key)
            table.write(r)
        wall, cpu = (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n
        jsonl.close()
        table.close()
    print(f"driver, per file: unpickle + JSON line + CSV row {wall * 1e3:.2f} ms wall, {cpu * 1e3:.2f} ms CPU "
          f"(a result of {len(blob) / 1e3:.1f} KB pickled; mean of {n})")
    if ray_too:
        import ray

        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        try:
            echo = ray.remote(num_cpus=1)(_Echo).remote(result)
            ray.get(echo.get.remote())
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(300):
                ray.get(echo.get.remote())
            wall, cpu = (time.perf_counter() - wall) / 300, (time.process_time() - cpu) / 300
        finally:
            ray.shutdown()
        print(f"driver, per file on Ray: one actor call returning that result {wall * 1e3:.2f} ms round trip, "
              f"{cpu * 1e3:.2f} ms of the driver's CPU (mean of 300, one at a time)")


class _Echo:
    """A Ray actor that returns a scan result, as a scanning actor does, without scanning."""

    def __init__(self, result) -> None:
        self.result = result

    def get(self):
        return self.result


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
    ap.add_argument("--rows", default="startup,floor,scan,ray,driver",
                    help="which rows to measure (comma-separated; ray-driver: the driver's Ray call alone)")
    args = ap.parse_args()
    rows_wanted = set(args.rows.split(",")) - ({"ray"} if args.no_ray else set())
    clips = _clips(args.videos, args.clips)
    if not clips:
        print(f"({SHARED} absent and no --videos: nothing to measure)")
        return
    from fakescope.scan import Scanner

    Scanner(model=args.model).classifier._cached_onnx()  # the graph exported once: workers start torch-free
    from fakescope.threads import process_cores

    cores = process_cores()
    load = os.getloadavg()
    print(f"{len(clips)} clips ({len(set(clips))} distinct), model {args.model}, {cores} cores; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start")

    if "startup" in rows_wanted:
        version = _median_wall([sys.executable, "-m", "fakescope", "--version"], 5)
        single = _median_wall([sys.executable, "-m", "fakescope", "scan", clips[0], "--model", args.model], 3)
        print(f"start-up: `fakescope --version` {version:.2f} s, `fakescope scan {Path(clips[0]).name}` "
              f"{single:.2f} s wall (whole process, medians of 5 and 3)")

    if "driver" in rows_wanted:
        sizes = [os.path.getsize(p) for p in set(clips)]
        print(f"clips: mean {statistics.mean(sizes) / 1e6:.2f} MB ({len(sizes)} distinct files)")
        _driver(clips[0], args.model, "ray" in rows_wanted or "ray-driver" in rows_wanted)

    rows = []
    for processes in (1, 2) if "floor" in rows_wanted else ():
        wall, counts, usage = _floor(clips, processes)
        rows.append((f"decode floor, {processes} process{'es' if processes > 1 else ''}", wall, counts, usage))
        print(f"  {rows[-1][0]} (unpinned, {max(1, cores // processes)} decoder threads each): {wall:.1f} s",
              flush=True)
    for workers in (1, 2) if "scan" in rows_wanted else ():
        wall, counts, usage = _scan(clips, args.model, workers=workers)
        rows.append((f"scan, {workers} worker{'s' if workers > 1 else ''}", wall, counts, usage))
        print(f"  {rows[-1][0]} (unpinned, {max(1, cores // workers)} threads a pool each): {wall:.1f} s "
              f"{counts}", flush=True)
    if "ray" in rows_wanted:
        try:
            from ray.cluster_utils import Cluster
        except ImportError:
            print("(Ray not installed: pip install -e '.[ray]' for the Ray rows)")
        else:
            cpus = sorted(os.sched_getaffinity(0))
            node = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 100 * 2**20}
            with _pinned(cpus[0]):
                cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
            try:
                for nodes in (1, 2):
                    if nodes == 2:
                        with _pinned(cpus[1 % len(cpus)]):
                            cluster.add_node(**node)
                        cluster.wait_for_nodes()
                    pins = ", ".join(f"raylet {pid} on CPU {allowed}" for pid, allowed in _raylets())
                    wall, counts, usage = _scan(clips, args.model, ray=cluster.address)
                    rows.append((f"Ray, {nodes} node{'s' if nodes > 1 else ''} x 1 CPU", wall, counts, usage))
                    print(f"  {rows[-1][0]} ({pins}; 1 thread a pool each actor): {wall:.1f} s {counts}",
                          flush=True)
            finally:
                cluster.shutdown()

    if not rows:
        return
    base = {name.split(",")[0]: wall for name, wall, *_ in rows if name.endswith(("1 process", "1 worker"))}
    ray1 = next((wall for name, wall, *_ in rows if name.startswith("Ray, 1 ")), None)
    print(f"\n{'configuration':30} {'wall s':>7} {'videos/h':>9} {'s/video':>8} {'speed-up':>8} "
          f"{'CPU s/video':>11} {'peak RSS MB':>11}")
    for name, wall, counts, usage in rows:
        ref = ray1 if name.startswith("Ray") else base.get(name.split(",")[0])
        errors = (counts or {}).get("ERROR", 0)
        print(f"{name:30} {wall:7.1f} {len(clips) / wall * 3600:9.0f} {wall / len(clips):8.2f} "
              f"{(ref / wall if ref else 1):8.2f} {usage.cpu_s / len(clips):11.2f} "
              f"{usage.peak_mb:11.0f}"
              + (f"  ({errors} ERROR)" if errors else ""))
    load = os.getloadavg()
    print(f"(one run, python {sys.version.split()[0]}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          "at the end; the machine is shared with other jobs, so absolute figures are noisy: compare within "
          "this run. Local rows: unpinned processes on all cores; Ray rows: each node pinned to one core)")


if __name__ == "__main__":
    main()
