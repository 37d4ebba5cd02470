"""The human-readable terminal summary of a scan."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fakescope.results import FileResult, ScanResult

BARS = " ▁▂▃▄▅▆▇█"
_HIDDEN = {"Zl", "Zp"}  # line and paragraph separators; other C* categories are control and format characters


def sparkline(values: list[float]) -> str:
    """Per-frame probabilities as a strip of bars, 0 to 1."""
    return "".join(BARS[min(len(BARS) - 1, int(v * (len(BARS) - 1) + 0.5))] for v in values)


def printable(text: str) -> str:
    """`text` with control and format characters shown as escapes: a file name holding an ANSI sequence
    (`\\x1b[8m` hides what follows), a carriage return or a newline could otherwise forge or hide a verdict
    line on the terminal; bidi overrides (U+202E) could reorder it."""
    return "".join(ascii(ch)[1:-1] if unicodedata.category(ch) in _HIDDEN or unicodedata.category(ch)[0] == "C"
                   else ch for ch in text)


def format_provenance(f: FileResult, verdict: str | None = None) -> str:
    """The file's provenance around `verdict` (its lines): valid Content Credentials that declare generative
    AI are said first, before the face model's verdict; the rest follows, indented."""
    p = f.provenance
    lines = [printable(f"{f.path}: {p.headline}")] if p and p.headline else []
    if verdict:
        lines.append(verdict)
    if p:
        lines.extend(f"  {printable(line)}" for line in p.brief())
    return "\n".join(lines)


def format_file(f: FileResult) -> str:
    lines = [printable(f.message)]
    for p in f.persons:
        when = f"{p.times[0]:.1f}-{p.times[-1]:.1f}s" if f.kind == "video" else "image"
        why = f" ({p.reason})" if p.reason else ""
        lines.append(f"  person {p.track_id}: {p.verdict} p_fake={p.probability:.3f}{why} "
                     f"({len(p.frames)} frames, {when})  {sparkline(p.scores) if f.kind == 'video' else ''}"
                     .rstrip())
    return format_provenance(f, "\n".join(lines))


def format_scan(result: ScanResult) -> str:
    body = "\n".join(format_file(f) for f in result.files)
    counts: dict[str, int] = {}
    for f in result.files:
        counts[f.verdict] = counts.get(f.verdict, 0) + 1
    if len(result.files) > 1:
        summary = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
        body += f"\n{len(result.files)} files: {summary}"
    return body
