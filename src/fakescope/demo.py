"""`fakescope demo`: make sample media from the real photos scikit-image ships, then scan them.

Nothing is downloaded: a new user sees decode, detection, tracking, classification and the report work
right after install.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from fakescope.media.encode import write_video


def _ken_burns(photo: np.ndarray, n: int, size: tuple[int, int]) -> list[np.ndarray]:
    """A slow zoom and pan over a still photo: a face that moves and changes scale, like a real clip."""
    h, w = photo.shape[:2]
    out_w, out_h = size
    frames = []
    for i in range(n):
        t = i / max(n - 1, 1)
        zoom = 1.0 + 0.35 * t
        cw, ch = w / zoom, h / zoom * (out_h / out_w) * (w / h)
        ch = min(ch, h)
        x0 = (w - cw) * (0.3 + 0.4 * t)
        y0 = (h - ch) * 0.2
        m = np.array([[out_w / cw, 0, -x0 * out_w / cw], [0, out_h / ch, -y0 * out_h / ch]], np.float32)
        frames.append(cv2.warpAffine(photo, m, (out_w, out_h), flags=cv2.INTER_LINEAR))
    return frames


def make_demo_media(out_dir: str | Path, seconds: float = 3.0, fps: int = 25) -> list[Path]:
    """Writes a short video with a face, a photo with a face, and a photo with no face; returns their paths."""
    from skimage import data  # real photos bundled with the package

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    astronaut = data.astronaut()  # Eileen Collins, NASA portrait (public domain)
    clip = out / "astronaut-clip.mp4"
    write_video(clip, _ken_burns(astronaut, int(seconds * fps), (640, 480)), fps=fps)
    photo = out / "astronaut.jpg"
    Image.fromarray(astronaut).save(photo, quality=92)
    no_face = out / "coffee.png"  # a cup of coffee: the scan should say NO_FACE, not guess
    Image.fromarray(data.coffee()).save(no_face)
    return [clip, photo, no_face]
