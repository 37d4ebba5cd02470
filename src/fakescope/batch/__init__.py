"""Batch scanning: thousands of files, streamed to a resumable JSONL output, on all cores or on Ray.

    >>> from fakescope.batch import scan_batch
    >>> batch = scan_batch("uploads/", out="results.jsonl", resume=True, workers=2, model="default")
    >>> batch.counts, batch.ok
"""

from fakescope.batch.output import CsvWriter, FileKey, JsonlWriter, is_jsonl, read_jsonl
from fakescope.batch.pool import LocalPool, Task, init_worker_process
from fakescope.batch.progress import Progress
from fakescope.batch.runner import DEFAULT_TIMEOUT, DEFAULT_TRIES, BatchResult, default_workers, scan_batch

__all__ = ["DEFAULT_TIMEOUT", "DEFAULT_TRIES", "BatchResult", "CsvWriter", "FileKey", "JsonlWriter", "LocalPool",
           "Progress", "Task", "default_workers", "init_worker_process", "is_jsonl", "read_jsonl", "scan_batch"]
