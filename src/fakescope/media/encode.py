"""Write frames to a video file: for `fakescope demo` and for tests that make their own media."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import BinaryIO

import av
import numpy as np


def write_video(path: str | os.PathLike | BinaryIO, frames: Iterable[np.ndarray], fps: int = 25,
                codec: str = "libx264", crf: int = 23, exact: bool = False) -> None:
    """Encode (H, W, 3) uint8 RGB frames (even sizes) to H.264 (or `codec`) in the container `path` names,
    or as MP4 into a file object (media/degrade.py re-encodes in memory).

    `exact`: the same bytes for the same frames on every run. x264's macroblock-tree rate control does not
    give that here (measured: 25 encodes of one clip of 3, 8 or 16 frames gave 3 or 4 different streams;
    with mbtree off, one), so `exact` turns it off. Off by default: the files made so far (demo, tests,
    the benchmark's degraded copies) stay as they are."""
    frames = iter(frames)
    first = next(frames)
    h, w = first.shape[:2]
    target = (str(path), None) if isinstance(path, (str, os.PathLike)) else (path, "mp4")
    with av.open(target[0], mode="w", format=target[1]) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": "veryfast", **({"x264-params": "mbtree=0"} if exact else {})}
        elif codec == "libx265":  # quiet: x265 prints its settings to stderr otherwise
            stream.options = {"crf": str(crf), "preset": "veryfast", "x265-params": "log-level=error"}
        for img in (first, *frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
