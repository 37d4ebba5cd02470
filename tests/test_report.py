"""The self-contained HTML report (fakescope.report.html) and `fakescope scan --report`: the evidence it
picks, the numbers its timeline draws, and that it opens with nothing else (no scripts, no links out)."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakescope.errors import FakescopeError
from fakescope.evidence import collect_evidence
from fakescope.report.html import render_document, render_fragment, write_report
from fakescope.results import ERROR, Evidence, FileResult, PersonResult, ScanResult

FRAMES = 8


@pytest.fixture(scope="module")
def scanner(tiny_model_path: Path):
    from fakescope.scan import Scanner

    return Scanner(model=tiny_model_path, num_frames=FRAMES, keep_crops=True)


@pytest.fixture(scope="module")
def scanned(scanner, demo_media: dict, bad_media: dict) -> dict[str, FileResult]:
    paths = {**demo_media, "broken": bad_media["truncated_mp4"]}
    return {name: scanner.scan_file(path) for name, path in paths.items()}


class _Page(HTMLParser):
    """Collects what a self-contained check needs: every tag with its attributes, and the text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, cls: str | None = None) -> list[dict]:
        return [a for t, a in self.tags if t == tag and (cls is None or cls in a.get("class", "").split())]


def _png(uri: str) -> Image.Image:
    assert uri.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_evidence_is_the_most_suspicious_frames(scanned: dict, scanner) -> None:
    clip = scanned["clip"]
    ev = collect_evidence(clip, scanner.classifier, top_k=4)
    (person,) = clip.persons
    assert set(ev.thumbnails) == {person.track_id}
    scores = [e.score for e in ev.frames]
    assert scores == sorted(person.scores, reverse=True)[:4]
    for e in ev.frames:
        i = person.frames.index(e.frame)
        assert e.time == person.times[i] and e.score == person.scores[i]
        assert np.array_equal(e.crop, clip.crops[person.track_id][i])  # the very crop the model scored
        assert e.overlay.shape == e.crop.shape and not np.array_equal(e.overlay, e.crop)


def test_every_person_gets_evidence(scanner, astronaut: np.ndarray) -> None:
    """Two persons, one clearly more suspicious: both still show their own worst frame."""
    rng = np.random.default_rng(0)
    crops = {t: rng.integers(0, 255, (5, 128, 128, 3), dtype=np.uint8) for t in (0, 1)}
    persons = [PersonResult(t, p, "REAL", list(range(5)), [i / 5 for i in range(5)], list(s), [[0, 0, 9, 9]] * 5)
               for t, p, s in ((0, 0.2, (0.1, 0.3, 0.2, 0.1, 0.1)), (1, 0.9, (0.9, 0.8, 0.95, 0.7, 0.99)))]
    result = FileResult("two.mp4", "FAKE", 0.9, 0.5, "video", persons=persons, crops=crops)
    ev = collect_evidence(result, scanner.classifier, top_k=4)
    assert [(e.track_id, e.score) for e in ev.frames] == [(1, 0.99), (1, 0.95), (0, 0.3), (0, 0.2)]
    assert set(ev.thumbnails) == {0, 1}


def test_no_crops_no_evidence(scanned: dict, scanner) -> None:
    assert collect_evidence(scanned["no_face"], scanner.classifier) == Evidence()
    assert collect_evidence(scanned["broken"], scanner.classifier) == Evidence()
    kept = scanned["clip"]
    bare = FileResult(**{**kept.__dict__, "crops": None})
    assert collect_evidence(bare, scanner.classifier) == Evidence()


def test_the_scan_attaches_the_same_evidence(tiny_model_path: Path, scanned: dict, scanner,
                                             demo_media: dict) -> None:
    """The pipeline's evidence step (`evidence=4`) gives what collect_evidence gives on kept crops, and the
    result carries no crops unless asked to."""
    from fakescope.scan import Scanner

    (clip,) = Scanner(model=scanner.classifier, num_frames=FRAMES, evidence=4).scan(demo_media["clip"])
    assert clip.crops is None and "explain" in clip.timings
    expected = collect_evidence(scanned["clip"], scanner.classifier, top_k=4)
    assert [(e.track_id, e.frame, e.score) for e in clip.evidence.frames] == [
        (e.track_id, e.frame, e.score) for e in expected.frames]
    assert all(np.array_equal(a.overlay, b.overlay) for a, b in zip(clip.evidence.frames, expected.frames))
    assert clip.to_dict() == scanned["clip"].to_dict() | {"timings": clip.timings}  # not in the JSON


