"""How many threads the thread pools of this process use: ONNX Runtime's and torch's intra-op pools and
the video decoder's (OpenCV keeps one thread in every scanning process: `init_worker_process`).

A process on its own uses the cores it may run on. A batch worker, one of N on a machine, or a Ray actor
given `num_cpus`, is given its share of the cores (`set_thread_share`), so that two workers on two cores do
not each spin a thread for every core. Standard library only, so any stage may ask.
"""

from __future__ import annotations

import os
import sys

_share: int | None = None


def process_cores() -> int:
    """The cores this process may run on (a taskset's or a container's cpuset), not the whole machine's."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def thread_share() -> int | None:
    """The threads this process was given (`set_thread_share`), or None when it was given no share."""
    return _share


def cpu_threads() -> int:
    """Threads for one of this process's pools: its share, or else every core it may run on."""
    return _share or process_cores()


def set_thread_share(threads: int) -> None:
    """Give this process `threads` threads a pool. Set before the pools start: torch reads OMP_NUM_THREADS
    when it is imported (and is told here if it already was); ONNX Runtime's session and the video decoder
    ask `cpu_threads()` or `thread_share()` as they are made."""
    global _share
    _share = max(1, int(threads))
    os.environ["OMP_NUM_THREADS"] = str(_share)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(_share)
