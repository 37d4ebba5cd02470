"""Scan workers: separate processes that take queued scans from the database and store their results.

Processes rather than threads, so the web process stays responsive while a scan uses the CPU, and so a
decoder that crashes on a hostile file takes down one worker, not the server: `WorkerPool` notices, fails
that one scan with the reason, and starts a fresh worker. A worker talks to the web process only through
the database and the data folder, and exits by itself when the server that started it is gone.

Run by the pool as `python -m fakescope.server.worker CONFIG_JSON`.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from fakescope.options import EVIDENCE_FRAMES, ScanOptions
from fakescope.server.db import DONE, FAILED, Database, ScanRow

log = logging.getLogger("fakescope.server")

POLL_SECONDS = 0.25  # how often an idle worker looks for work
# Share of the progress bar each stage ends at; detection is the long one for a video.
STAGE_END = {"decode": 0.05, "detect": 0.70, "classify": 0.75, "explain": 0.90, "report": 0.97}
QUICK_EXIT_SECONDS = 20.0  # a worker that dies sooner than this after starting is restarted after a pause
MAX_RESTART_DELAY = 60.0  # ... that doubles with each quick death, up to this
STORE_RETRY_SECONDS = (1.0, 5.0, 15.0)  # a result that cannot be stored (disk full) is retried after these
DISK_FULL = "the server's disk is full: this scan could not be stored"


@dataclass
class WorkerConfig:
    db_path: str
    data_dir: str
    model: str
    frames: int = ScanOptions.num_frames
    evidence_frames: int = EVIDENCE_FRAMES
    parent_pid: int = 0
    trust_anchors: str | None = None


def scan_dir(data_dir: str | os.PathLike, scan_id: str) -> Path:
    """Everything stored for one scan lives here, named by its id: `upload` and `report.html` (a fragment)."""
    return Path(data_dir) / "scans" / scan_id


def _overall(stage: str, fraction: float) -> float:
    stages = list(STAGE_END)
    start = STAGE_END[stages[stages.index(stage) - 1]] if stages.index(stage) else 0.0
    return round(start + (STAGE_END[stage] - start) * min(max(fraction, 0.0), 1.0), 3)


class Worker:
    """One process's loop: load the model once, then claim and scan until the parent server is gone."""

    def __init__(self, config: WorkerConfig) -> None:
        import torch

        from fakescope.batch import init_worker_process
        from fakescope.scan import Scanner

        init_worker_process()  # as every scanning process: batch workers and Ray actors call the same
        self.config = config
        self.db = Database(config.db_path)
        self.scanner = Scanner(model=config.model, evidence=config.evidence_frames, num_frames=config.frames,
                               trust_anchors=config.trust_anchors)
        # What clients see of the model: its name, not where the server keeps the file.
        self.model_name = self.scanner.classifier.config.name or Path(config.model).stem
        torch.set_num_threads(1)  # Grad-CAM is one small backward pass; more threads only contend

    def parent_alive(self) -> bool:
        return os.getppid() == self.config.parent_pid

    def run(self) -> None:
        """Claim and scan until the server is gone. A fault of the machine (a full disk, a locked database)
        fails that one scan, after retries, and the loop goes on: it never ends the worker."""
        while self.parent_alive():
            try:
                row = self.db.claim(os.getpid())
            except sqlite3.Error as exc:  # the database cannot be written now (disk full): wait, try again
                log.error("cannot claim a scan: %s", exc)
                time.sleep(STORE_RETRY_SECONDS[0])
                continue
            if row is None:
                time.sleep(POLL_SECONDS)
                continue
            try:
                self.scan(row)
            except Exception as exc:  # a fault or a bug, not bad input: one line for the client
                full = disk_full(exc)
                if full:
                    log.error("scan %s: %s", row.id, exc)
                else:
                    log.exception("scan %s failed", row.id)
                self._store(row, FAILED, error=DISK_FULL if full else "internal error while scanning (see the "
                                                                       "server log)")
                (scan_dir(self.config.data_dir, row.id) / "upload").unlink(missing_ok=True)

    def _store(self, row: ScanRow, status: str, **outcome) -> bool:
        """`db.finish`, retried while the disk is full; a result too big for what space is left is dropped
        for a one-line "disk full" failure, which needs next to no room. False when nothing could be stored
        (the scan is then failed by the next start-up's recovery, or stays with the worker's dead claim)."""
        for delay in (*STORE_RETRY_SECONDS, None):
            try:
                return self.db.finish(row, status, **outcome)
            except sqlite3.Error as exc:
                log.error("scan %s: cannot store the outcome (%s)%s", row.id, exc,
                          f"; retrying in {delay:g} s" if delay is not None else "")
                if delay is None:
                    break
                time.sleep(delay)
                if disk_full(exc) and outcome.get("result") is not None:
                    status, outcome = FAILED, {"error": DISK_FULL}
        return False

    def scan(self, row: ScanRow) -> None:
        from fakescope.report.html import render_fragment
        from fakescope.results import ERROR

        folder = scan_dir(self.config.data_dir, row.id)
        last = [0.0, ""]

        def on_stage(stage: str, fraction: float) -> None:
            if not self.parent_alive():
                os._exit(0)  # the server is gone; its successor re-queues this scan
            now = time.monotonic()
            if stage != last[1] or now - last[0] > 0.2 or fraction >= 1.0:  # a write per frame is wasteful
                last[:] = [now, stage]
                self.db.progress(row, stage, _overall(stage, fraction))

        started = time.perf_counter()
        result = self.scanner.scan_file(folder / "upload", on_stage=on_stage)
        result.path = row.filename  # the client's name, not where the server keeps the bytes
        result.model = self.model_name
        on_stage("report", 0.0)
        scan = self.scanner.wrap([result])
        scan.model = self.model_name
        if folder.is_dir():
            tmp = folder / "report.html.tmp"
            try:
                tmp.write_text(render_fragment(result), encoding="utf-8")
            except OSError:
                tmp.unlink(missing_ok=True)  # half a report is no report; the caller fails the scan
                raise
            os.replace(tmp, folder / "report.html")
        if not self.parent_alive():
            os._exit(0)
        stored = self._store(row, FAILED if result.verdict == ERROR else DONE, verdict=result.verdict,
                             probability=result.probability, threshold=result.threshold, error=result.error,
                             result=scan.to_json(indent=None))
        if stored:  # the upload has served its purpose; the result and evidence stay
            (folder / "upload").unlink(missing_ok=True)
            log.info("scan %s: %s in %.1f s", row.id, result.verdict, time.perf_counter() - started)
        elif self.db.get(row.id) is None:  # deleted while it ran (not merely handed on to another worker)
            shutil.rmtree(folder, ignore_errors=True)