def test_rendering_never_runs_the_model(scanned: dict, scanner, monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    """Rendering only renders what the result carries: with Grad-CAM and the classifier out of reach, a
    report with heatmaps is still written."""
    from fakescope.models import explain

    clip = scanned["clip"]
    with_evidence = FileResult(**{**clip.__dict__, "evidence": collect_evidence(clip, scanner.classifier)})

    def refuse(*args, **kwargs):
        raise AssertionError("the report ran the model")

    monkeypatch.setattr(explain, "gradcam", refuse)
    monkeypatch.setattr(type(scanner.classifier), "predict", refuse)
    path = ScanResult(files=[with_evidence], model="tiny").save_html(tmp_path / "r.html")
    assert len(_Page(path.read_text(encoding="utf-8")).find("img", "fs-heatmap")) == 4


def test_timeline_draws_the_scores(scanned: dict, scanner) -> None:
    clip = scanned["clip"]
    page = _Page(render_fragment(clip, collect_evidence(clip, scanner.classifier)))
    (line,) = page.find("polyline")
    points = [tuple(map(float, p.split(","))) for p in line["points"].split()]
    (person,) = clip.persons
    assert len(points) == len(person.scores) == FRAMES
    (threshold,) = page.find("line", "fs-threshold")
    grid = sorted(float(a["y1"]) for a in page.find("line", "fs-grid"))
    top, bottom = grid[0], grid[-1]  # the 1.0 and 0.0 grid lines
    drawn = [(bottom - y) / (bottom - top) for _, y in points]
    assert drawn == pytest.approx(person.scores, abs=2e-3)
    assert (bottom - float(threshold["y1"])) / (bottom - top) == pytest.approx(clip.threshold, abs=2e-3)
    xs = [x for x, _ in points]
    assert xs == sorted(xs) and xs[0] < xs[-1]
    assert len(page.find("circle")) == FRAMES


def test_document_is_self_contained(scanned: dict, scanner, tmp_path: Path) -> None:
    files = [FileResult(**{**f.__dict__, "evidence": collect_evidence(f, scanner.classifier)})
             for f in scanned.values()]
    path = ScanResult(files=files, model="tiny").save_html(tmp_path / "report.html")
    html = path.read_text(encoding="utf-8")
    page = _Page(html)
    assert not page.find("script") and not page.find("link") and not page.find("iframe")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html) and "@import" not in html
    images = page.find("img")
    assert images and all(_png(a["src"]).size == (128, 128) for a in images)
    assert len(page.find("img", "fs-heatmap")) == 4 + 1  # the clip's four, the photo's one
    assert len(page.find("section", "fs-report")) == 4
    text = " ".join(page.text)
    assert "No face found" in text and "Could not scan" in text and scanned["broken"].error in text
    assert len(page.find("svg", "fs-timeline")) == 1  # the clip only: a photo has no timeline


def test_names_and_errors_are_escaped() -> None:
    evil = FileResult('<script>alert("x")</script>.mp4', ERROR, error="<img src=x onerror=alert(1)>")
    html = render_document([render_fragment(evil)], title=evil.path)
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x" in html


def test_unwritable_report_is_a_clear_error(scanned: dict, tmp_path: Path) -> None:
    scan = ScanResult(files=[scanned["no_face"]], model="tiny")
    with pytest.raises(FakescopeError, match="cannot write the report"):
        write_report(scan, tmp_path / "no-such-folder" / "report.html")


def test_cli_writes_the_report(run_cli, tiny_model_path: Path, demo_media: dict, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    done = run_cli("scan", demo_media["clip"], demo_media["photo"], "--model", tiny_model_path,
                   "--frames", FRAMES, "--report", out, "--out", tmp_path / "cli.json")
    assert done.returncode == 0, done.stderr
    assert f"report written to {out}" in done.stderr
    page = _Page(out.read_text(encoding="utf-8"))
    assert len(page.find("section", "fs-report")) == 2
    assert len(page.find("polyline")) == 1 and len(page.find("img", "fs-heatmap")) == 5
    names = [t.strip() for t in page.text if t.strip().endswith((".mp4", ".jpg"))]
    assert names[:2] == [str(demo_media["clip"]), str(demo_media["photo"])]


def test_python_api_writes_the_files_the_cli_writes(run_cli, tiny_model_path: Path, demo_media: dict,
                                                   tmp_path: Path) -> None:
    """`fakescope.scan(..., evidence=True).save_html/.save_json` give what `--report`/`--out` give, with no
    crops or evidence handling by the caller (only the report's creation time differs)."""
    import json

    import fakescope

    paths = [demo_media["clip"], demo_media["photo"], demo_media["no_face"]]
    done = run_cli("scan", *paths, "--model", tiny_model_path, "--frames", FRAMES,
                   "--report", tmp_path / "cli.html", "--out", tmp_path / "cli.json")
    assert done.returncode == 1, done.stderr  # the coffee photo has no face
    result = fakescope.scan(paths, model=tiny_model_path, num_frames=FRAMES, evidence=True)
    result.save_html(tmp_path / "api.html")
    result.save_json(tmp_path / "api.json")

    def without_timings(path: Path) -> dict:
        doc = json.loads(path.read_text())
        for f in doc["files"]:
            f.pop("timings")
        return doc

    assert without_timings(tmp_path / "api.json") == without_timings(tmp_path / "cli.json")

    def page(path: Path) -> str:
        return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "", path.read_text(encoding="utf-8"))

    assert page(tmp_path / "api.html") == page(tmp_path / "cli.html")
