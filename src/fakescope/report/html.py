"""The self-contained HTML report: one file a person can open, mail or archive, that needs nothing else.

For each scanned file it shows the verdict with its probability and threshold, a face thumbnail and score
per person, a timeline of the fake probability per person (inline SVG), and the most suspicious face crops
beside a Grad-CAM overlay of where the model looked. Images are PNG data URIs; the CSS is inline; there is
no script. The web server shows the very same fragment (`render_fragment`) on its result page.

    >>> evidence = collect_evidence(file_result, classifier)   # needs Scanner(keep_crops=True)
    >>> html = render_document([render_fragment(file_result, evidence)], title="clip.mp4")
"""

from __future__ import annotations

import base64
import math
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from fakescope import __version__
from fakescope.errors import FakescopeError
from fakescope.results import SCHEMA

if TYPE_CHECKING:
    from fakescope.models import FaceClassifier
    from fakescope.results import FileResult, ScanResult

# Person colours, told apart by people with the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
HEADLINES = {"FAKE": "Likely manipulated", "REAL": "No manipulation detected", "NO_FACE": "No face found",
             "ERROR": "Could not scan"}


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
    """What a person can look at beside the numbers; made from the crops a scan kept."""

    thumbnails: dict[int, np.ndarray] = field(default_factory=dict)  # track_id -> a representative crop
    frames: list[FrameEvidence] = field(default_factory=list)  # the most suspicious first


def collect_evidence(result: FileResult, classifier: FaceClassifier, top_k: int = 4) -> Evidence:
    """Thumbnails and Grad-CAM overlays of the most suspicious frames, from `result.crops`.

    Every person gets at least their single most suspicious frame; with few persons each gets more, up to
    `top_k` in all (or one per person when there are more persons than that). Returns an empty Evidence
    when the scan kept no crops (no face, an error, or keep_crops off)."""
    from fakescope.models.explain import gradcam, overlay_heatmap

    evidence = Evidence()
    if not result.crops or not result.persons:
        return evidence
    per_person = max(1, top_k // len(result.persons))
    picks: list[tuple[int, int]] = []  # (track_id, position in that person's frames)
    for person in sorted(result.persons, key=lambda p: -p.probability):
        crops = result.crops[person.track_id]
        evidence.thumbnails[person.track_id] = crops[len(crops) // 2]
        order = np.argsort(-np.asarray(person.scores), kind="stable")[:per_person]
        picks.extend((person.track_id, int(i)) for i in order)
    persons = {p.track_id: p for p in result.persons}
    picks.sort(key=lambda pick: -persons[pick[0]].scores[pick[1]])
    crops = np.stack([result.crops[tid][i] for tid, i in picks])
    heatmaps = gradcam(classifier, crops)
    for (tid, i), crop, heat in zip(picks, crops, heatmaps):
        p = persons[tid]
        evidence.frames.append(FrameEvidence(tid, p.frames[i], p.times[i], p.scores[i], crop,
                                             overlay_heatmap(crop, heat)))
    return evidence


def png_data_uri(rgb: np.ndarray) -> str:
    """An RGB uint8 image as a `data:image/png;base64,...` URI, so the report carries its own images."""
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise ValueError("PNG encoding failed")
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


@dataclass
class _Series:
    track_id: int
    colour: str
    points: str  # SVG polyline points
    dots: list[tuple[float, float, str]]  # x, y, tooltip


@dataclass
class _Chart:
    """A fake-probability-over-time chart, already laid out in SVG user units."""

    width: int
    height: int
    left: int
    top: int
    plot_w: int
    plot_h: int
    series: list[_Series]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    threshold_y: float


def _nice_step(span: float, target: int = 6) -> float:
    raw = span / target
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def _timeline(result: FileResult) -> _Chart | None:
    """Lay out the per-person timeline; None for an image or a video with a single sampled frame."""
    times = [t for p in result.persons for t in p.times]
    if result.kind != "video" or len(set(times)) < 2:
        return None
    width, height, left, top, right, bottom = 760, 240, 44, 12, 16, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    t_end = max(result.duration or 0.0, max(times)) or 1.0

    def x(t: float) -> float:
        return round(left + plot_w * t / t_end, 1)

    def y(p: float) -> float:
        return round(top + plot_h * (1 - p), 1)

    series = []
    for k, person in enumerate(result.persons):
        xy = [(x(t), y(s)) for t, s in zip(person.times, person.scores)]
        tips = [f"person {person.track_id}, frame {f}, {t:.2f} s: p_fake {s:.3f}"
                for f, t, s in zip(person.frames, person.times, person.scores)]
        series.append(_Series(person.track_id, PALETTE[k % len(PALETTE)],
                              " ".join(f"{a},{b}" for a, b in xy), [(a, b, tip) for (a, b), tip in zip(xy, tips)]))
    step = _nice_step(t_end)
    x_ticks = [(x(i * step), f"{i * step:g} s") for i in range(int(t_end / step + 1e-9) + 1)]
    y_ticks = [(y(v), f"{v:.2f}") for v in (0.0, 0.25, 0.5, 0.75, 1.0)]
    return _Chart(width, height, left, top, plot_w, plot_h, series, x_ticks, y_ticks,
                  y(result.threshold if result.threshold is not None else 0.5))


@cache
def _env() -> Environment:
    env = Environment(loader=PackageLoader("fakescope.report", "templates"), autoescape=select_autoescape(),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["data_uri"] = png_data_uri
    return env


@cache
def report_css() -> str:
    """The report's stylesheet, for pages that embed report fragments (the web server)."""
    return (files("fakescope.report") / "templates" / "report.css").read_text(encoding="utf-8")


def render_fragment(result: FileResult, evidence: Evidence | None = None, name: str | None = None) -> Markup:
    """One file's section of the report (HTML, styled by `report_css()`); `name` replaces the path shown."""
    colours = {p.track_id: PALETTE[k % len(PALETTE)] for k, p in enumerate(result.persons)}
    return Markup(_env().get_template("fragment.html").render(
        f=result, name=name or result.path, headline=HEADLINES.get(result.verdict, result.verdict),
        evidence=evidence or Evidence(), colours=colours, chart=_timeline(result)))


def render_document(fragments: list[Markup], title: str, model: str | None = None) -> str:
    """A complete, self-contained HTML page holding the given file sections."""
    return _env().get_template("document.html").render(
        fragments=fragments, title=title, model=model, css=Markup(report_css()), version=__version__,
        schema=SCHEMA, created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def write_report(scan: ScanResult, path: str | os.PathLike, evidence: list[Evidence | None]) -> Path:
    """Write the report for a whole scan (one section per file, `evidence` in the same order)."""
    path = Path(path)
    names = [Path(f.path).name for f in scan.files]
    title = names[0] if len(names) == 1 else f"{len(names)} files"
    html = render_document([render_fragment(f, ev) for f, ev in zip(scan.files, evidence)], title, scan.model)
    try:
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise FakescopeError(f"cannot write the report to {path}: {exc.strerror}") from None
    return path
