"""Progress a person can read during a long batch: files done of total, files per hour, ETA, errors so far.

On a terminal it is one status line on stderr, rewritten in place (and wiped before any other line is
printed). Elsewhere (a log file, a pipe, a CI job) it is a plain line every `every` seconds, no bar.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    def __init__(self, total: int, skipped: int = 0, *, stream: TextIO | None = None, enabled: bool = True,
                 every: float = 30.0, tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.enabled = enabled
        self.total = total
        self.skipped = skipped  # already in the output (--resume): done, but not this run's speed
        self.done = 0  # scanned in this run
        self.errors = 0
        self.every = every
        self.stage = ""
        self._start = time.monotonic()
        self._last = self._start
        self._shown = False

    def line(self) -> str:
        elapsed = time.monotonic() - self._start
        n = self.skipped + self.done
        text = f"{n}/{self.total} files"
        if self.skipped:
            text += f" ({self.skipped} from an earlier run)"
        if self.done and elapsed > 0:
            rate = self.done / elapsed * 3600
            left = self.total - n
            text += f", {rate:,.0f} files/h, ETA {_duration(left / rate * 3600)}"
        return text + f", {self.errors} error{'s' if self.errors != 1 else ''}, {_duration(elapsed)} elapsed"

    def file_done(self, error: bool) -> None:
        self.done += 1
        self.errors += error
        self.stage = ""
        self.tick()

    def set_stage(self, stage: str) -> None:
        """Within the file being scanned (in-process scans): 'detect 40%'."""
        self.stage = stage
        if self.enabled and self.tty:
            self._draw()

    def tick(self) -> None:
        if not self.enabled:
            return
        if self.tty:
            self._draw()
        elif time.monotonic() - self._last >= self.every:
            self._last = time.monotonic()
            print(f"fakescope: {self.line()}", file=self.stream, flush=True)

    def _draw(self) -> None:
        text = self.line() + (f" [{self.stage}]" if self.stage else "")
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Wipe the status line so a message can be printed; the next tick draws it again."""
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False

    def close(self) -> None:
        self.clear()
