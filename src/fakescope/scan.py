"""The scan pipeline: decode -> sample frames -> detect and track faces -> crop -> classify -> aggregate.

`Scanner` holds the loaded detector and model, so scanning many files pays the set-up once;
`scan()` is the one-call form. The CLI calls exactly this.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from fakescope import __version__
from fakescope.aggregate import face_side, file_probability, file_verdict, person_probability, person_verdict
from fakescope.errors import FakescopeError
from fakescope.faces import FaceDetector, Track, create_detector, crop_face, track_faces
from fakescope.media import Frame, collect_media, read_media
from fakescope.models import DEFAULT_MODEL
from fakescope.options import ScanOptions, with_options_signature
from fakescope.provenance import ProvenanceReader
from fakescope.results import ERROR, NO_FACE, FileResult, PersonResult, ScanResult

if TYPE_CHECKING:
    from fakescope.models import FaceClassifier

__all__ = ["ScanOptions", "Scanner", "crop_tracks", "find_tracks", "person_probability", "scan"]


def find_tracks(frames: list[Frame], detector: FaceDetector,
                on_progress: Callable[[float], None] = lambda fraction: None) -> list[Track]:
    """Detect faces in each sampled frame and link them into persons. `fakescope prepare` calls this too,
    so training crops come from exactly the faces a scan would classify."""
    per_frame = []
    for i, frame in enumerate(frames):
        per_frame.append(detector.detect(frame.image))
        on_progress((i + 1) / len(frames))
    return track_faces(per_frame)


def crop_tracks(frames: list[Frame], tracks: list[Track], size: int, margin: float) -> np.ndarray:
    """(N, size, size, 3) crops of every detection, track by track, in the classifier's crop policy."""
    return np.stack([crop_face(frames[pos].image, face, size, margin)
                     for track in tracks for pos, face in track.detections])


