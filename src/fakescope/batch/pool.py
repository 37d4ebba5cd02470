"""Scan on all cores of one machine: worker processes that each load the model once and stream results back.

Each worker holds one file at a time, so when a worker dies (a decoder crash on a hostile file, the OOM
killer, `kill -9`) the driver knows exactly which file it was scanning: that file is tried again on a fresh
worker, and after `tries` deaths it is marked ERROR with the reason. A file that takes longer than
`timeout` seconds (a decoder stuck in a bad stream) gets its worker killed and replaced, and is marked
ERROR at once: it would hang again. Whatever happens, every file gets exactly one result.

Workers are started with "spawn", not fork: the driver never loads the model, and a forked copy of a
process with thread pools running is not safe.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing as mp
import os
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

from fakescope.errors import FakescopeError
from fakescope.results import ERROR, FileResult
from fakescope.threads import process_cores, set_thread_share

MAX_START_FAILURES = 3  # workers dying before they are ready, in a row: the set-up itself is broken


@dataclass
class Task:
    index: int  # position in the batch
    path: str
    tries: int = 0


def died_reason(exitcode: int | None) -> str:
    if exitcode is None:
        return "vanished"
    if exitcode < 0:
        try:
            return f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


def error_result(path: str, reason: str, model: str | None) -> FileResult:
    return FileResult(path=path, verdict=ERROR, error=reason, model=model)


def init_worker_process(threads: int | None = None) -> None:
    """What every scanning process (batch worker, Ray actor, web server worker) sets before it loads the
    model: a passive OpenMP wait, which avoids a 4x slowdown on a busy CPU, and one OpenCV thread (torch or
    ONNX Runtime share the cores). With `threads`, the process's share of the cores (one of N workers on a
    machine, or a Ray actor's CPUs), every thread pool (ONNX Runtime, torch, the video decoder) uses that
    many, no more: two workers on two cores then run on a core each instead of fighting over both."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if threads is not None:
        set_thread_share(threads)
    import cv2

    cv2.setNumThreads(1)


class _ToDriver(logging.Handler):
    """fakescope's warnings go to the driver, which says each once for the whole batch, not once a worker."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(logging.WARNING)
        self.conn = conn

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.conn.send(("log", record.getMessage()))
        except OSError:
            pass


def _worker_main(conn: Connection, make_scanner: Callable, threads: int) -> None:
    """A worker process: load once, then scan what the driver sends until it sends None or goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle: it stops us
    logger = logging.getLogger("fakescope")
    logger.addHandler(_ToDriver(conn))
    logger.propagate = False
    init_worker_process(threads)
    try:
        scanner = make_scanner()
    except FakescopeError as exc:
        conn.send(("fatal", str(exc)))
        return
    except Exception as exc:  # noqa: BLE001  (reported by the driver as one line)
        conn.send(("fatal", " ".join(f"cannot start a scanner: {type(exc).__name__}: {exc}".split())[:300]))
        return
    conn.send(("ready", scanner.model_name, scanner.settings))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the driver is gone
            return
        if msg is None:
            return
        index, path = msg
        result = scanner.scan_file(path)
        try:
            conn.send(("result", index, result))  # pickled whole: provenance stays an object
        except (BrokenPipeError, OSError):
            return


def scanner_factory(**scanner_kwargs) -> Callable:
    """A picklable recipe for the Scanner each worker builds."""
    from fakescope.scan import Scanner

    return functools.partial(Scanner, **scanner_kwargs)


@dataclass
class _Slot:
    proc: mp.process.BaseProcess
    conn: Connection
    ready: bool = False
    task: Task | None = None
    since: float = 0.0


class PoolBase:
    """What every pool shares: the limits, what the first worker reports, and the rule for a lost worker's
    file (tried again, or ERROR after `tries` losses). Subclasses implement `run(tasks, on_result)`."""

    def __init__(self, make_scanner: Callable, timeout: float = 600.0, tries: int = 2) -> None:
        if not timeout > 0:
            raise FakescopeError("--timeout must be above 0 seconds")
        if tries < 1:
            raise FakescopeError("--tries must be at least 1")
        self.make_scanner = make_scanner
        self.timeout = timeout
        self.tries = tries
        self.model: str | None = None  # the model's name and the settings, as the first worker reports them
        self.settings: dict = {}
        self.replaced = 0  # workers that died or were killed and replaced

    def _retry_or_fail(self, task: Task | None, reason: str, queue: deque, on_result: Callable) -> None:
        """A lost worker's file goes back to the front of the queue, or gets its ERROR after `tries` losses."""
        self.replaced += 1
        if task is None:
            return
        if task.tries >= self.tries:
            times = f" ({task.tries} tries)" if task.tries > 1 else ""
            on_result(task.index, error_result(task.path, reason + times, self.model))
        else:
            queue.appendleft(task)


