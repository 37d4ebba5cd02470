"""The command line and the model loader against misuse (issue 11): names that carry terminal escapes, bad
checkpoints that gave silently wrong verdicts, usage errors, and a read-only cache."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from fakescope.errors import ModelError
from fakescope.models import FaceClassifier
from fakescope.models import classifier as classifier_module
from fakescope.report.text import printable

FORGED = "clip.mp4: REAL (p_fake=0.102, threshold 0.50, 1 person)\x1b[8m"


# ---- terminal escapes in names ----------------------------------------------------------------------------
def test_printable_escapes_what_a_terminal_would_obey() -> None:
    assert printable("a\x1b[8mb\r\nc\u202ed\u2028e\x7f") == "a\\x1b[8mb\\r\\nc\\u202ed\\u2028e\\x7f"
    assert printable("Zoë 中文 clip (1).mp4") == "Zoë 中文 clip (1).mp4"  # ordinary names are untouched


def test_a_name_cannot_forge_or_hide_a_verdict_line(tmp_path: Path, run_cli, demo_media: dict,
                                                     tiny_model_path: Path) -> None:
    """A file named like a REAL verdict line followed by ESC[8m (conceal) printed a fake REAL line and hid
    the real one. Every name the CLI prints, on stdout and stderr, is escaped now."""
    good = tmp_path / (FORGED + "\n.jpg")
    shutil.copy(demo_media["photo"], good)
    bad = tmp_path / ("broken\x1b[2K\r.jpg")
    bad.write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))
    done = run_cli("scan", good, bad, "--model", tiny_model_path)
    for text in (done.stdout, done.stderr):
        assert "\x1b" not in text and "\r" not in text, text
    assert "\\x1b[8m\\n.jpg:" in done.stdout  # the name, escaped, then the real verdict
    assert len([line for line in done.stdout.splitlines() if line.startswith(str(tmp_path))]) == 1
    assert "broken\\x1b[2K\\r.jpg: error" in done.stderr
    as_json = run_cli("scan", good, "--model", tiny_model_path, "--json")
    assert json.loads(as_json.stdout)["files"][0]["path"] == str(good)  # JSON keeps the name exact


# ---- bad checkpoints --------------------------------------------------------------------------------------
def _checkpoint(src: Path, dest: Path, nan_weights: bool = False, **changes) -> Path:
    state = load_file(str(src))
    with safe_open(str(src), "pt") as fh:
        config = json.loads(fh.metadata()["fakescope"])
    config.update(changes)
    if nan_weights:
        name = next(k for k, v in state.items() if v.is_floating_point() and v.ndim > 1)
        state[name] = state[name].clone()
        state[name][0] = math.nan
    save_file(state, str(dest), metadata={"fakescope": json.dumps(config)})
    return dest


BAD_CONFIGS = {"temperature 0": ({"temperature": 0}, "temperature"),
               "temperature -1": ({"temperature": -1.0}, "temperature"),
               "temperature NaN": ({"temperature": math.nan}, "temperature"),
               "std 0": ({"std": [0.229, 0.0, 0.225]}, "std"),
               "threshold 2": ({"threshold": 2.0}, "threshold"),
               "crop margin -3": ({"crop_margin": -3.0}, "crop_margin"),
               "band above the threshold": ({"threshold": 0.6, "uncertain_from": 0.8}, "uncertain_from"),
               "band NaN": ({"uncertain_from": math.nan}, "uncertain_from"),
               "input size 0": ({"input_size": 0}, "input_size"),
               "NaN weights": ({"nan_weights": True}, "NaN or infinite weights")}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_a_bad_checkpoint_is_refused_on_load(case: str, tmp_path: Path, tiny_model_path: Path) -> None:
    """Temperature 0 gave p 0.0 REAL, -1 inverted every score, NaN or std 0 gave p NaN (and `--json` wrote
    NaN, which is not JSON); threshold 2 called everything REAL; margin -3 was accepted."""
    changes, words = BAD_CONFIGS[case]
    path = _checkpoint(tiny_model_path, tmp_path / "bad.safetensors", **changes)
    with pytest.raises(ModelError, match=words) as info:
        FaceClassifier.load(path)
    assert "\n" not in str(info.value)


def test_cli_with_a_bad_checkpoint_is_one_line_and_never_nan(tmp_path: Path, run_cli, demo_media: dict,
                                                              tiny_model_path: Path) -> None:
    path = _checkpoint(tiny_model_path, tmp_path / "cold.safetensors", temperature=math.nan)
    done = run_cli("scan", demo_media["photo"], "--model", path, "--json")
    assert done.returncode == 1 and "NaN" not in done.stdout and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "temperature must be a finite number above 0" in done.stderr


def test_a_model_that_outputs_nan_is_an_error_not_a_verdict(tiny_model_path: Path) -> None:
    clf = FaceClassifier.load(tiny_model_path)
    with pytest.raises(ModelError, match="NaN"):
        clf.probability([0.5, math.nan])


# ---- usage errors ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [("--frames", "0"), ("--fps", "0"), ("--threshold", "2"), ("--fps", "nan"),
                                  ("--frames", "-3"), ("--threshold", "x")])
def test_usage_errors_exit_2(args: tuple[str, str], run_cli, demo_media: dict) -> None:
    """README: exit 2 for a usage error. These exited 1, as if a file had failed."""
    done = run_cli("scan", demo_media["photo"], *args)
    assert done.returncode == 2 and args[0].lstrip("-")[:3] in done.stderr and "Traceback" not in done.stderr, done.stderr


# ---- a read-only cache -------------------------------------------------------------------------------------
def test_unwritable_onnx_cache_falls_back_to_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     tiny_model_path: Path, caplog, astronaut) -> None:
    """With ~/.cache read-only every scan failed with "unexpected error". Now the graph is exported in
    memory, the scan gives the same score, and the user is told once."""
    import numpy as np

    crops = np.stack([astronaut[:128, 180:308]] * 2)
    reference = FaceClassifier.load(tiny_model_path).predict(crops)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("FAKESCOPE_CACHE", str(blocker / "cache"))
    monkeypatch.setattr(classifier_module, "_noted", set())
    with caplog.at_level("WARNING", logger="fakescope"):
        for _ in range(2):
            clf = FaceClassifier.load(tiny_model_path)
            assert clf.backend == "onnx"
            assert np.allclose(clf.predict(crops), reference, atol=1e-5)
    notes = [r.getMessage() for r in caplog.records if "ONNX cache" in r.getMessage()]
    assert len(notes) == 1 and "in memory" in notes[0] and "FAKESCOPE_CACHE" in notes[0]


def test_unwritable_cache_through_the_cli(tmp_path: Path, run_cli, demo_media: dict, tiny_model_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "ro"
    blocker.write_text("")
    monkeypatch.setenv("FAKESCOPE_CACHE", str(blocker / "cache"))
    done = run_cli("scan", demo_media["photo"], demo_media["clip"], "--model", tiny_model_path, "--json")
    assert done.returncode == 0, done.stderr
    assert all(f["verdict"] in ("REAL", "FAKE") for f in json.loads(done.stdout)["files"])
    assert done.stderr.count("ONNX cache") == 1
