"""What a scan returns: plain dataclasses that print themselves, become JSON, and render a report.

The JSON layout is versioned (`SCHEMA`) and documented in docs/json-schema.md; fields are only ever added
within a version.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fakescope.filelist import FileList

if TYPE_CHECKING:
    from fakescope.provenance import Provenance

SCHEMA = "fakescope.scan/2"  # /2: the UNCERTAIN verdict and its reason

FAKE, REAL, UNCERTAIN, NO_FACE, ERROR = "FAKE", "REAL", "UNCERTAIN", "NO_FACE", "ERROR"
VERDICTS = (FAKE, UNCERTAIN, REAL, NO_FACE, ERROR)
REACHED = (FAKE, UNCERTAIN, REAL)  # a verdict was reached: what an exit code of 0 is made of


@dataclass
class PersonResult:
    """One face tracked across the sampled frames."""

    track_id: int
    probability: float  # aggregated fake probability for this person
    verdict: str  # FAKE, UNCERTAIN or REAL
    frames: list[int]  # frame indices in the video where the face was found
    times: list[float]  # the same, in seconds
    scores: list[float]  # fake probability at each of those frames: the timeline
    boxes: list[list[float]]  # x, y, width, height in full-frame pixels
    reason: str | None = None  # why a person is UNCERTAIN: too small a face, or a score in the band


_PERSON_FIELDS = {f.name for f in fields(PersonResult)}


@dataclass
class FrameEvidence:
    """One suspicious face crop and the Grad-CAM overlay of the same crop."""

    track_id: int
    frame: int
    time: float
    score: float
    crop: np.ndarray  # (S, S, 3) uint8 RGB
    overlay: np.ndarray  # the crop with the heatmap blended in


@dataclass
class Evidence:
    """What a person can look at beside the numbers, made by the scan's evidence step (`evidence=N`)."""

    thumbnails: dict[int, np.ndarray] = field(default_factory=dict)  # track_id -> a representative crop
    frames: list[FrameEvidence] = field(default_factory=list)  # the most suspicious first


@dataclass
class FileResult:
    path: str
    verdict: str  # FAKE, UNCERTAIN, REAL, NO_FACE or ERROR
    probability: float | None = None  # the video's fake probability: max over persons
    threshold: float | None = None
    uncertain_from: float | None = None  # lower edge of the UNCERTAIN band, when the model has one
    reason: str | None = None  # why the file is UNCERTAIN
    kind: str | None = None  # video or image
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    fps: float | None = None
    frames_sampled: int = 0
    persons: list[PersonResult] = field(default_factory=list)
    error: str | None = None
    model: str | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    # Content Credentials and metadata (schema fakescope.provenance/1); None when the file cannot be opened.
    provenance: Provenance | None = None
    # track_id -> (n, S, S, 3) uint8 RGB crops the model saw, when asked for (ScanOptions.keep_crops).
    crops: dict[int, np.ndarray] | None = field(default=None, repr=False, compare=False)
    # Thumbnails and heatmaps for the HTML report, when asked for (ScanOptions.evidence). Not in JSON.
    evidence: Evidence | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        d = asdict(replace(self, crops=None, evidence=None))  # not deep-copying the images only to drop them
        del d["crops"], d["evidence"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FileResult:
        """The inverse of `to_dict`, for a line of a JSONL output read back (`--resume`): unknown keys are
        ignored, as schema version 1 only ever adds fields; `provenance` stays the JSON object it was."""
        known = {f.name for f in fields(cls)} - {"crops", "evidence"}
        kwargs = {k: v for k, v in d.items() if k in known}
        kwargs["persons"] = [PersonResult(**{k: v for k, v in p.items() if k in _PERSON_FIELDS})
                             for p in d.get("persons") or []]
        return cls(**kwargs)

    @property
    def ok(self) -> bool:
        """A verdict was reached (FAKE, UNCERTAIN or REAL): what a batch's exit code is made of."""
        return self.verdict in REACHED

    @property
    def message(self) -> str:
        """One line for a person."""
        if self.verdict == ERROR:
            return f"{self.path}: error: {self.error}"
        if self.verdict == NO_FACE:
            return f"{self.path}: no face found in {self.frames_sampled} sampled frame(s)"
        n = len(self.persons)
        why = f": {self.reason}" if self.verdict == UNCERTAIN and self.reason else ""
        return (f"{self.path}: {self.verdict} (p_fake={self.probability:.3f}, threshold {self.threshold:.2f}, "
                f"{n} person{'s' if n != 1 else ''}){why}")


@dataclass
class ScanResult(FileList[FileResult]):
    files: list[FileResult]
    model: str
    settings: dict = field(default_factory=dict)
    version: str = ""

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "fakescope_version": self.version, "model": self.model,
                "settings": self.settings, "files": [f.to_dict() for f in self.files]}

    def save_html(self, path: str | Path) -> Path:
        """What `fakescope scan --report FILE` writes: a self-contained HTML report. Its heatmaps are the
        evidence the scan computed (`fakescope.scan(..., evidence=True)`); without, it shows the rest."""
        from fakescope.report.html import write_report

        return write_report(self, path)

    def __str__(self) -> str:
        from fakescope.report.text import format_scan

        return format_scan(self)
