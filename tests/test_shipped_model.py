"""Regression test of the model that ships: the bundled `default` model's output on the demo media
(`fakescope demo`'s clip, photo and face-less photo), pinned in shipped_model.json.

A new bundled model, a change of preprocessing (crop margin, input size, normalisation, resizing), of face
detection or of frame sampling moves these numbers by far more than the tolerance (moving the crop margin
from 0.9 to 0.95 moves the photo's p_fake by 0.15), while ONNX against torch or one CPU against another
moves them by about 1e-6. When such a change is meant, regenerate the pinned values with

    PYTHONPATH=src python tests/test_shipped_model.py --update

and commit shipped_model.json with the change (its diff shows what moved).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

PINNED = Path(__file__).with_name("shipped_model.json")
PROBABILITY_TOLERANCE = 0.005  # a file's and a person's p_fake
SCORE_TOLERANCE = 0.01  # each frame's p_fake


def _weights() -> Path:
    from fakescope.models import WEIGHTS_DIR

    return WEIGHTS_DIR / "default.safetensors"


def measure(folder: Path) -> dict:
    """The default model's verdicts on freshly made demo media, at the default settings."""
    import fakescope
    from fakescope.demo import make_demo_media

    paths = make_demo_media(folder)
    result = fakescope.scan(paths)
    return {
        "model_sha256": hashlib.sha256(_weights().read_bytes()).hexdigest(),
        "settings": result.settings,
        "files": {Path(f.path).name: {
            "verdict": f.verdict, "probability": None if f.probability is None else round(f.probability, 6),
            "frames_sampled": f.frames_sampled,
            "persons": [{"probability": round(p.probability, 6), "frames": p.frames, "scores": p.scores}
                        for p in f.persons]} for f in result.files},
    }


@pytest.mark.skipif(not _weights().is_file(), reason="the default model is not bundled")
def test_shipped_model_output_on_the_demo_media_is_pinned(tmp_path: Path) -> None:
    pinned = json.loads(PINNED.read_text())
    got = measure(tmp_path)
    hint = ("" if got["model_sha256"] == pinned["model_sha256"] else
            " (the bundled model changed: if that is meant, regenerate the pinned values, see this file's docstring)")
    assert got["settings"] == pinned["settings"], hint
    assert set(got["files"]) == set(pinned["files"])
    for name, want in pinned["files"].items():
        have = got["files"][name]
        where = f"{name}{hint}"
        assert (have["verdict"], have["frames_sampled"], len(have["persons"])) == (
            want["verdict"], want["frames_sampled"], len(want["persons"])), where
        if want["probability"] is None:
            assert have["probability"] is None, where
            continue
        assert have["probability"] == pytest.approx(want["probability"], abs=PROBABILITY_TOLERANCE), where
        for p, q in zip(have["persons"], want["persons"]):
            assert p["frames"] == q["frames"], where
            assert p["probability"] == pytest.approx(q["probability"], abs=PROBABILITY_TOLERANCE), where
            assert p["scores"] == pytest.approx(q["scores"], abs=SCORE_TOLERANCE), where


if __name__ == "__main__":
    import tempfile

    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: PYTHONPATH=src python {sys.argv[0]} --update   (rewrites {PINNED.name})")
    with tempfile.TemporaryDirectory() as tmp:
        PINNED.write_text(json.dumps(measure(Path(tmp)), indent=1) + "\n")
    print(f"wrote {PINNED}")
