"""The UNCERTAIN verdict: a score inside the model's band, or a face too small to judge, is said as such, with
its reason, in every output (terminal, JSON, HTML report), and counts as a verdict reached."""

from __future__ import annotations

from pathlib import Path

import pytest

import fakescope
from fakescope.aggregate import file_verdict, person_verdict
from fakescope.cli import main
from fakescope.models import FaceClassifier
from fakescope.results import FAKE, REAL, UNCERTAIN, PersonResult


def test_person_verdict_rules() -> None:
    assert person_verdict(0.9, 0.8, 0.6) == (FAKE, None)
    verdict, reason = person_verdict(0.7, 0.8, 0.6)
    assert verdict == UNCERTAIN and "uncertainty band (0.60 to 0.80)" in reason
    assert person_verdict(0.59, 0.8, 0.6) == (REAL, None)
    assert person_verdict(0.7, 0.8, None) == (REAL, None), "no band: below the threshold is REAL"
    for p in (0.99, 0.01):  # too small a face is neither an accusation nor a clean bill
        verdict, reason = person_verdict(p, 0.8, 0.6, face_side=20, min_face=32)
        assert verdict == UNCERTAIN and reason == "face too small to judge (20 px, needs 32)"


def _person(track_id: int, p: float, verdict: str, reason: str | None = None) -> PersonResult:
    return PersonResult(track_id, p, verdict, [0], [0.0], [p], [[0, 0, 50, 50]], reason)


def test_file_verdict_fake_beats_uncertain_beats_real() -> None:
    persons = [_person(0, 0.3, REAL), _person(1, 0.7, UNCERTAIN, "x"), _person(2, 0.6, UNCERTAIN, "y")]
    assert file_verdict(persons) == (UNCERTAIN, "person 1: x")
    assert file_verdict(persons + [_person(3, 0.95, FAKE)]) == (FAKE, None)
    assert file_verdict(persons[:1]) == (REAL, None)


@pytest.fixture(scope="module")
def banded_model(tiny_model_path: Path, demo_media, tmp_path_factory) -> Path:
    """The tiny model with its threshold and band set around what it gives the demo clip."""
    (f,) = fakescope.scan(demo_media["clip"], model=tiny_model_path, num_frames=4)
    clf = FaceClassifier.load(tiny_model_path)
    clf.config.threshold = min(1.0, f.probability + 0.05)
    clf.config.uncertain_from = max(0.0, f.probability - 0.05)
    return clf.save(tmp_path_factory.mktemp("banded") / "banded.safetensors")


def test_a_score_in_the_band_is_uncertain_everywhere(banded_model: Path, demo_media, tmp_path: Path, capsys,
                                                     check_schema) -> None:
    clip = str(demo_media["clip"])
    out, report = tmp_path / "r.json", tmp_path / "r.html"
    assert main(["scan", clip, "--model", str(banded_model), "--frames", "4", "--out", str(out),
                 "--report", str(report)]) == 0, "UNCERTAIN is a verdict: exit 0"
    text = capsys.readouterr().out
    assert ": UNCERTAIN (p_fake=" in text and "score in the uncertainty band" in text
    doc = check_schema(out.read_text())
    (f,) = doc["files"]
    assert f["verdict"] == UNCERTAIN and f["reason"].startswith("person 0: score in the uncertainty band")
    assert f["uncertain_from"] is not None and f["persons"][0]["verdict"] == UNCERTAIN
    html = report.read_text()
    assert "UNCERTAIN" in html and "Not enough evidence to say" in html and "uncertainty band" in html


def test_a_threshold_given_by_hand_drops_the_band(banded_model: Path, demo_media) -> None:
    (f,) = fakescope.scan(demo_media["clip"], model=banded_model, num_frames=4, threshold=0.99)
    assert f.verdict == REAL and f.uncertain_from is None


def test_a_face_too_small_is_uncertain(tiny_model_path: Path, demo_media) -> None:
    (f,) = fakescope.scan(demo_media["photo"], model=tiny_model_path, min_face=10_000)
    assert f.verdict == UNCERTAIN and "face too small to judge" in f.reason
    assert f.ok