def disk_full(exc: BaseException) -> bool:
    """ENOSPC or a quota from the OS, or SQLite's words for it ("database or disk is full")."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(exc, sqlite3.Error) and "full" in str(exc)


@dataclass
class _Slot:
    proc: subprocess.Popen | None
    started: float
    quick_exits: int = 0
    restart_at: float = 0.0  # when a worker that died quickly is started again


class WorkerPool:
    """Starts `n` worker processes and a thread that replaces any that die, failing the scan it held."""

    def __init__(self, config: WorkerConfig, n: int, db: Database) -> None:
        self.config = WorkerConfig(**{**asdict(config), "parent_pid": os.getpid()})
        self.n = n
        self.db = db
        self._slots: list[_Slot] = []
        self._dead: list[tuple[int, str]] = []  # (pid, how) of workers whose scans are still to be failed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="fakescope-worker-watch", daemon=True)

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "fakescope.server.worker", json.dumps(asdict(self.config))],
                                start_new_session=True)  # Ctrl-C reaches the server, which stops the workers

    def start(self) -> None:
        self._slots = [_Slot(self._spawn(), time.monotonic()) for _ in range(self.n)]
        self._thread.start()

    def alive(self) -> int:
        return sum(slot.proc is not None and slot.proc.poll() is None for slot in self._slots)

    def problem(self) -> str | None:
        """What keeps scans from running, for /api/health; None when nothing is known to."""
        if self._slots and not self._thread.is_alive() and not self._stop.is_set():
            return "the thread that restarts scan workers has stopped; restart the server"
        waiting = [slot for slot in self._slots if slot.proc is None or slot.proc.poll() is not None]
        if waiting:
            return (f"{len(waiting)} scan worker(s) died and are being restarted"
                    + (" (they keep dying at start-up: see the server log)" if any(s.quick_exits for s in waiting)
                       else ""))
        return None

    def _watch(self) -> None:
        """Replace dead workers, for as long as the server runs: one that dies at start-up again and again
        (a full disk, a broken install) is retried after a pause that grows, never given up on. Nothing
        that goes wrong here, the database included, stops this loop."""
        while not self._stop.wait(0.5):
            for slot in self._slots:
                try:
                    self._tend(slot)
                except Exception:  # log it and carry on: this thread is what restarts workers
                    log.exception("while tending scan worker")
            while self._dead:
                pid, how = self._dead[0]
                try:
                    failed = self.db.fail_worker(pid, f"the scanner process died ({how}) while scanning this file")
                except sqlite3.Error as exc:  # the disk is full: try again on the next round
                    log.error("cannot record worker %d's death yet: %s", pid, exc)
                    break
                self._dead.pop(0)
                for scan_id in failed:  # its upload is of no further use (and may be what crashed the scanner)
                    (scan_dir(self.config.data_dir, scan_id) / "upload").unlink(missing_ok=True)

    def _tend(self, slot: _Slot) -> None:
        now = time.monotonic()
        if slot.proc is None:
            if now >= slot.restart_at:
                slot.proc, slot.started = self._spawn(), now
            return
        code = slot.proc.poll()
        if code is None:
            return
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        pid, slot.proc = slot.proc.pid, None
        slot.quick_exits = slot.quick_exits + 1 if now - slot.started < QUICK_EXIT_SECONDS else 0
        delay = min(MAX_RESTART_DELAY, 2.0 ** slot.quick_exits) if slot.quick_exits > 1 else 0.0
        slot.restart_at = now + delay
        log.error("worker %d died (%s)%s", pid, how, f"; restarting it in {delay:.0f} s" if delay else "")
        self._dead.append((pid, how))

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        for slot in self._slots:
            if slot.proc is not None and slot.proc.poll() is None:
                slot.proc.terminate()
        deadline = time.monotonic() + timeout
        for slot in self._slots:
            if slot.proc is None:
                continue
            try:
                slot.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                slot.proc.kill()
                slot.proc.wait()


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s fakescope worker: %(message)s")
    config = WorkerConfig(**json.loads(argv[0]))
    Worker(config).run()


if __name__ == "__main__":
    main(sys.argv[1:])
