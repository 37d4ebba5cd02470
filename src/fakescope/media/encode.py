"""Write frames to a video file: for `fakescope demo` and for tests that make their own media."""

from __future__ import annotations

import os
from collections.abc import Iterable

import av
import numpy as np


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: int = 25, codec: str = "libx264",
                crf: int = 23) -> None:
    """Encode (H, W, 3) uint8 RGB frames (even sizes) to H.264 (or `codec`) in the container `path` names."""
    frames = iter(frames)
    first = next(frames)
    h, w = first.shape[:2]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": "veryfast"}
        for img in (first, *frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
