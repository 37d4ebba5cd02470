"""The one reader of labelled tables: a CSV's rows (however a spreadsheet wrote its header), the label
words, and `--only`'s path prefixes. Dataset formats (`fakescope.data.datasets`) and crop lists
(`fakescope.data.crops`) both read through it, so a file one command accepts, the others accept too."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

from fakescope.errors import FakescopeError

LABELS = {"real": 0, "fake": 1, "0": 0, "1": 1}


def parse_label(value: str, where: str) -> int:
    try:
        return LABELS[value.strip().lower()]
    except KeyError:
        raise FakescopeError(f"{where}: label must be real/fake or 0/1, got {value!r}") from None


def as_prefixes(prefix: str | Sequence[str] | None) -> tuple[str, ...]:
    """`--only` as given: one path prefix, several, or none."""
    return (prefix,) if isinstance(prefix, str) else tuple(prefix or ())


def csv_rows(path: Path, required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each row of a CSV, with column names stripped and lower-cased and values
    stripped (spreadsheets vary: `Path,Label`, a byte-order mark, padded cells); one clear error when a
    required column is missing."""
    with open(path, newline="", encoding="utf-8-sig") as fh:  # -sig: spreadsheets start with a BOM
        reader = csv.reader(fh)
        header = [c.strip().lower() for c in next(reader, [])]
        if not set(required) <= set(header):
            raise FakescopeError(f"{path}: needs the columns {','.join(required)} "
                                 f"(has {','.join(header) or 'none'})")
        for line, values in enumerate(reader, start=2):
            yield line, dict(zip(header, (v.strip() for v in values)))
