"""The self-contained HTML report: one file a person can open, mail or archive, that needs nothing else.

For each scanned file it shows the verdict with its probability and threshold, a face thumbnail and score
per person, a timeline of the fake probability per person (inline SVG), and the most suspicious face crops
beside a Grad-CAM overlay of where the model looked. Images are PNG data URIs; the CSS is inline; there is
no script. The web server shows the very same fragment (`render_fragment`) on its result page.

Rendering only renders: the thumbnails and heatmaps are the evidence the scan computed
(`Scanner(evidence=4)`, `fakescope.evidence`), carried on each FileResult.

    >>> result = fakescope.scan("clip.mp4", evidence=True)
    >>> result.save_html("report.html")                       # = write_report(result, "report.html")
"""

from __future__ import annotations

import base64
import math
import os
from dataclasses import dataclass
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
from fakescope.results import SCHEMA, Evidence

if TYPE_CHECKING:
    from fakescope.results import FileResult, ScanResult

# Person colours, told apart by people with the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
HEADLINES = {"FAKE": "Likely manipulated", "UNCERTAIN": "Not enough evidence to say",
             "REAL": "No manipulation detected", "NO_FACE": "No face found",
             "ERROR": "Could not scan"}


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
    """One file's section of the report (HTML, styled by `report_css()`): its verdict, timeline and
    `evidence` (default: what the scan attached); `name` replaces the path shown."""
    evidence = result.evidence if evidence is None else evidence
    colours = {p.track_id: PALETTE[k % len(PALETTE)] for k, p in enumerate(result.persons)}
    return Markup(_env().get_template("fragment.html").render(
        f=result, name=name or result.path, headline=HEADLINES.get(result.verdict, result.verdict),
        evidence=evidence or Evidence(), colours=colours, chart=_timeline(result)))


def render_document(fragments: list[Markup], title: str, model: str | None = None) -> str:
    """A complete, self-contained HTML page holding the given file sections."""
    return _env().get_template("document.html").render(
        fragments=fragments, title=title, model=model, css=Markup(report_css()), version=__version__,
        schema=SCHEMA, created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def write_report(scan: ScanResult, path: str | os.PathLike) -> Path:
    """Write the report for a whole scan, one section per file (`ScanResult.save_html` calls this)."""
    path = Path(path)
    names = [Path(f.path).name for f in scan.files]
    title = names[0] if len(names) == 1 else f"{len(names)} files"
    html = render_document([render_fragment(f) for f in scan.files], title, scan.model)
    try:
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise FakescopeError(f"cannot write the report to {path}: {exc.strerror}") from None
    return path
