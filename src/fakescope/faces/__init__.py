"""Face detection, tracking across frames, and the crop the classifier sees.

Detectors are chosen by name from a small registry; each lives in its own file and registers itself.
"""

from __future__ import annotations

from collections.abc import Callable

from fakescope.errors import FakescopeError
from fakescope.faces.base import Face, FaceDetector

_DETECTORS: dict[str, Callable[..., FaceDetector]] = {}


def register_detector(name: str):
    def wrap(factory: Callable[..., FaceDetector]) -> Callable[..., FaceDetector]:
        _DETECTORS[name] = factory
        return factory

    return wrap


def list_detectors() -> list[str]:
    return sorted(_DETECTORS)


def create_detector(name: str = "yunet", **kwargs) -> FaceDetector:
    try:
        return _DETECTORS[name](**kwargs)
    except KeyError:
        raise FakescopeError(f"unknown face detector {name!r}; known: {', '.join(list_detectors())}") from None


from fakescope.faces import yunet  # noqa: F401  (registers "yunet")
from fakescope.faces.crop import crop_face
from fakescope.faces.track import Track, track_faces

__all__ = ["Face", "FaceDetector", "Track", "create_detector", "crop_face", "list_detectors",
           "register_detector", "track_faces"]
