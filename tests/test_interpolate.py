"""scripts/interpolate.py: weight-space averages of one architecture (WiSE-FT between two models, a uniform
soup of several) are the weighted mean of every floating tensor and come out uncalibrated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fakescope.models import FaceClassifier

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "interpolate.py"


@pytest.fixture(scope="module")
def three(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The tiny model and two copies with every floating tensor shifted by +1 and +2."""
    out = [tiny_model_path]
    for shift in (1.0, 2.0):
        clf = FaceClassifier.load(tiny_model_path, backend="torch")
        with torch.no_grad():
            for t in clf.module.state_dict().values():
                if t.is_floating_point():
                    t += shift
        path = tmp_path_factory.mktemp("mix") / f"shift{shift:g}.safetensors"
        clf.save(path)
        out.append(path)
    return out


def _mix(tmp_path: Path, *args: str | Path) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / "mixed.safetensors"
    proc = subprocess.run([sys.executable, str(SCRIPT), *map(str, args), "--out", str(out)],
                          capture_output=True, text=True, timeout=300, check=False)
    return proc, out


def _offset(path: Path, base: Path) -> float:
    """How far every floating tensor of `path` lies from `base`'s (one number: they all moved alike)."""
    a = FaceClassifier.load(path, backend="torch").module.state_dict()
    b = FaceClassifier.load(base, backend="torch").module.state_dict()
    diffs = torch.cat([(a[k] - b[k]).flatten() for k in a if a[k].is_floating_point()])
    assert float(diffs.max() - diffs.min()) < 1e-4
    return float(diffs.mean())


def test_two_models_by_alpha_and_a_soup_of_three(three: list[Path], tmp_path: Path) -> None:
    proc, out = _mix(tmp_path, three[0], three[2], "--alpha", "0.25")
    assert proc.returncode == 0, proc.stderr
    assert _offset(out, three[0]) == pytest.approx(0.5, abs=1e-4)  # 0.75 x 0 + 0.25 x 2
    mixed = FaceClassifier.load(out)
    assert (mixed.config.temperature, mixed.config.threshold, mixed.config.uncertain_from) == (1.0, 0.5, None)
    proc, out = _mix(tmp_path, *three)
    assert proc.returncode == 0, proc.stderr
    assert _offset(out, three[0]) == pytest.approx(1.0, abs=1e-4)  # (0 + 1 + 2) / 3
    assert FaceClassifier.load(out).config.extra["interpolation"]["weights"] == pytest.approx([1 / 3] * 3)


def test_alpha_needs_exactly_two_models(three: list[Path], tmp_path: Path) -> None:
    proc, _ = _mix(tmp_path, *three, "--alpha", "0.5")
    assert proc.returncode != 0 and "--alpha takes two models" in proc.stderr
    proc, _ = _mix(tmp_path, three[0])
    assert proc.returncode != 0 and "at least two" in proc.stderr
