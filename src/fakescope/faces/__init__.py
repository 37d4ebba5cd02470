"""Face detection, tracking across frames, and the crop the classifier sees.

Detectors are chosen by name from a registry (`create_detector("yunet")`): each lives in its own module of
this package and registers itself with `@register_detector("name")`; nothing else needs editing.
"""

from __future__ import annotations

from collections.abc import Callable

from fakescope.faces.base import Face, FaceDetector
from fakescope.faces.crop import CROP_MARGIN, crop_face
from fakescope.faces.track import Track, track_faces
from fakescope.registry import Registry

DEFAULT_DETECTOR = "yunet"
DETECTORS: Registry[Callable[..., FaceDetector]] = Registry("face detector", __name__)
register_detector = DETECTORS.register


def list_detectors() -> list[str]:
    return DETECTORS.names()


def create_detector(name: str = DEFAULT_DETECTOR, **kwargs) -> FaceDetector:
    return DETECTORS.get(name)(**kwargs)


__all__ = ["CROP_MARGIN", "DEFAULT_DETECTOR", "DETECTORS", "Face", "FaceDetector", "Track", "create_detector",
           "crop_face", "list_detectors", "register_detector", "track_faces"]
