"""Augmentations for face crops, in numpy/OpenCV on uint8 RGB.

They target the shortcuts a detector learns instead of the manipulation: crop placement and scale (a
different face detector at test time), compression and resolution (a different platform), colour.
"""

from __future__ import annotations

import cv2
import numpy as np


def random_crop_resize(img: np.ndarray, out_size: int, rng: np.random.Generator,
                       scale: tuple[float, float] = (0.8, 1.0)) -> np.ndarray:
    """A square window of random side and position, resized to `out_size`."""
    h = img.shape[0]
    side = max(8, int(h * rng.uniform(*scale)))
    y, x = rng.integers(0, h - side + 1, size=2)
    return cv2.resize(img[y:y + side, x:x + side], (out_size, out_size), interpolation=cv2.INTER_AREA)


def jpeg_recompress(img: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else img


def augment(img: np.ndarray, out_size: int, rng: np.random.Generator) -> np.ndarray:
    """One training view of a crop. Channel order does not matter to any step here."""
    img = random_crop_resize(img, out_size, rng)
    if rng.random() < 0.5:
        img = img[:, ::-1]
    if rng.random() < 0.8:  # brightness / contrast / saturation
        f = img.astype(np.float32)
        f = f * rng.uniform(0.75, 1.25) + rng.uniform(-20, 20)
        gray = f.mean(axis=2, keepdims=True)
        f = gray + (f - gray) * rng.uniform(0.7, 1.3)
        img = np.clip(f, 0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.2))
    if rng.random() < 0.2:  # downscale then back up: low-resolution sources
        small = max(16, int(out_size * rng.uniform(0.4, 0.8)))
        img = cv2.resize(cv2.resize(img, (small, small), interpolation=cv2.INTER_AREA), (out_size, out_size),
                         interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.4:
        img = jpeg_recompress(np.ascontiguousarray(img), rng.integers(40, 96))
    return np.ascontiguousarray(img)
