"""Receiving an upload safely: streamed to disk under a name the server chooses, size-capped while it
arrives (the whole body, not only the file: a 10 GB field or a second file is not read either), with a
limit on silence, then judged by its bytes rather than its name.

Errors are `UploadError(status, message)`; the app turns them into JSON with that HTTP status.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header

FILE_FIELD = "file"
# After the limit is passed, read (and drop) up to this much more, so the client gets to read our 413
# instead of a reset connection; a body declared larger than limit + this is refused before reading.
DRAIN_BYTES = 16 * 2**20
MAX_NAME_CHARS = 200
# Room for the multipart framing around the file (boundaries, part headers, a small field or two).
FRAMING_BYTES = 64 * 2**10


class UploadError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def display_name(raw: str) -> str:
    """The client's file name, for showing only: last path component, no control characters, bounded."""
    name = re.split(r"[/\\]", raw)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return name[:MAX_NAME_CHARS] or "upload"


class _FilePart:
    """Callbacks for python-multipart's streaming parser: the `file` field goes to `dest`, nothing else is
    kept. Counts bytes so the caller can stop at the limit."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.filename: str | None = None
        self.size = 0
        self._fh = None
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""

    def callbacks(self) -> dict:
        return {"on_part_begin": self._begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished, "on_part_data": self._data,
                "on_part_end": self._end}

    def _begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        if params.get(b"name") == FILE_FIELD.encode() and self.filename is None:
            self.filename = display_name(params.get(b"filename", b"").decode("utf-8", "replace"))
            self._fh = open(self.dest, "wb")  # noqa: SIM115 (spans callbacks; closed in close())

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._fh is not None:
            self._fh.write(data[start:end])
            self.size += end - start

    def _end(self) -> None:
        self.close()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


async def receive_upload(headers: dict[str, str], body: AsyncIterator[bytes], dest: Path, max_bytes: int,
                         idle_timeout: float | None = None) -> str:
    """Write the multipart field `file` of a request to `dest`; returns the client's (display) file name.
    The whole body counts against `max_bytes` (plus FRAMING_BYTES); a body silent for `idle_timeout`
    seconds is given up on. Raises UploadError: 400 malformed or empty, 408 too slow, 413 too large,
    415 not multipart/form-data."""
    ctype, params = parse_options_header(headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise UploadError(415, f"send the file as multipart/form-data in a field named '{FILE_FIELD}'")
    limit = max_bytes + FRAMING_BYTES
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + DRAIN_BYTES:
        raise UploadError(413, _too_large(max_bytes))
    part = _FilePart(dest)
    parser = MultipartParser(params[b"boundary"], part.callbacks())
    received = 0
    chunks = aiter(body)
    try:
        while True:
            try:
                chunk = await asyncio.wait_for(anext(chunks), idle_timeout)
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise UploadError(408, f"the upload stopped arriving for {idle_timeout:g} s") from None
            received += len(chunk)
            if received > limit:  # keep reading, dropping, so the client sees the 413 (bounded)
                if received > limit + DRAIN_BYTES:
                    break
                continue
            parser.write(chunk)
        if received > limit or part.size > max_bytes:
            raise UploadError(413, _too_large(max_bytes))
        parser.finalize()
    except ValueError as exc:  # python-multipart's parse errors are ValueErrors
        raise UploadError(400, f"malformed multipart body ({str(exc)[:80]})") from None
    finally:
        part.close()
    if part.filename is None:
        raise UploadError(400, f"no file in the upload: send it in a multipart field named '{FILE_FIELD}'")
    if part.size == 0:
        raise UploadError(400, "the uploaded file is empty")
    return part.filename


def _too_large(max_bytes: int) -> str:
    return f"file too large: this server accepts up to {max_bytes / 2**20:g} MiB"
