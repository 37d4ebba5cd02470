"""Load check for `fakescope serve`: N concurrent uploads on loopback, every result stored and correct,
and how responsive the server stays while the workers are busy.

    python bench/bench_server_load.py [--uploads 20] [--workers 1] [--frames 32] [--model PATH]

Starts a real server (uvicorn + worker processes) on 127.0.0.1 with a fresh data folder, makes its own
media (the demo clip, photo and face-less picture, plus clips of other lengths and sizes), and scans each
distinct file in-process first to know the right answer. Then N clients upload at the same moment while
a poller asks for the status of a running scan and another loads the history page, both in a loop, until
every scan has finished (or --timeout). Prints upload, status and page latencies (p50/p95/max), scan
throughput, and checks each stored result against the in-process one (verdict, probability to 1e-4).
Exits 1 if any scan is missing, failed, or wrong. Traffic goes to 127.0.0.1 only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from fakescope.server.testing import ServerProcess

POLL_INTERVAL = 0.05  # seconds between status requests (20 a second): a busy newsroom's pages and tools


def percentiles(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    ms = sorted(s * 1000 for s in samples)
    q = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
    return f"p50 {q[49]:7.1f} ms   p95 {q[94]:7.1f} ms   max {ms[-1]:7.1f} ms   (n={len(ms)})"


def make_media(folder: Path) -> list[Path]:
    """Six distinct files: the demo's three, and three clips of other lengths, sizes and zooms."""
    from skimage import data

    from fakescope.demo import _ken_burns, make_demo_media
    from fakescope.media.encode import write_video

    files = make_demo_media(folder)
    for seconds, size in ((2, (480, 360)), (5, (640, 480)), (8, (320, 240))):
        path = folder / f"clip-{seconds}s-{size[0]}.mp4"
        write_video(path, _ken_burns(data.astronaut(), seconds * 25, size), fps=25)
        files.append(path)
    return files


def make_model(folder: Path) -> Path:
    """EfficientNet-Lite0 with ImageNet features and a seeded untrained head (the bundled model may not exist
    yet): its verdicts mean nothing, but its work per scan is the real model's."""
    import torch

    from fakescope.models import FaceClassifier, ModelConfig, create_model

    torch.manual_seed(0)
    m = create_model("efficientnet_lite0", pretrained=True)
    return FaceClassifier(m, ModelConfig.from_module("efficientnet_lite0", m)).save(folder / "bench.safetensors")


def main() -> int:
    from fakescope.options import ScanOptions

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uploads", type=int, default=20)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--frames", type=int, default=ScanOptions.num_frames)
    ap.add_argument("--model", help="checkpoint to serve (default: a seeded EfficientNet-Lite0 made here)")
    ap.add_argument("--timeout", type=float, default=900, help="give up after this many seconds")
    args = ap.parse_args()

    from fakescope.scan import Scanner

    with tempfile.TemporaryDirectory(prefix="fakescope-load-") as tmp:
        tmp = Path(tmp)
        model = Path(args.model) if args.model else make_model(tmp)
        media = make_media(tmp / "media")
        scanner = Scanner(model=model, num_frames=args.frames)
        expected = {p.name: scanner.scan_file(p) for p in media}
        uploads = list(itertools.islice(itertools.cycle(media), args.uploads))
        print(f"{len(media)} distinct files, {args.uploads} uploads, {args.workers} worker(s), "
              f"{args.frames} frames per video")

        server = ServerProcess(tmp / "data", ["--model", str(model), "--frames", str(args.frames),
                                              "--workers", str(args.workers)]).start()
        try:
            return run(server, uploads, expected, args.timeout)
        finally:
            server.stop()