class Scanner:
    """Loads the face detector and the classifier once; `scan_file` and `scan` reuse them.

    Options are keyword arguments (`Scanner(num_frames=64, threshold=0.6)`, listed by `help(Scanner)`) or a
    `ScanOptions`; they are checked before anything loads, so a typo costs no model load."""

    @with_options_signature
    def __init__(self, model: str | os.PathLike | FaceClassifier = DEFAULT_MODEL, *, device: str = "cpu",
                 backend: str = "auto", options: ScanOptions | None = None, **changes: Any) -> None:
        self.options = ScanOptions.build(options, **changes)  # first: a typo must not wait for a model load
        self.detector = create_detector(self.options.detector)
        from fakescope.models import FaceClassifier  # imports torch

        self.classifier = (model if isinstance(model, FaceClassifier)
                           else FaceClassifier.load(model, backend=backend, device=device))
        self.provenance = ProvenanceReader(self.options.trust_anchors)

    @property
    def threshold(self) -> float:
        t = self.options.threshold
        return self.classifier.config.threshold if t is None else t

    @property
    def uncertain_from(self) -> float | None:
        """The model's UNCERTAIN band's lower edge; none when the threshold is set by hand (a band chosen
        for another threshold would not fit it) or the model has none."""
        u = self.classifier.config.uncertain_from
        return None if self.options.threshold is not None or u is None else min(u, self.threshold)

    @property
    def model_name(self) -> str:
        src = self.classifier.source
        return src.stem if src is not None and src.parent.name == "weights" else str(src or "in-memory")

    def scan_file(self, path: str | os.PathLike,
                  on_stage: Callable[[str, float], None] | None = None) -> FileResult:
        """Scan one file. Bad input becomes an ERROR result with a one-line reason, never an exception.
        `on_stage(stage, fraction)` reports progress (used by the web server)."""
        path = str(path)
        result = self._scan_file_or_error(path, on_stage)
        t = time.perf_counter()
        result.provenance = self.provenance.try_read(path)  # never raises: a bad manifest is a finding
        if result.provenance is not None:
            result.timings["provenance"] = time.perf_counter() - t
        return result

    def _scan_file_or_error(self, path: str, on_stage: Callable[[str, float], None] | None) -> FileResult:
        try:
            return self._scan_file(path, on_stage or (lambda stage, frac: None))
        except FakescopeError as exc:
            return FileResult(path=path, verdict=ERROR, error=str(exc), model=self.model_name)
        except MemoryError:
            return FileResult(path=path, verdict=ERROR, error="out of memory decoding this file",
                              model=self.model_name)
        except Exception as exc:  # noqa: BLE001  (a bug or a library's surprise on one file: scan the others)
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
            return FileResult(path=path, verdict=ERROR, error=f"unexpected error, please report it ({reason})",
                              model=self.model_name)

    def _scan_file(self, path: str, on_stage: Callable[[str, float], None]) -> FileResult:
        opts, cfg = self.options, self.classifier.config
        timings: dict[str, float] = {}
        t = time.perf_counter()
        on_stage("decode", 0.0)
        info, frames = read_media(path, num_frames=opts.num_frames, fps=opts.fps, max_side=opts.max_side)
        timings["decode"] = time.perf_counter() - t

        t = time.perf_counter()
        tracks = find_tracks(frames, self.detector, lambda frac: on_stage("detect", frac))
        timings["detect"] = time.perf_counter() - t

        result = FileResult(path=path, verdict=NO_FACE, threshold=self.threshold,
                            uncertain_from=self.uncertain_from, kind=info.kind,
                            width=info.width, height=info.height, duration=info.duration, fps=info.fps,
                            frames_sampled=len(frames), model=self.model_name, timings=timings)
        if not tracks:
            return result

        t = time.perf_counter()
        crops = crop_tracks(frames, tracks, cfg.input_size, cfg.crop_margin)
        timings["crop"] = time.perf_counter() - t

        t = time.perf_counter()
        on_stage("classify", 0.0)
        probs = self.classifier.predict(crops)
        timings["classify"] = time.perf_counter() - t

        by_track: dict[int, np.ndarray] = {}
        k = 0
        for track in tracks:
            n = len(track.detections)
            scores = probs[k:k + n]
            by_track[track.track_id] = crops[k:k + n]
            k += n
            p = person_probability(scores, opts.aggregate)
            boxes = [[round(v * frames[pos].scale, 1) for v in face.box] for pos, face in track.detections]
            v, reason = person_verdict(p, self.threshold, self.uncertain_from, face_side(boxes), opts.min_face)
            result.persons.append(PersonResult(
                track_id=track.track_id, probability=p, verdict=v, reason=reason,
                frames=[frames[pos].index for pos, _ in track.detections],
                times=[round(frames[pos].time, 3) for pos, _ in track.detections],
                scores=[round(float(s), 4) for s in scores],
                boxes=boxes,
            ))
        result.probability = file_probability(p.probability for p in result.persons)
        result.verdict, result.reason = file_verdict(result.persons)
        if opts.keep_crops:
            result.crops = by_track
        if opts.evidence:
            from fakescope.evidence import evidence_step

            t = time.perf_counter()
            on_stage("explain", 0.0)
            result.evidence = evidence_step(result, self.classifier, opts.evidence, by_track)
            timings["explain"] = time.perf_counter() - t
        return result

    def scan(self, paths: str | os.PathLike | Iterable[str | os.PathLike],
             on_file: Callable[[FileResult], None] | None = None,
             on_stage: Callable[[str, float], None] | None = None) -> ScanResult:
        """Scan files and folders (recursively). Each file gets a result, whatever happens to the others.
        `on_file(result)` is called as each file is done, `on_stage(stage, fraction)` within a file."""
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        files = []
        for path in collect_media(paths):
            files.append(self.scan_file(path, on_stage))
            if on_file:
                on_file(files[-1])
        return self.wrap(files)

    @property
    def settings(self) -> dict:
        """The knobs a result was made with, recorded beside it, by the names the CLI and API take."""
        return {"num_frames": self.options.num_frames, "fps": self.options.fps, "threshold": self.threshold,
                "aggregate": self.options.aggregate, "detector": self.options.detector,
                "input_size": self.classifier.config.input_size, "mirror": self.classifier.config.mirror}

    def wrap(self, files: list[FileResult]) -> ScanResult:
        """A ScanResult for files scanned one by one with `scan_file` (as the web server does)."""
        return ScanResult(files=files, model=self.model_name, settings=self.settings, version=__version__)


@with_options_signature
def scan(paths: str | os.PathLike | Iterable[str | os.PathLike], *, model: str | os.PathLike = DEFAULT_MODEL,
         device: str = "cpu", backend: str = "auto", options: ScanOptions | None = None,
         **changes: Any) -> ScanResult:
    """Scan videos and images for manipulated faces: `fakescope.scan("clip.mp4")`.

    Options (see `ScanOptions`): num_frames, fps, threshold, aggregate ("mean", "max", "median"), detector,
    max_side, keep_crops, evidence (heatmaps for `result.save_html`), trust_anchors (a PEM file: Content
    Credentials signed under one of its certificates read as trusted).
    """
    return Scanner(model=model, device=device, backend=backend, options=options, **changes).scan(paths)
