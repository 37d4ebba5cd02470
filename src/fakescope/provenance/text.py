"""Strings from a file's metadata or manifest are written by whoever made the file: keep them printable."""

from __future__ import annotations

import unicodedata


def clean(value: object, limit: int = 200) -> str | None:
    """`value` as one short printable line, or None when empty. Control and format characters (terminal
    escapes, bidirectional overrides that reorder what a person reads) become U+FFFD; long values are cut
    with an ellipsis."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = "".join("\ufffd" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c
                   for c in str(value)[:limit + 1]).strip().strip("\x00")
    if not text:
        return None
    return text if len(text) <= limit else text[:limit - 1] + "…"
