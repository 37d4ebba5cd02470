"""The scan pipeline: decode -> sample frames -> detect and track faces -> crop -> classify -> aggregate.

`Scanner` holds the loaded detector and model, so scanning many files pays the set-up once;
`scan()` is the one-call form. The CLI calls exactly this.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from fakescope import __version__
from fakescope.errors import FakescopeError
from fakescope.faces import FaceDetector, Track, create_detector, crop_face, track_faces
from fakescope.media import Frame, collect_media, read_media
from fakescope.models import FaceClassifier
from fakescope.results import ERROR, FAKE, NO_FACE, REAL, FileResult, PersonResult, ScanResult

AGGREGATIONS = ("mean", "max", "median")


@dataclass
class ScanOptions:
    num_frames: int = 32  # evenly spaced samples per video (DeepfakeBench and SBI use 32)
    fps: float | None = None  # sample this many frames per second instead
    threshold: float | None = None  # default: the model's own, chosen on validation data
    aggregate: str = "mean"  # how a person's frame probabilities become one
    max_side: int = 4096  # frames larger than this are scaled down on decode
    keep_crops: bool = False  # attach the face crops to the result (reports, heatmaps); not in JSON


def person_probability(frame_probs, aggregate: str = "mean") -> float:
    """One person's fake probability from their frames' (mean, median or max). A video's is the highest
    of its persons': DFDC fakes often swap one of two people."""
    return float(getattr(np, aggregate)(frame_probs))


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
    """Loads the face detector and the classifier once; `scan_file` and `scan` reuse them."""

    def __init__(self, model: str | os.PathLike | FaceClassifier = "default", detector: str = "yunet",
                 device: str = "cpu", backend: str = "auto", **options) -> None:
        self.classifier = (model if isinstance(model, FaceClassifier)
                           else FaceClassifier.load(model, backend=backend, device=device))
        self.detector = create_detector(detector)
        self.options = ScanOptions(**options)
        if self.options.aggregate not in AGGREGATIONS:
            raise FakescopeError(f"aggregate must be one of {', '.join(AGGREGATIONS)}")
        if self.options.num_frames < 1:
            raise FakescopeError("num_frames must be at least 1")
        if self.options.fps is not None and not self.options.fps > 0:
            raise FakescopeError("fps must be above 0")
        if self.options.threshold is not None and not 0 <= self.options.threshold <= 1:
            raise FakescopeError("threshold must be between 0 and 1")

    @property
    def threshold(self) -> float:
        t = self.options.threshold
        return self.classifier.config.threshold if t is None else t

    @property
    def model_name(self) -> str:
        src = self.classifier.source
        return src.stem if src is not None and src.parent.name == "weights" else str(src or "in-memory")

    def scan_file(self, path: str | os.PathLike,
                  on_stage: Callable[[str, float], None] | None = None) -> FileResult:
        """Scan one file. Bad input becomes an ERROR result with a one-line reason, never an exception.
        `on_stage(stage, fraction)` reports progress (used by the web server)."""
        path = str(path)
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

        result = FileResult(path=path, verdict=NO_FACE, threshold=self.threshold, kind=info.kind,
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

        if opts.keep_crops:
            result.crops = {}
        k = 0
        for track in tracks:
            n = len(track.detections)
            scores = probs[k:k + n]
            if opts.keep_crops:
                result.crops[track.track_id] = crops[k:k + n]
            k += n
            p = person_probability(scores, opts.aggregate)
            result.persons.append(PersonResult(
                track_id=track.track_id, probability=p, verdict=FAKE if p >= self.threshold else REAL,
                frames=[frames[pos].index for pos, _ in track.detections],
                times=[round(frames[pos].time, 3) for pos, _ in track.detections],
                scores=[round(float(s), 4) for s in scores],
                boxes=[[round(v * frames[pos].scale, 1) for v in face.box] for pos, face in track.detections],
            ))
        # A video is fake when anyone in it is: DFDC fakes often swap one of two people.
        result.probability = max(p.probability for p in result.persons)
        result.verdict = FAKE if result.probability >= self.threshold else REAL
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
        """The knobs a result was made with, recorded beside it."""
        return {"num_frames": self.options.num_frames, "fps": self.options.fps, "threshold": self.threshold,
                "aggregate": self.options.aggregate, "detector": type(self.detector).__name__,
                "input_size": self.classifier.config.input_size}

    def wrap(self, files: list[FileResult]) -> ScanResult:
        """A ScanResult for files scanned one by one with `scan_file` (as the web server does)."""
        return ScanResult(files=files, model=self.model_name, settings=self.settings, version=__version__)


def scan(paths: str | os.PathLike | Iterable[str | os.PathLike], *, model: str | os.PathLike = "default",
         detector: str = "yunet", device: str = "cpu", **options) -> ScanResult:
    """Scan videos and images for manipulated faces: `fakescope.scan("clip.mp4")`.

    Options: num_frames, fps, threshold, aggregate ("mean", "max", "median"), max_side.
    """
    return Scanner(model=model, detector=detector, device=device, **options).scan(paths)
