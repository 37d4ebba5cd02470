"""Scan workers: separate processes that take queued scans from the database and store their results.

Processes rather than threads, so the web process stays responsive while a scan uses the CPU, and so a
decoder that crashes on a hostile file takes down one worker, not the server: `WorkerPool` notices, fails
that one scan with the reason, and starts a fresh worker. A worker talks to the web process only through
the database and the data folder, and exits by itself when the server that started it is gone.

Run by the pool as `python -m fakescope.server.worker CONFIG_JSON`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
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
QUICK_EXIT_SECONDS = 20.0  # a worker that dies sooner than this after starting, repeatedly, is not restarted
MAX_QUICK_EXITS = 3


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

        from fakescope.scan import Scanner

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
        while self.parent_alive():
            row = self.db.claim(os.getpid())
            if row is None:
                time.sleep(POLL_SECONDS)
                continue
            try:
                self.scan(row)
            except Exception:  # a bug, not bad input: log it for the operator, tell the client one line
                log.exception("scan %s failed", row.id)
                self.db.finish(row, FAILED, error="internal error while scanning (see the server log)")

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
            tmp.write_text(render_fragment(result), encoding="utf-8")
            os.replace(tmp, folder / "report.html")
        if not self.parent_alive():
            os._exit(0)
        stored = self.db.finish(row, FAILED if result.verdict == ERROR else DONE, verdict=result.verdict,
                                probability=result.probability, threshold=result.threshold, error=result.error,
                                result=scan.to_json(indent=None))
        if stored:  # the upload has served its purpose; the result and evidence stay
            (folder / "upload").unlink(missing_ok=True)
            log.info("scan %s: %s in %.1f s", row.id, result.verdict, time.perf_counter() - started)
        elif self.db.get(row.id) is None:  # deleted while it ran (not merely handed on to another worker)
            shutil.rmtree(folder, ignore_errors=True)


@dataclass
class _Slot:
    proc: subprocess.Popen
    started: float
    quick_exits: int = 0


class WorkerPool:
    """Starts `n` worker processes and a thread that replaces any that die, failing the scan it held."""

    def __init__(self, config: WorkerConfig, n: int, db: Database) -> None:
        self.config = WorkerConfig(**{**asdict(config), "parent_pid": os.getpid()})
        self.n = n
        self.db = db
        self._slots: list[_Slot] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="fakescope-worker-watch", daemon=True)

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "fakescope.server.worker", json.dumps(asdict(self.config))],
                                start_new_session=True)  # Ctrl-C reaches the server, which stops the workers

    def start(self) -> None:
        self._slots = [_Slot(self._spawn(), time.monotonic()) for _ in range(self.n)]
        self._thread.start()

    def alive(self) -> int:
        return sum(slot.proc.poll() is None for slot in self._slots)

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            for slot in self._slots:
                code = slot.proc.poll()
                if code is None or slot.quick_exits >= MAX_QUICK_EXITS:
                    continue
                how = f"signal {-code}" if code < 0 else f"exit code {code}"
                n = self.db.fail_worker(slot.proc.pid, f"the scanner process died ({how}) while scanning this file")
                log.error("worker %d died (%s)%s", slot.proc.pid, how, f"; failed {n} scan" if n else "")
                slot.quick_exits = slot.quick_exits + 1 if time.monotonic() - slot.started < QUICK_EXIT_SECONDS else 0
                if slot.quick_exits >= MAX_QUICK_EXITS:
                    log.error("worker keeps dying at start-up; not restarting it (scans stay queued)")
                    continue
                slot.proc, slot.started = self._spawn(), time.monotonic()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        for slot in self._slots:
            if slot.proc.poll() is None:
                slot.proc.terminate()
        deadline = time.monotonic() + timeout
        for slot in self._slots:
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
