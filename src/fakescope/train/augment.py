"""Augmentations for face crops, in numpy/OpenCV on uint8 RGB.

They target the shortcuts a detector learns instead of the manipulation: crop placement and scale (a
different face detector at test time), compression and resolution (a different platform), colour.
"""

from __future__ import annotations

import cv2
import numpy as np

from fakescope.media.degrade import gamma_white_balance, grey, jpeg_recompress, motion_blur, sensor_noise


def random_crop_resize(img: np.ndarray, out_size: int, rng: np.random.Generator,
                       scale: tuple[float, float] = (0.8, 1.0)) -> np.ndarray:
    """A square window of random side and position, resized to `out_size`."""
    h = img.shape[0]
    side = max(8, int(h * rng.uniform(*scale)))
    y, x = rng.integers(0, h - side + 1, size=2)
    return cv2.resize(img[y:y + side, x:x + side], (out_size, out_size), interpolation=cv2.INTER_AREA)


def degrade(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """How footage reaches a newsroom: a frame downscaled to 240-480p, re-compressed hard, turned grey, its
    gamma and white balance shifted, sensor noise, motion blur. Each step fires on its own, so views range
    from lightly to badly damaged. Applied to reals and fakes alike (pseudo-fakes too), so no damage can
    stand for a label. Works on a stored face crop, the closest this trainer gets to the frame: a crop's
    pixels are the frame's pixels around the face. (`fakescope prepare --degrade` damages whole frames
    before the face is found, with the same operations: fakescope.media.degrade.)"""
    side = img.shape[0]
    if rng.random() < 0.5:  # the face box of a 1080p frame at 240-480p: a quarter to half its pixels across
        small = max(16, int(side * rng.uniform(0.2, 0.5)))
        img = cv2.resize(cv2.resize(img, (small, small), interpolation=cv2.INTER_AREA), (side, side),
                         interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:
        img = motion_blur(img, int(rng.integers(3, 10)), float(rng.uniform(0, 180)))
    if rng.random() < 0.4:
        img = gamma_white_balance(img, rng.uniform(0.6, 1.6), rng.uniform(0.85, 1.15, size=3))
    if rng.random() < 0.3:
        img = sensor_noise(img, rng.uniform(2, 10), rng)
    if rng.random() < 0.15:
        img = grey(img)
    if rng.random() < 0.6:  # low-bitrate H.264/H.265 lose detail in 8x8 blocks much as hard JPEG does
        img = jpeg_recompress(np.ascontiguousarray(img), rng.integers(15, 60))
    return np.ascontiguousarray(img)


def augment(img: np.ndarray, out_size: int, rng: np.random.Generator, degrade_share: float = 0.0) -> np.ndarray:
    """One training view of a crop; with probability `degrade_share` it is first damaged as by `degrade`.
    Channel order does not matter to any step here."""
    if degrade_share and rng.random() < degrade_share:
        img = degrade(img, rng)
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
