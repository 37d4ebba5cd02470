from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class Face:
    """A detection in full-frame pixel coordinates."""

    box: tuple[float, float, float, float]  # x, y, width, height
    score: float
    landmarks: np.ndarray | None = None  # (5, 2): right eye, left eye, nose, mouth corners

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2

    def scaled(self, factor: float) -> Face:
        lm = None if self.landmarks is None else self.landmarks * factor
        return Face(tuple(v * factor for v in self.box), self.score, lm)


class FaceDetector(Protocol):
    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an (H, W, 3) uint8 RGB image, in that image's pixel coordinates."""
        ...
