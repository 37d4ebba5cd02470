"""`scan_batch`: the batch job behind `fakescope scan`, in one process, on worker processes, or on Ray.

Every file named (folders expanded) gets exactly one result: written to the JSONL output as it finishes
(completion order), handed to `on_file` in input order, counted. With `resume`, files whose result is
already in the output (same path, size and modification time) are not scanned again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fakescope import __version__
from fakescope.batch import DEFAULT_TIMEOUT, DEFAULT_TRIES
from fakescope.batch.output import CsvWriter, FileKey, JsonlWriter, is_jsonl
from fakescope.batch.pool import LocalPool, Task, scanner_factory
from fakescope.batch.progress import Progress
from fakescope.errors import FakescopeError
from fakescope.results import ERROR, REACHED, FileResult, ScanResult
from fakescope.threads import process_cores


def default_workers() -> int:
    """The cores this process may use (a container's or taskset's limit, not the whole machine's)."""
    return process_cores()


@dataclass
class BatchResult:
    total: int  # files in the batch
    skipped: int = 0  # already in the output from an earlier run (--resume)
    counts: dict[str, int] = field(default_factory=dict)  # verdict -> files, this run and earlier ones
    model: str | None = None
    settings: dict = field(default_factory=dict)
    files: list[FileResult] | None = None  # in input order, when kept
    out: Path | None = None
    workers_replaced: int = 0

    @property
    def ok(self) -> bool:
        """Every file got a verdict (FAKE, UNCERTAIN or REAL): the exit code of `fakescope scan`."""
        return sum(self.counts.get(v, 0) for v in REACHED) == self.total

    def summary(self) -> str:
        parts = ", ".join(f"{n} {v}" for v, n in sorted(self.counts.items()))
        line = f"{self.total} files: {parts or 'none'}"
        if self.skipped:
            line += f" ({self.skipped} from an earlier run)"
        return line

    def to_scan_result(self) -> ScanResult:
        return ScanResult(files=list(self.files or []), model=self.model or "", settings=self.settings,
                          version=__version__)


class _InOrder:
    """Hands results to a callback in input order, holding only those that overtook a file in flight."""

    def __init__(self, indices: list[int], callback: Callable[[FileResult], None] | None) -> None:
        self.order = indices
        self.pos = 0
        self.held: dict[int, FileResult] = {}
        self.callback = callback

    def add(self, index: int, result: FileResult) -> None:
        if self.callback is None:
            return
        self.held[index] = result
        while self.pos < len(self.order) and self.order[self.pos] in self.held:
            self.callback(self.held.pop(self.order[self.pos]))
            self.pos += 1


def _checked(scanner_kwargs: dict) -> dict:
    """The workers' Scanner arguments with the scan options made (and so checked) here, before any worker
    starts: a typo or a bad value is one error now, not one per worker."""
    from fakescope.options import ScanOptions

    kwargs = dict(scanner_kwargs)
    changes = {k: kwargs.pop(k) for k in list(kwargs) if k not in ("model", "device", "backend", "options")}
    kwargs["options"] = ScanOptions.build(kwargs.get("options"), **changes)
    return kwargs


def scan_batch(paths: str | os.PathLike | Iterable[str | os.PathLike], *, out: str | os.PathLike | None = None,
               csv: str | os.PathLike | None = None, resume: bool = False, workers: int | None = None,
               timeout: float = DEFAULT_TIMEOUT, tries: int = DEFAULT_TRIES, ray: str | None = None,
               scanner=None, keep: bool = False, on_file: Callable[[FileResult], None] | None = None,
               progress: Progress | None = None, **scanner_kwargs) -> BatchResult:
    """Scan files and folders as a batch job.

    out: a .jsonl file, one result a line as each file finishes; with `resume`, what it holds is kept and
    not scanned again. csv: a spreadsheet summary (path, verdict, p_fake, persons, error).
    workers: processes on this machine (default: its cores); `ray`: run on a Ray cluster instead ("auto":
    RAY_ADDRESS or a local one; else the cluster's address), `workers` actors (default: the cluster's CPUs). scanner: scan in this process with this
    Scanner (no time limit, no crash isolation: what a single file or an HTML report uses).
    scanner_kwargs: what each worker's `Scanner(...)` is made with (model, detector, num_frames, ...).
    """
    from fakescope.media import collect_media

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = [str(p) for p in collect_media(paths)]
    if resume and out is None:
        raise FakescopeError("--resume needs --out FILE.jsonl: the results to resume from")
    if out is not None and not is_jsonl(out):
        raise FakescopeError(f"batch output {out} must end in .jsonl (one JSON line per file)")
    writer = JsonlWriter(out, resume=resume) if out is not None else None
    table = None
    try:
        table = CsvWriter(csv) if csv is not None else None
        keys = [FileKey.of(p) for p in files]
        batch = BatchResult(total=len(files), out=Path(out) if out is not None else None)
        kept: dict[int, FileResult] = {}
        tasks = []
        for i, (path, key) in enumerate(zip(files, keys)):
            earlier = writer.done.get(key) if writer is not None else None
            if earlier is None:
                tasks.append(Task(i, path))
                continue
            result = FileResult.from_dict(earlier)
            batch.skipped += 1
            batch.counts[result.verdict] = batch.counts.get(result.verdict, 0) + 1
            if table is not None:
                table.write(result)
            if keep:
                kept[i] = result
        progress = progress or Progress(len(files), enabled=False)
        progress.total, progress.skipped = len(files), batch.skipped
        in_order = _InOrder([t.index for t in tasks], on_file)

        def on_result(index: int, result: FileResult) -> None:
            if writer is not None:
                try:
                    writer.write(result, keys[index])
                except OSError as exc:
                    raise FakescopeError(f"cannot write {writer.path}: {exc.strerror or exc}; the results "
                                         "written before are kept (--resume carries on from them)") from None
            if table is not None:
                try:
                    table.write(result)
                except OSError as exc:
                    raise FakescopeError(f"cannot write {table.path}: {exc.strerror or exc}") from None
            batch.counts[result.verdict] = batch.counts.get(result.verdict, 0) + 1
            if keep:
                kept[index] = result
            progress.file_done(result.verdict == ERROR)
            in_order.add(index, result)

        if scanner is not None:
            batch.model, batch.settings = scanner.model_name, scanner.settings
            for task in tasks:
                on_result(task.index, scanner.scan_file(task.path, on_stage=lambda stage, frac: progress.set_stage(
                    f"{stage} {frac:.0%}")))
        elif tasks:
            make = scanner_factory(**_checked(scanner_kwargs))
            if ray is not None:
                from fakescope.batch.ray_pool import RayPool

                pool = RayPool(make, address=ray, workers=workers, timeout=timeout, tries=tries)
            else:
                pool = LocalPool(make, workers=workers or default_workers(), timeout=timeout, tries=tries)
            pool.run(tasks, on_result)
            batch.model, batch.settings, batch.workers_replaced = pool.model, pool.settings, pool.replaced
        if batch.model is None and kept:  # everything came from an earlier run
            batch.model = next(iter(kept.values())).model
        if keep:
            batch.files = [kept[i] for i in sorted(kept)]
        return batch
    finally:
        if progress is not None:
            progress.close()
        if writer is not None:
            writer.close()
        if table is not None:
            table.close()
