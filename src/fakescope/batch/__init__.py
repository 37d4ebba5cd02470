"""Batch scanning: thousands of files, streamed to a resumable JSONL output, on all cores or on Ray.

    >>> from fakescope.batch import scan_batch
    >>> batch = scan_batch("uploads/", out="results.jsonl", resume=True, workers=2, model="default")
    >>> batch.counts, batch.ok

The rest is imported on first use, so the CLI reads the defaults below without loading numpy.
"""

DEFAULT_TIMEOUT = 600.0  # seconds a file may take; a 2-hour video at 32 samples takes well under a minute
DEFAULT_TRIES = 2  # a file whose worker dies is tried this often before it is marked ERROR

_LAZY = {"CsvWriter": "output", "FileKey": "output", "JsonlWriter": "output", "is_jsonl": "output",
         "read_jsonl": "output", "LocalPool": "pool", "Task": "pool", "init_worker_process": "pool",
         "Progress": "progress", "BatchResult": "runner", "default_workers": "runner", "scan_batch": "runner"}

__all__ = ["DEFAULT_TIMEOUT", "DEFAULT_TRIES", "BatchResult", "CsvWriter", "FileKey", "JsonlWriter", "LocalPool",
           "Progress", "Task", "default_workers", "init_worker_process", "is_jsonl", "read_jsonl", "scan_batch"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"fakescope.batch.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fakescope.batch' has no attribute {name!r}")
