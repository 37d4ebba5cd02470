"""The video rule: how the per-frame fake probabilities of a scan become a person's, a file's, and a verdict.

`fakescope scan` and `fakescope evaluate` both call these functions, so a video is scored the same way
whether a user scans it or a benchmark does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from fakescope.results import FAKE, REAL, UNCERTAIN

if TYPE_CHECKING:
    from fakescope.results import PersonResult

AGGREGATIONS = ("mean", "max", "median")  # how a person's frame probabilities become one
DEFAULT_AGGREGATE = "mean"  # no rule tried ranked the 21 test videos better (README, model card)
# A face whose boxes are smaller than this (median shorter side, full-frame pixels) is too small to judge:
# its crop is upscaled from so few pixels that compression, not the face, decides the score.
MIN_FACE = 32


def person_probability(frame_probs: Sequence[float] | np.ndarray,
                       aggregate: str = DEFAULT_AGGREGATE) -> float:
    """One person's fake probability from their frames' (mean, median or max)."""
    if aggregate not in AGGREGATIONS:
        raise ValueError(f"aggregate must be one of {', '.join(AGGREGATIONS)}, got {aggregate!r}")
    return float(getattr(np, aggregate)(frame_probs))


def file_probability(person_probs: Iterable[float]) -> float:
    """A file is as fake as its most suspicious person: DFDC fakes often swap one of two people."""
    return max(person_probs)


def tracks_probability(tracks: Mapping[object, Sequence[float]],
                       aggregate: str = DEFAULT_AGGREGATE) -> float:
    """A file's probability from each person's frame probabilities (`{track: [p, ...]}`)."""
    return file_probability(person_probability(p, aggregate) for p in tracks.values())


def person_verdict(probability: float, threshold: float, uncertain_from: float | None = None,
                   face_side: float | None = None, min_face: int = MIN_FACE) -> tuple[str, str | None]:
    """(verdict, reason) for one person: FAKE at or above the threshold; UNCERTAIN when the face is too
    small to judge or the score is in the model's band [uncertain_from, threshold); REAL otherwise. A face
    too small to judge is UNCERTAIN whatever its score: FAKE would accuse on noise, REAL would vouch for it."""
    if face_side is not None and face_side < min_face:
        return UNCERTAIN, f"face too small to judge ({face_side:.0f} px, needs {min_face})"
    if probability >= threshold:
        return FAKE, None
    if uncertain_from is not None and probability >= uncertain_from:
        return UNCERTAIN, f"score in the uncertainty band ({uncertain_from:.2f} to {threshold:.2f})"
    return REAL, None


def file_verdict(persons: Sequence[PersonResult]) -> tuple[str, str | None]:
    """A file is FAKE when anyone in it is, else UNCERTAIN when anyone is (with the most suspicious such
    person's reason), else REAL."""
    for v in (FAKE, UNCERTAIN):
        hits = [p for p in persons if p.verdict == v]
        if hits:
            top = max(hits, key=lambda p: p.probability)
            return v, (f"person {top.track_id}: {top.reason}" if top.reason else None)
    return REAL, None


def face_side(boxes: Iterable[Sequence[float]]) -> float:
    """A person's face size: the median shorter side of its boxes (x, y, width, height)."""
    return float(np.median([min(b[2], b[3]) for b in boxes]))
