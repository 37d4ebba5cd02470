"""Decompression bombs in a few bytes, for the tests and bench/bench_hardening.py: files that declare far
more pixels than they carry. Standard library and PIL only, so a benchmark can load this file by path to
try the bombs on another version of fakescope."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image


def webp_bomb(path: Path, side: int = 16383) -> Path:
    """A lossless WebP of one colour re-headed to side x side: 38 bytes (VP8L codes a flat image in no bits)."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buf, "WEBP", lossless=True)
    data = buf.getvalue()
    bits = int.from_bytes(data[21:25], "little")
    bits = (bits & ~((1 << 28) - 1)) | (side - 1) | ((side - 1) << 14)
    path.write_bytes(data[:21] + bits.to_bytes(4, "little") + data[25:])
    return path


def png_bomb(path: Path, width: int, height: int, bit_depth: int = 1, colour: int = 0) -> Path:
    """A PNG of zeros, deflated row by row as it is made: 19500x19500 1-bit is 47 MB of rows, 46 KB on disk."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    channels = {0: 1, 2: 3, 6: 4}[colour]
    row = bytes(1 + (width * channels * bit_depth + 7) // 8)
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour,
                                                                      0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path
