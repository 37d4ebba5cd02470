"""`fakescope scan --ray ADDRESS` on a real Ray cluster: a head and a second node on this machine, one CPU
each, on loopback. Skipped where Ray is not installed (it is the optional extra `fakescope[ray]`).

The cluster is started once for the module and shut down at its end; every wait is bounded.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Ray resolves 127.0.0.1 to the machine's public address (where nothing listens: a driver would retry for
# ever) unless told that this is a one-host cluster; it reads this when imported, so before the import.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray")

from fakescope.batch import Task
from fakescope.batch.ray_pool import RayPool
from fakescope.results import ERROR, FileResult

WAIT = 180  # seconds: starting Ray on a loaded 2-core machine is slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """Head + one more node, one CPU each, on 127.0.0.1; yields the address a driver connects to."""
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 80 * 1024 * 1024}
    c = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    try:
        c.add_node(**node)
        c.wait_for_nodes(timeout=WAIT)
        yield c.address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        c.shutdown()


@pytest.fixture
def clips(tmp_path: Path, make_batch: Callable[..., Path]) -> Path:
    """Four copies of the demo clip and the photo."""
    return make_batch(tmp_path / "clips", clips=4, no_face=False)


def test_scan_on_two_ray_nodes_writes_what_a_local_scan_does(
        cluster: str, clips: Path, tiny_model_path: Path, tmp_path: Path) -> None:
    from fakescope.scan import Scanner

    out = tmp_path / "ray.jsonl"
    proc = subprocess.run([sys.executable, "-m", "fakescope", "scan", clips, "--ray", cluster, "--out", out,
                           "--model", tiny_model_path, "--frames", "4", "--csv", tmp_path / "ray.csv"],
                          check=False, capture_output=True, text=True, timeout=WAIT, env=os.environ.copy())
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("5 files: ")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(d["path"] for d in lines) == sorted(str(p) for p in clips.iterdir())
    local = Scanner(model=tiny_model_path, num_frames=4)
    for d in lines:
        mine = local.scan_file(d["path"])
        assert d["verdict"] == mine.verdict and d["probability"] == pytest.approx(mine.probability, abs=1e-5)
    assert len((tmp_path / "ray.csv").read_text().splitlines()) == 6


def test_ray_worker_lost_or_stuck_is_retried_then_error_and_the_batch_goes_on(
        cluster: str, clips: Path, tiny_model_path: Path, tmp_path: Path) -> None:
    import batch_faults
    from ray import cloudpickle

    # The actors are on other processes that do not have the tests folder on their path: ship it by value.
    cloudpickle.register_pickle_by_value(batch_faults)
    hang, crash = tmp_path / "hang.mp4", tmp_path / "crash.mp4"
    shutil.copy(clips / "clip0.mp4", hang)
    shutil.copy(clips / "clip0.mp4", crash)
    files = [hang, *sorted(clips.iterdir()), crash]
    pool = RayPool(functools.partial(batch_faults.FaultyScanner, model=str(tiny_model_path), num_frames=4),
                   address=cluster, timeout=15, tries=2)
    results: dict[int, list[FileResult]] = {}
    started = time.monotonic()
    try:
        pool.run([Task(i, str(p)) for i, p in enumerate(files)], lambda i, r: results.setdefault(i, []).append(r))
    finally:
        cloudpickle.unregister_pickle_by_value(batch_faults)
    assert time.monotonic() - started < WAIT
    assert sorted(results) == list(range(len(files))) and all(len(r) == 1 for r in results.values())
    got = {files[i].name: r[0] for i, r in results.items()}
    assert got["hang.mp4"].verdict == ERROR and "longer than 15 s" in got["hang.mp4"].error
    assert got["crash.mp4"].verdict == ERROR and got["crash.mp4"].error.startswith(
        "the Ray worker scanning this file was lost (") and got["crash.mp4"].error.endswith("(2 tries)")
    assert all(got[p.name].verdict in ("FAKE", "REAL") for p in files if p not in (hang, crash))
    assert pool.replaced == 3
    assert len(pool.actor_pids) >= 3  # two to start with, fresh ones after the losses


def test_each_ray_actor_uses_one_thread_a_pool(cluster: str, clips: Path, tiny_model_path: Path,
                                               tmp_path: Path) -> None:
    """An actor asks Ray for one CPU and its thread pools (ONNX Runtime, the video decoder, torch through
    OMP_NUM_THREADS) use one thread each, whatever the node's machine has."""
    import batch_faults
    from ray import cloudpickle

    probe = tmp_path / "threads.mp4"
    shutil.copy(clips / "clip0.mp4", probe)
    cloudpickle.register_pickle_by_value(batch_faults)
    results: list[FileResult] = []
    try:
        RayPool(functools.partial(batch_faults.FaultyScanner, model=str(tiny_model_path), num_frames=4),
                address=cluster).run([Task(0, str(probe))], lambda i, r: results.append(r))
    finally:
        cloudpickle.unregister_pickle_by_value(batch_faults)
    got = json.loads(results[0].error)
    assert got["share"] == got["decoder"] == int(got["omp"]) == got["onnx"] == 1


def test_a_file_the_workers_do_not_see_is_sent_as_bytes_when_small(
        cluster: str, clips: Path, tiny_model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Actors that do not see the driver's paths (relative names, while they work in an empty folder) get
    each small file as bytes and give what a local scan of it gives, under the name the driver used; a file
    over the limit is an ERROR that says why; a file that is nowhere gets the scanner's own error."""
    import batch_faults
    from ray import cloudpickle

    from fakescope.scan import Scanner

    limit = (clips / "clip0.mp4").stat().st_size
    (clips / "big.mp4").write_bytes((clips / "clip0.mp4").read_bytes() + bytes(1000))
    monkeypatch.chdir(clips)
    names = sorted(p.name for p in clips.iterdir()) + ["missing.mp4"]
    pool = RayPool(functools.partial(batch_faults.scanner_elsewhere, model=str(tiny_model_path), num_frames=4),
                   address=cluster, ship_max_bytes=limit)
    results: dict[str, FileResult] = {}
    cloudpickle.register_pickle_by_value(batch_faults)
    try:
        pool.run([Task(i, n) for i, n in enumerate(names)], lambda i, r: results.setdefault(names[i], r))
    finally:
        cloudpickle.unregister_pickle_by_value(batch_faults)
    assert sorted(results) == sorted(names) and all(r.path == n for n, r in results.items())
    local = Scanner(model=tiny_model_path, num_frames=4)
    for name in ("clip0.mp4", "clip3.mp4", "photo.jpg"):
        mine = local.scan_file(clips / name)
        assert results[name].verdict == mine.verdict in ("FAKE", "REAL")
        assert results[name].probability == pytest.approx(mine.probability, abs=1e-5)
    assert pool.shipped == 5  # four clips and the photo
    assert results["big.mp4"].verdict == ERROR and "over the" in results["big.mp4"].error
    assert results["missing.mp4"].verdict == ERROR and "no such file" in results["missing.mp4"].error
