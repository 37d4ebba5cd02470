"""Contract tests over the registries: every face detector and dataset format that registers itself is
tested here by name (every classifier architecture in test_model_contract.py), so a new entry is tested the
day it is added, with no list to edit. Also the registry helper itself, and that its discovery makes no
import cycles and keeps torch out of `import fakescope`."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from fakescope.data.datasets import list_formats, read_dataset
from fakescope.errors import FakescopeError
from fakescope.faces import DEFAULT_DETECTOR, Face, create_detector, list_detectors
from fakescope.registry import Registry

SRC = Path(__file__).resolve().parents[1] / "src"


def _python(code: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter that imports this checkout's fakescope."""
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300, env=env, check=False)


# ---- face detectors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list_detectors())
def test_every_detector_finds_the_face_and_nothing_in_a_blank(name: str, astronaut: np.ndarray) -> None:
    detector = create_detector(name)
    faces = detector.detect(astronaut)
    assert len(faces) == 1 and isinstance(faces[0], Face)
    x, y, w, h = faces[0].box  # Eileen Collins' face lies around x 170-290, y 40-190 in the 512 px photo
    assert 150 < x + w / 2 < 300 and 50 < y + h / 2 < 200 and 60 < max(w, h) < 250
    assert detector.detect(np.full((240, 320, 3), 128, np.uint8)) == []
    big = cv2.resize(astronaut, (2048, 2048))  # coordinates are in the pixels of the image given
    (face,) = detector.detect(big)
    assert face.box[0] == pytest.approx(x * 4, abs=24) and face.box[2] == pytest.approx(w * 4, abs=24)


def test_the_default_detector_is_registered() -> None:
    assert DEFAULT_DETECTOR in list_detectors()
    with pytest.raises(FakescopeError, match=f"unknown face detector 'nope'; known: {DEFAULT_DETECTOR}"):
        create_detector("nope")


# ---- dataset formats ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", list_formats())
def test_every_format_refuses_an_empty_or_missing_folder_in_one_line(fmt: str, tmp_path: Path) -> None:
    for root in (tmp_path, tmp_path / "absent"):
        with pytest.raises(FakescopeError) as err:
            read_dataset(root, fmt)
        assert str(err.value) and "\n" not in str(err.value)


# ---- the helper -----------------------------------------------------------------------------------------
def _package(root: Path, name: str, modules: dict[str, str]) -> str:
    pkg = root / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent(f"""
        from fakescope.registry import Registry
        THINGS = Registry("thing", "{name}")
    """))
    for module, body in modules.items():
        (pkg / f"{module}.py").write_text(textwrap.dedent(body))
    return name


def test_entries_are_found_without_an_import_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Adding an entry is adding a module: nothing imports it by name, the registry finds it."""
    name = _package(tmp_path, "plugins_demo", {
        "alpha": "from plugins_demo import THINGS\n@THINGS.register\ndef alpha(): return 'a'\n",
        "beta": "from plugins_demo import THINGS\n@THINGS.register('b-eta')\nclass Beta: pass\n",
        "_private": "raise RuntimeError('modules starting with _ are not entries')\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    things: Registry = importlib.import_module(name).THINGS
    assert things.names() == ["alpha", "b-eta"]
    assert things.get("alpha")() == "a" and "b-eta" in things and "gamma" not in things
    with pytest.raises(FakescopeError, match="unknown thing 'gamma'; known: alpha, b-eta"):
        things.get("gamma")


def test_one_name_cannot_mean_two_things() -> None:
    reg: Registry = Registry("thing", "fakescope.faces")

    @reg.register("x")
    def one() -> None: ...

    with pytest.raises(ValueError, match="registered twice"):
        @reg.register("x")
        def two() -> None: ...


def test_family_modules_import_first_without_a_cycle() -> None:
    """Each module of each registry package imported first, in a fresh interpreter state: no order of
    imports is needed for them to work (the old hand-kept import lists made one)."""
    done = _python("""
        import importlib, pkgutil, sys
        packages = ("fakescope.faces", "fakescope.models", "fakescope.data.datasets")
        found = []
        for package in packages:
            for m in pkgutil.iter_modules(importlib.import_module(package).__path__):
                found.append(f"{package}.{m.name}")
        for name in found:
            for loaded in [k for k in sys.modules if k.startswith("fakescope")]:
                del sys.modules[loaded]
            importlib.import_module(name)
        from fakescope.data.datasets import list_formats
        from fakescope.faces import list_detectors
        from fakescope.models import list_models
        assert list_formats() and list_detectors() and list_models()
        print(len(found))
    """)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 15


def test_importing_fakescope_and_building_the_cli_does_not_import_torch() -> None:
    done = _python("""
        import sys
        import fakescope
        from fakescope.cli import build_parser
        build_parser()
        fakescope.ScanOptions(num_frames=8)
        fakescope.models.bundled_models()
        assert "torch" not in sys.modules, "torch was imported"
        fakescope.list_models()
        assert "torch" in sys.modules  # the model API itself still works, and imports it when used
    """)
    assert done.returncode == 0, done.stderr