class LocalPool(PoolBase):
    """`workers` processes on this machine. `run(tasks, on_result)` calls `on_result(index, FileResult)` in
    the driver as each file finishes, in completion order."""

    def __init__(self, make_scanner: Callable, workers: int = 2, timeout: float = 600.0, tries: int = 2) -> None:
        if workers < 1:
            raise FakescopeError("--workers must be at least 1")
        super().__init__(make_scanner, timeout, tries)
        self.workers = workers
        self.threads = max(1, process_cores() // workers)  # each worker's share of this process's cores
        self._ctx = mp.get_context("spawn")
        self._slots: list[_Slot | None] = []
        self._said: set[str] = set()  # the workers' warnings already passed on

    def _start(self) -> _Slot:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_worker_main, args=(child, self.make_scanner, self.threads), daemon=True,
                                 name="fakescope-worker")
        proc.start()
        child.close()
        return _Slot(proc, parent)

    def pids(self) -> list[int]:
        return [s.proc.pid for s in self._slots if s.proc.pid is not None]

    def run(self, tasks: list[Task], on_result: Callable[[int, FileResult], None]) -> None:
        queue = deque(tasks)
        start_failures = 0
        try:
            self._slots = [self._start() for _ in range(min(self.workers, len(queue)))]
            while queue or any(s.task for s in self._slots):
                now = time.monotonic()
                for s in self._slots:
                    if s.ready and s.task is None and queue:
                        s.task, s.since = queue.popleft(), now
                        s.task.tries += 1
                        try:
                            s.conn.send((s.task.index, s.task.path))
                        except OSError:
                            pass  # it died: its sentinel says so below
                busy = [s.since + self.timeout - now for s in self._slots if s.task]
                ready = wait([s.conn for s in self._slots] + [s.proc.sentinel for s in self._slots],
                             timeout=max(0.01, min([1.0, *busy])))
                for i, s in enumerate(self._slots):
                    msg = None
                    if s.conn in ready:
                        try:
                            msg = s.conn.recv()
                        except (EOFError, OSError):
                            msg = None
                    if msg is not None:
                        kind = msg[0]
                        if kind == "ready":
                            s.ready, start_failures = True, 0
                            self.model, self.settings = msg[1], msg[2]
                        elif kind == "result":
                            s.task = None
                            on_result(msg[1], msg[2])
                        elif kind == "fatal":
                            raise FakescopeError(msg[1])
                        elif kind == "log" and msg[1] not in self._said:
                            self._said.add(msg[1])
                            logging.getLogger("fakescope").warning("%s", msg[1])
                        continue
                    if s.conn in ready or s.proc.sentinel in ready:  # the pipe closed: the process is gone
                        s.proc.join(5)
                        if not s.ready:
                            start_failures += 1
                            if start_failures >= MAX_START_FAILURES:
                                raise FakescopeError(f"scan workers die as they start "
                                                     f"({died_reason(s.proc.exitcode)}), {start_failures} in a row")
                        self._lost(s, f"the scanner process died ({died_reason(s.proc.exitcode)}) while "
                                      "scanning this file", queue, on_result)
                        self._slots[i] = self._start() if queue else None
                    elif s.task and time.monotonic() - s.since > self.timeout:
                        s.proc.kill()
                        s.proc.join(5)
                        task, s.task = s.task, None
                        on_result(task.index, error_result(task.path, f"took longer than {self.timeout:g} s "
                                                           "(the per-file time limit, --timeout)", self.model))
                        self._lost(s, "", queue, on_result)
                        self._slots[i] = self._start() if queue else None
                # No work left for the idle: let them go (their cores go to the ones still scanning).
                for i, s in enumerate(self._slots):
                    if s is not None and not queue and s.ready and s.task is None:
                        self._stop(s)
                        self._slots[i] = None
                self._slots = [s for s in self._slots if s is not None]
        finally:
            for s in self._slots:
                if s is not None:
                    self._stop(s)
            self._slots = []

    def _lost(self, s: _Slot, reason: str, queue: deque, on_result: Callable) -> None:
        """A worker is gone: its file goes back to the queue, or gets its ERROR after `tries` deaths."""
        s.conn.close()
        task, s.task = s.task, None
        self._retry_or_fail(task, reason, queue, on_result)

    @staticmethod
    def _stop(s: _Slot) -> None:
        try:
            s.conn.send(None)
        except OSError:
            pass
        s.proc.join(2)
        if s.proc.is_alive():
            s.proc.kill()
            s.proc.join(2)
        s.conn.close()
