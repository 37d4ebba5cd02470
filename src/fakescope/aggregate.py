"""The video rule: how the per-frame fake probabilities of a scan become a person's, a file's, and a verdict.

`fakescope scan` and `fakescope evaluate` both call these functions, so a video is scored the same way
whether a user scans it or a benchmark does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from fakescope.results import FAKE, REAL

AGGREGATIONS = ("mean", "max", "median")  # how a person's frame probabilities become one
DEFAULT_AGGREGATE = "mean"  # no rule tried ranked the 21 test videos better (README, model card)


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


def verdict(probability: float, threshold: float) -> str:
    """FAKE at or above the threshold, else REAL: for a person and for a file alike."""
    return FAKE if probability >= threshold else REAL
