"""Scan on many machines through Ray: one Scanner per Ray actor (one CPU each), results streamed back to
the driver, which writes them exactly as a local batch does.

The driver keeps one file in flight per actor, so a lost actor (its node gone, its process killed) names the
file it held: that file is tried again on a fresh actor, and after `tries` losses it is marked ERROR with
the reason. A file over the time limit gets its actor killed and replaced, and is ERROR at once.

Workers read the files by path where they see them (a shared or network file system, or the same copy
everywhere). A file an actor does not find there is sent to it as bytes when it is at most SHIP_MAX_BYTES;
a larger one is an ERROR that says so. Every node must have fakescope installed, with the model file at
the path given.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakescope.batch.pool import MAX_START_FAILURES, PoolBase, Task, error_result, init_worker_process
from fakescope.errors import FakescopeError
from fakescope.results import FileResult

ACTOR_CPUS = 1  # what each actor asks Ray for, and so the threads each of its pools uses
SHIP_MAX_BYTES = 16 * 2**20  # a file no worker sees is sent as bytes up to this size (through Ray's store)
NOT_HERE = "not here"  # what an actor answers for a path it does not see


class _ScanActor:
    """Lives in a Ray worker process: loads the model once, then scans one path a call."""

    def __init__(self, make_scanner: Callable, threads: int) -> None:
        init_worker_process(threads)
        self.scanner, self.fatal = None, None
        try:
            self.scanner = make_scanner()
        except FakescopeError as exc:
            self.fatal = str(exc)
        except Exception as exc:  # noqa: BLE001  (reported by the driver as one line)
            self.fatal = " ".join(f"cannot start a scanner: {type(exc).__name__}: {exc}".split())[:300]

    def ready(self) -> tuple:
        if self.fatal is not None:
            return ("fatal", self.fatal)
        return ("ready", self.scanner.model_name, self.scanner.settings, os.getpid())

    def scan(self, path: str, look: bool = True) -> FileResult | str:
        """The result (pickled whole: provenance stays an object), or NOT_HERE when this node does not see
        the path (unless told not to `look`), for the driver to send the bytes."""
        if look and not os.path.lexists(path):
            return NOT_HERE
        return self.scanner.scan_file(path)

    def scan_bytes(self, path: str, data: bytes) -> FileResult:
        """Scan a file the driver sent, under its own name in a private folder; the result names `path`."""
        with tempfile.TemporaryDirectory(prefix="fakescope-") as tmp:
            local = Path(tmp) / (Path(path).name or "file")
            local.write_bytes(data)
            result = self.scanner.scan_file(local)
        result.path = path
        return result


@dataclass
class _Actor:
    handle: Any
    ready_ref: Any
    ready: bool = False
    pid: int | None = None
    task: Task | None = None
    ref: Any = None
    since: float = 0.0


def _ray():
    try:
        import ray
    except ImportError:
        raise FakescopeError('--ray needs Ray: pip install "fakescope[ray]"') from None
    return ray


class RayPool(PoolBase):
    """The same contract as LocalPool: `run(tasks, on_result)`, then `model`, `settings`, `replaced`."""

    def __init__(self, make_scanner: Callable, address: str = "auto", workers: int | None = None,
                 timeout: float = 600.0, tries: int = 2, ship_max_bytes: int = SHIP_MAX_BYTES) -> None:
        super().__init__(make_scanner, timeout, tries)
        self.address = address
        self.workers = workers
        self.ship_max_bytes = ship_max_bytes
        self.shipped = 0  # files sent to an actor as bytes
        self.actor_pids: set[int] = set()  # every actor process that got ready, for the record and the tests

    def _connect(self) -> bool:
        """Connect to the cluster (or start a local one); True when this call did, so run() shuts it down."""
        ray = _ray()
        if ray.is_initialized():
            return False
        kwargs = {"log_to_driver": False, "logging_level": "ERROR", "configure_logging": True}
        address = self.address if self.address not in (None, "", "auto") else os.environ.get("RAY_ADDRESS")
        if address and address not in ("auto", "local") and "://" not in address:
            _check_reachable(address)  # Ray itself retries an address where nothing listens for ever
        try:
            if self.address in (None, "", "auto") and not os.environ.get("RAY_ADDRESS"):
                ray.init(include_dashboard=False, **kwargs)  # a local cluster of this machine's cores
            else:
                ray.init(address=None if self.address in (None, "", "auto") else self.address, **kwargs)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise FakescopeError(f"cannot reach the Ray cluster at {self.address}: "
                                 f"{' '.join(str(exc).split())[:200]}") from None
        return True

    def run(self, tasks: list[Task], on_result: Callable[[int, FileResult], None]) -> None:
        ray = _ray()
        started = self._connect()
        remote = ray.remote(num_cpus=ACTOR_CPUS, max_restarts=0, max_task_retries=0)(_ScanActor)
        n = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        queue = deque(tasks)
        actors: list[_Actor] = []
        start_failures = 0

        def spawn() -> _Actor:
            handle = remote.remote(self.make_scanner, ACTOR_CPUS)
            return _Actor(handle, handle.ready.remote())

        try:
            actors = [spawn() for _ in range(min(n, len(queue)))]
            while queue or any(a.task for a in actors):
                for a in actors:
                    if a.ready and a.task is None and queue:
                        a.task, a.since = queue.popleft(), time.monotonic()
                        a.task.tries += 1
                        a.ref = a.handle.scan.remote(a.task.path)
                refs = [a.ready_ref for a in actors if not a.ready] + [a.ref for a in actors if a.task]
                left = [a.since + self.timeout - time.monotonic() for a in actors if a.task]
                done, _ = ray.wait(refs, num_returns=1, timeout=max(0.01, min([1.0, *left])))
                for i, a in enumerate(actors):
                    ref = a.ref if a.task else a.ready_ref if not a.ready else None
                    if ref is not None and ref in done:
                        try:
                            value = ray.get(ref)
                        except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError,
                                ray.exceptions.ObjectLostError) as exc:
                            if not a.ready:
                                start_failures += 1
                                if start_failures >= MAX_START_FAILURES:
                                    raise FakescopeError(f"Ray actors die as they start ({_reason(exc)}), "
                                                         f"{start_failures} in a row") from None
                            self._lost(a, f"the Ray worker scanning this file was lost ({_reason(exc)})",
                                       queue, on_result)
                            actors[i] = spawn() if queue else None
                            continue
                        except ray.exceptions.RayTaskError as exc:  # scan_file does not raise: a bug
                            task, a.task = a.task, None
                            on_result(task.index, error_result(task.path, f"unexpected error on the Ray worker, "
                                                               f"please report it ({_reason(exc)})", self.model))
                            continue
                        if not a.ready:
                            if value[0] == "fatal":
                                raise FakescopeError(value[1])
                            a.ready, start_failures = True, 0
                            self.model, self.settings, a.pid = value[1], value[2], value[3]
                            self.actor_pids.add(a.pid)
                        elif value == NOT_HERE:  # this node does not see the file: send it, if small
                            data = self._bytes_to_ship(a.task.path)
                            if data is None:  # nor does this machine: the scanner says what is wrong
                                a.ref = a.handle.scan.remote(a.task.path, False)
                            elif isinstance(data, bytes):
                                self.shipped += 1
                                a.ref = a.handle.scan_bytes.remote(a.task.path, data)
                            else:
                                task, a.task = a.task, None
                                on_result(task.index, error_result(task.path, data, self.model))
                        else:
                            task, a.task = a.task, None
                            on_result(task.index, value)
                    elif a.task and time.monotonic() - a.since > self.timeout:
                        ray.kill(a.handle, no_restart=True)
                        task, a.task = a.task, None
                        on_result(task.index, error_result(task.path, f"took longer than {self.timeout:g} s "
                                                           "(the per-file time limit, --timeout)", self.model))
                        self.replaced += 1
                        actors[i] = spawn() if queue else None
                # Idle actors with nothing left to do give their CPU back.
                for i, a in enumerate(actors):
                    if a is not None and not queue and a.ready and a.task is None:
                        ray.kill(a.handle, no_restart=True)
                        actors[i] = None
                actors = [a for a in actors if a is not None]
        finally:
            for a in actors:
                if a is not None:
                    ray.kill(a.handle, no_restart=True)
            if started:
                ray.shutdown()

    def _bytes_to_ship(self, path: str) -> bytes | str | None:
        """The bytes of a file the Ray worker does not see; or why they are not sent (its ERROR); or None
        when this machine cannot read it either (the worker's scanner then gives its usual error)."""
        try:
            size = os.path.getsize(path)
            if size > self.ship_max_bytes:
                return (f"the Ray worker does not see this path, and at {size / 2**20:.1f} MB it is over the "
                        f"{self.ship_max_bytes / 2**20:g} MB sent as bytes: put it where every node sees it under "
                        "the same path")
            with open(path, "rb") as fh:
                return fh.read()
        except OSError:
            return None

    def _lost(self, a: _Actor, reason: str, queue: deque, on_result: Callable) -> None:
        task, a.task = a.task, None
        self._retry_or_fail(task, reason, queue, on_result)


def _check_reachable(address: str, seconds: float = 10.0) -> None:
    import socket

    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=seconds):
            pass
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise FakescopeError(f"cannot reach the Ray cluster at {address}: {reason} (a HOST:PORT where "
                             "`ray start --head` listens)") from None


def _reason(exc: BaseException) -> str:
    """Ray's errors run to many lines (with the actor's whole history): the first sentence is enough."""
    text = " ".join(str(exc).split())
    for stop in (". ", "; "):
        if stop in text:
            text = text.split(stop, 1)[0]
    return f"{type(exc).__name__}: {text}"[:160]