def run(server: ServerProcess, uploads: list[Path], expected: dict, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    status_times: list[float] = []
    page_times: list[float] = []
    scan_ids: list[str] = []
    done = threading.Event()

    def upload(path: Path, start: threading.Barrier) -> tuple[str, float]:
        with httpx.Client(base_url=server.url, timeout=120) as client, open(path, "rb") as fh:
            start.wait()
            t = time.perf_counter()
            r = client.post("/api/scans", files={"file": (path.name, fh)})
            elapsed = time.perf_counter() - t
        r.raise_for_status()
        scan_ids.append(r.json()["id"])  # the poller starts on it at once
        return r.json()["id"], elapsed

    def poll_status() -> None:
        """Ask for the status of the scans submitted so far, in turn, over and over, as the page does."""
        with httpx.Client(base_url=server.url, timeout=30) as client:
            i = 0
            while not done.is_set() and time.monotonic() < deadline:
                if scan_ids:
                    t = time.perf_counter()
                    client.get(f"/api/scans/{scan_ids[i % len(scan_ids)]}").raise_for_status()
                    status_times.append(time.perf_counter() - t)
                    i += 1
                time.sleep(POLL_INTERVAL)

    def load_page() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while not done.is_set() and time.monotonic() < deadline:
                t = time.perf_counter()
                client.get("/scans").raise_for_status()
                page_times.append(time.perf_counter() - t)
                time.sleep(0.25)

    pollers = [threading.Thread(target=poll_status), threading.Thread(target=load_page)]
    for p in pollers:
        p.start()
    barrier = threading.Barrier(len(uploads))
    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(uploads)) as pool:
        submitted = list(pool.map(lambda p: upload(p, barrier), uploads))
    upload_times = [s for _, s in submitted]
    print(f"uploads accepted in {time.perf_counter() - t0:.2f} s")

    finals: dict[str, dict] = {}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        while len(finals) < len(scan_ids) and time.monotonic() < deadline:
            for scan in client.get("/api/scans", params={"limit": 500}).json()["scans"]:
                if scan["status"] in ("done", "failed"):
                    finals[scan["id"]] = scan
            time.sleep(0.5)
        wall = time.perf_counter() - t0
        done.set()
        for p in pollers:
            p.join()

        wrong = []
        for (scan_id, _), path in zip(submitted, uploads):
            want = expected[path.name]
            scan = finals.get(scan_id)
            if scan is None:
                wrong.append(f"{path.name}: not finished")
                continue
            r = client.get(f"/api/scans/{scan_id}/result")
            got = r.json()["files"][0] if r.status_code == 200 else {"verdict": f"HTTP {r.status_code}"}
            same_p = (got.get("probability") is None) == (want.probability is None) and (
                want.probability is None or abs(got["probability"] - want.probability) < 1e-4)
            if got["verdict"] != want.verdict or not same_p or scan["status"] != "done":
                wrong.append(f"{path.name}: stored {got['verdict']} {got.get('probability')}, "
                             f"expected {want.verdict} {want.probability}")
        stored = client.get("/api/scans", params={"limit": 500}).json()["total"]

    scan_seconds = [_seconds(s["finished_at"]) - _seconds(s["started_at"]) for s in finals.values()]
    print(f"all {len(finals)}/{len(scan_ids)} finished in {wall:.1f} s "
          f"({60 * len(finals) / wall:.1f} scans/min); stored in the database: {stored}")
    print(f"scan time per file (worker)     p50 {statistics.median(scan_seconds):.2f} s   "
          f"max {max(scan_seconds):.2f} s" if scan_seconds else "no scan finished")
    print(f"upload  POST /api/scans         {percentiles(upload_times)}")
    print(f"status  GET  /api/scans/{{id}}    {percentiles(status_times)}")
    print(f"page    GET  /scans (history)   {percentiles(page_times)}")
    if wrong or stored != len(scan_ids):
        print(f"FAILED: {len(wrong)} wrong or missing result(s)", *wrong, sep="\n  ")
        return 1
    print(f"every result stored and equal to the in-process scan ({len(scan_ids)} checked)")
    return 0


def _seconds(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


if __name__ == "__main__":
    sys.exit(main())
