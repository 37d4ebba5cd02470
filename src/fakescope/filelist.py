"""What `scan` and `inspect` results share: a list of per-file results that becomes JSON and a file.

A base of plain methods, not a dataclass: each result keeps its own fields (a `files` list first) and its own
`to_dict`, which fixes its schema; this owns the rest once. It sits beside `errors` at the bottom of the
package, so the provenance stage and the top-level results can both build on it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


class FileList(Generic[T]):
    """A sequence of per-file results (each with `ok`) that prints, becomes JSON and saves itself."""

    files: list[T]

    def __iter__(self) -> Iterator[T]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> T:
        return self.files[i]

    @property
    def ok(self) -> bool:
        """Every file reached a result: what a command's exit code of 0 is made of."""
        return all(f.ok for f in self.files)

    def to_dict(self) -> dict:
        raise NotImplementedError

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def save_json(self, path: str | os.PathLike) -> Path:
        """What `--out FILE` writes."""
        path = Path(path)
        path.write_text(self.to_json() + "\n")
        return path
