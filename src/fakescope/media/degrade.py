"""Damage done to footage on its way to a user: downscaling, re-encoding, grey, gamma and white balance,
sensor noise, motion blur. Numpy/OpenCV/PyAV on uint8 RGB.

One owner for each operation: the trainer's crop-level `degrade` (train/augment.py), `fakescope prepare
--degrade` (whole frames, before the face is found) and the benchmark's degraded copies
(bench/bench_sources.py) all call these. `FrameDamage` is prepare's recipe: what is done to one source
file's frames.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import av
import cv2
import numpy as np

from fakescope.media.encode import write_video

# Heights a frame is brought down to: what platforms and messengers serve when footage is passed on.
LOW_HEIGHTS = (240, 480)
# Re-encode quality: x264 CRF 23 is its default (good); 30-40 is what a low bitrate gives. x265 reaches the
# same look at about 5 CRF more. A still image is re-saved as JPEG instead, as messengers do.
H264_CRF = (30, 40)
H265_CRF = (35, 45)
JPEG_QUALITY = (15, 60)


def downscale(img: np.ndarray, height: int) -> np.ndarray:
    """`img` at `height` rows, its aspect kept and its width even (what an encoder needs)."""
    w = round(img.shape[1] * height / img.shape[0] / 2) * 2
    return cv2.resize(img, (w, height), interpolation=cv2.INTER_AREA)


def grey(img: np.ndarray) -> np.ndarray:
    """Greyscale (ITU-R 601 luma, as a video's Y plane), still three channels."""
    return np.repeat(cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)


def gamma_white_balance(img: np.ndarray, gamma: float, gains: Sequence[float]) -> np.ndarray:
    """Another camera's tone curve (`gamma`) and white balance (one gain per channel)."""
    f = img.astype(np.float32) / 255.0
    f = f ** gamma * np.asarray(gains)
    return np.clip(f * 255.0, 0, 255).astype(np.uint8)


def sensor_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of `sigma` grey levels, fresh for each call (grain differs from frame to frame)."""
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def motion_blur(img: np.ndarray, length: int, angle: float) -> np.ndarray:
    """A straight streak of `length` pixels at `angle` degrees: a moving head or a hand-held camera."""
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2] = 1.0
    rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rot, (length, length))
    return cv2.filter2D(img, -1, kernel / max(float(kernel.sum()), 1e-6))


def jpeg_recompress(img: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else img


@cache
def has_codec(name: str) -> bool:
    """Whether this PyAV build can encode with `name` (libx265 is not in every FFmpeg)."""
    try:
        av.codec.Codec(name, "w")
    except Exception:  # noqa: BLE001 - PyAV raises different errors for unknown and unbuilt codecs
        return False
    return True


def reencode(frames: Sequence[np.ndarray], codec: str = "libx264", crf: int = 35, fps: int = 25) -> list[np.ndarray]:
    """`frames` (RGB, one size) encoded as one clip with `codec` at `crf` in memory, and decoded back.
    Odd sizes are padded by repeating the edge for the encoder's 4:2:0 and cut back after. Encoded
    `exact` (write_video): prepare's crops must be the same on every run."""
    h, w = frames[0].shape[:2]
    pad = ((0, h % 2), (0, w % 2), (0, 0))
    buf = io.BytesIO()
    write_video(buf, (np.pad(f, pad, mode="edge") for f in frames), fps=fps, codec=codec, crf=crf, exact=True)
    buf.seek(0)
    with av.open(buf, mode="r") as container:
        out = [f.to_ndarray(format="rgb24")[:h, :w] for f in container.decode(video=0)]
    if len(out) != len(frames):
        raise RuntimeError(f"{codec} gave back {len(out)} of {len(frames)} frames")
    return out


@dataclass(frozen=True)
class FrameDamage:
    """What is done to the frames of one source file, in the order footage meets it: the camera (motion
    blur, tone and white balance, sensor noise), an editor (grey), the platform (downscale, re-encode).
    A step left at None (False) is not done. One recipe is drawn per file, not per frame: a video reaches a
    user downscaled, graded and encoded as a whole, so its frames share one resolution, one codec and CRF,
    one colour cast; only the noise is drawn afresh for each frame (from `noise_seed`), as grain is."""

    height: int | None = None  # the frame is brought down to this many rows, and stays that small
    blur: tuple[int, float] | None = None  # (length in pixels, angle in degrees)
    gamma: tuple[float, tuple[float, float, float]] | None = None  # (gamma, per-channel gains)
    noise: float | None = None  # sigma, in grey levels
    noise_seed: int = 0
    grey: bool = False
    codec: str | None = None  # "libx264", "libx265", or "jpeg" for a still image
    quality: int = 0  # CRF for a video codec, JPEG quality for "jpeg"

    @classmethod
    def sample(cls, rng: np.random.Generator, height: int, still: bool = False) -> FrameDamage:
        """A random recipe for frames of `height` rows (never upscaled), of a video or of a still image.
        Each step fires on its own, as in the trainer's `degrade`, so files range from lightly to badly
        damaged; a recipe that would do nothing is drawn again."""
        while True:
            target = int(rng.integers(LOW_HEIGHTS[0] // 2, LOW_HEIGHTS[1] // 2 + 1)) * 2
            r = rng.random(6)
            codec, quality = None, 0
            if r[5] < 0.6:
                if still:
                    codec, quality = "jpeg", int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
                elif has_codec("libx265") and rng.random() < 1 / 3:
                    codec, quality = "libx265", int(rng.integers(H265_CRF[0], H265_CRF[1] + 1))
                else:
                    codec, quality = "libx264", int(rng.integers(H264_CRF[0], H264_CRF[1] + 1))
            damage = cls(
                height=target if r[0] < 0.5 and target < height else None,
                blur=(int(rng.integers(3, 10)), float(rng.uniform(0, 180))) if r[1] < 0.3 else None,
                gamma=(float(rng.uniform(0.6, 1.6)), tuple(float(g) for g in rng.uniform(0.85, 1.15, 3)))
                if r[2] < 0.4 else None,
                noise=float(rng.uniform(2, 10)) if r[3] < 0.3 else None,
                noise_seed=int(rng.integers(2**31)),
                grey=bool(r[4] < 0.15),
                codec=codec, quality=quality)
            if damage.label:
                return damage

    @property
    def label(self) -> str:
        """What was done, for the manifest: e.g. "360p+blur5+gamma+noise4+grey+h264crf38" ("" for nothing)."""
        codec = {"libx264": "h264crf", "libx265": "h265crf", "jpeg": "jpeg"}.get(self.codec or "", "")
        parts = [self.height and f"{self.height}p", self.blur and f"blur{self.blur[0]}",
                 self.gamma and "gamma", self.noise and f"noise{self.noise:.0f}", self.grey and "grey",
                 codec and f"{codec}{self.quality}"]
        return "+".join(p for p in parts if p)

    def apply(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The damaged frames (all of one file, so the re-encode sees them as one clip)."""
        rng = np.random.default_rng(self.noise_seed)
        out = []
        for img in frames:
            if self.blur:
                img = motion_blur(img, *self.blur)
            if self.gamma:
                img = gamma_white_balance(img, *self.gamma)
            if self.noise:
                img = sensor_noise(img, self.noise, rng)
            if self.grey:
                img = grey(img)
            if self.height:
                img = downscale(img, self.height)
            out.append(np.ascontiguousarray(img))
        if self.codec == "jpeg":
            out = [jpeg_recompress(img, self.quality) for img in out]
        elif self.codec:
            out = reencode(out, self.codec, self.quality)
        return out
