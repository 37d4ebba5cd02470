"""Streaming, resumable batch output: one JSON line per file (`results.jsonl`) and a CSV summary.

Each line is written and flushed as its file finishes, so a crash or `kill -9` loses only the files in
flight. A line is the file object of schema fakescope.scan/2 (docs/json-schema.md) plus the `size` and
`mtime_ns` of the file when it was scanned: `--resume` skips a path whose size and modification time are
unchanged, and scans it again (a new line, which then wins) when the file changed. A last line cut short by
a crash is dropped before anything is appended, so the file stays one JSON object per line.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

from fakescope.errors import FakescopeError
from fakescope.results import FileResult

CSV_COLUMNS = ("path", "verdict", "p_fake", "persons", "error")


@dataclass(frozen=True)
class FileKey:
    """What identifies a scanned file for --resume: its path as named, its size and modification time
    (stat only: hashing thousands of videos would cost as much as decoding them)."""

    path: str
    size: int | None
    mtime_ns: int | None

    @classmethod
    def of(cls, path: str | os.PathLike) -> FileKey:
        try:
            st = os.stat(path)
        except OSError:  # missing or unreadable: its result is an ERROR, keyed as such
            return cls(str(path), None, None)
        return cls(str(path), st.st_size, st.st_mtime_ns)


def is_jsonl(path: str | os.PathLike | None) -> bool:
    return path is not None and Path(path).suffix.lower() in (".jsonl", ".ndjson")


def _parse(line: bytes, number: int, path: Path) -> dict:
    try:
        d = json.loads(line)
    except ValueError:
        d = None
    if not isinstance(d, dict) or "path" not in d or "verdict" not in d:
        raise FakescopeError(f"{path} line {number} is not a fakescope result: move the file away, "
                             "or fix that line, then run again")
    return d


def read_jsonl(path: str | os.PathLike) -> tuple[dict[FileKey, dict], int]:
    """The results already in a JSONL output, by key (the last line for a key wins), and the byte length
    of its complete lines: anything after it is a line cut short by a crash."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}, 0
    end = data.rfind(b"\n") + 1
    done: dict[FileKey, dict] = {}
    for number, line in enumerate(data[:end].splitlines(), 1):
        if line.strip():
            d = _parse(line, number, path)
            done[FileKey(d["path"], d.get("size"), d.get("mtime_ns"))] = d
    return done, end


class JsonlWriter:
    """Appends one result a line, flushed. Opened before scanning starts, so an unwritable path is an error
    before any work is done; a full disk raises OSError at the line that did not fit, lines before it
    intact."""

    def __init__(self, path: str | os.PathLike, resume: bool = False) -> None:
        self.path = Path(path)
        self.done: dict[FileKey, dict] = {}
        if self.path.is_dir():
            raise FakescopeError(f"--out {self.path} is a folder; name a file such as results.jsonl")
        if resume:
            self.done, end = read_jsonl(self.path)
            if self.path.is_file() and self.path.stat().st_size > end:
                os.truncate(self.path, end)  # the crash's half line: its file is scanned again
        elif self.path.is_file() and self.path.stat().st_size > 0:
            n = sum(1 for line in self.path.read_bytes().splitlines() if line.strip())
            raise FakescopeError(f"{self.path} already holds {n} result(s): add --resume to finish that scan, "
                                 "or remove the file to start over")
        self._fh = open(self.path, "a" if resume else "w", encoding="utf-8")  # noqa: SIM115 (closed in close())

    def write(self, result: FileResult, key: FileKey) -> None:
        d = result.to_dict()
        d["size"], d["mtime_ns"] = key.size, key.mtime_ns
        self._fh.write(json.dumps(d, allow_nan=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except OSError:
            pass  # a full disk was already reported at the write that failed; /dev/full cannot fsync
        finally:
            try:
                self._fh.close()
            except OSError:
                pass


def csv_row(result: FileResult) -> list:
    p = "" if result.probability is None else f"{result.probability:.4f}"
    return [result.path, result.verdict, p, len(result.persons), result.error or ""]


class CsvWriter:
    """path, verdict, p_fake, persons, error: a row per file, flushed as it comes, for spreadsheets."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise FakescopeError(f"--csv {self.path} is a folder; name a file such as results.csv")
        self._fh = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self._csv = csv.writer(self._fh)
        self._csv.writerow(CSV_COLUMNS)
        self._fh.flush()

    def write(self, result: FileResult) -> None:
        self._csv.writerow(csv_row(result))
        self._fh.flush()

    def close(self) -> None:
        try:
            self._fh.close()
        except OSError:
            pass
