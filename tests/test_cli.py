"""`fakescope scan` and `fakescope demo` as a user runs them: exit codes, one line on stderr per file that got
no verdict, never a traceback, and `--json` / `--out` that follow schema fakescope.scan/2."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from fakescope import __version__
from fakescope.cli import main

BAD_KEYS = ["missing", "empty", "text_mp4", "html_mp4", "truncated_mp4", "truncated_mkv", "audio_m4a",
            "audio_mp4", "corrupt_jpg", "garbage_jpg", "no_media_dir"]


def _no_traceback(*outputs: str) -> None:
    for out in outputs:
        assert "Traceback" not in out and 'File "' not in out, out


def test_batch_with_every_bad_input_still_scans_the_good_files(
        run_cli: Callable[..., subprocess.CompletedProcess], tiny_model_path: Path, tmp_path: Path,
        bad_media: dict[str, Path], demo_media: dict[str, Path], odd_images: dict[str, Path],
        check_schema: Callable[[str], dict]) -> None:
    good = [demo_media["clip"], demo_media["photo"], odd_images["gray_png"], odd_images["rgba_png"]]
    bad = [bad_media[k] for k in BAD_KEYS] + [demo_media["no_face"]]
    # Interleaved, so a failure cannot only ever be last.
    paths = [p for pair in zip(bad, good + [None] * len(bad)) for p in pair if p is not None]
    out_file = tmp_path / "result.json"
    proc = run_cli("scan", *paths, "--model", tiny_model_path, "--json", "--out", out_file)
    _no_traceback(proc.stdout, proc.stderr)
    assert proc.returncode == 1
    doc = check_schema(proc.stdout)
    assert json.loads(out_file.read_text()) == doc
    verdicts = {f["path"]: f["verdict"] for f in doc["files"]}
    assert list(verdicts) == [str(p) for p in paths]
    assert all(verdicts[str(p)] in ("FAKE", "REAL") for p in good)
    assert all(verdicts[str(p)] == "ERROR" for p in bad[:-1])
    assert verdicts[str(demo_media["no_face"])] == "NO_FACE"
    # stderr: exactly one line per file without a verdict, naming it, and nothing else.
    lines = proc.stderr.splitlines()
    assert len(lines) == len(bad)
    for line, path in zip(lines, bad):
        assert line.startswith(f"fakescope: {path}: ")


@pytest.mark.parametrize("key", [*BAD_KEYS, "no_face"])
def test_each_bad_input_alone_exits_non_zero_with_one_line(key: str, tiny_model_path: Path,
                                                           bad_media: dict[str, Path],
                                                           demo_media: dict[str, Path],
                                                           capfd: pytest.CaptureFixture[str]) -> None:
    path = demo_media["no_face"] if key == "no_face" else bad_media[key]
    code = main(["scan", str(path), "--model", str(tiny_model_path)])
    out, err = capfd.readouterr()
    _no_traceback(out, err)
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith(f"fakescope: {path}: ")
    assert path.name not in out  # said once, on stderr: a terminal shows both streams


def test_human_readable_report_and_exit_zero_when_all_is_well(
        run_cli: Callable[..., subprocess.CompletedProcess], tiny_model_path: Path,
        demo_media: dict[str, Path]) -> None:
    proc = run_cli("scan", demo_media["clip"], demo_media["photo"], "--model", tiny_model_path, "--frames", "8")
    _no_traceback(proc.stdout, proc.stderr)
    assert proc.returncode == 0 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"{demo_media['clip']}: ") and "p_fake=" in lines[0]
    assert lines[1].lstrip().startswith("person 0: ") and "frames" in lines[1]
    assert any(line.startswith(f"{demo_media['photo']}: ") for line in lines)
    assert lines[-1].startswith("2 files: ")


def test_folder_scan(run_cli: Callable[..., subprocess.CompletedProcess], tiny_model_path: Path,
                     demo_media: dict[str, Path], check_schema: Callable[[str], dict]) -> None:
    """A folder expands to its media: the demo folder holds a clip, a photo and a face-less photo."""
    folder = demo_media["clip"].parent
    proc = run_cli("scan", folder, "--model", tiny_model_path, "--json", "--frames", "4")
    _no_traceback(proc.stdout, proc.stderr)
    doc = check_schema(proc.stdout)
    assert sorted(f["path"] for f in doc["files"]) == sorted(str(p) for p in demo_media.values())
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1  # the coffee: NO_FACE


@pytest.mark.parametrize("model", ["does-not-exist", "garbage"])
def test_unusable_model_is_one_line_and_exit_one(model: str, tmp_path: Path, demo_media: dict[str, Path],
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    if model == "garbage":
        path = tmp_path / "garbage.safetensors"
        path.write_bytes(b"\x00" * 64 + b"not a checkpoint")
        model = str(path)
    code = main(["scan", str(demo_media["photo"]), "--model", model])
    out, err = capfd.readouterr()
    _no_traceback(out, err)
    assert code == 1 and out == ""
    (line,) = err.splitlines()
    assert line.startswith("fakescope: error: ") and model in line


def test_bad_option_value_is_one_line(tiny_model_path: Path, demo_media: dict[str, Path],
                                      capfd: pytest.CaptureFixture[str]) -> None:
    code = main(["scan", str(demo_media["photo"]), "--model", str(tiny_model_path), "--frames", "0"])
    out, err = capfd.readouterr()
    _no_traceback(out, err)
    assert code == 2 and err.splitlines() == ["fakescope: error: num_frames must be at least 1"]  # a usage error


def test_demo_makes_its_media_and_scans_it(tiny_model_path: Path, tmp_path: Path,
                                           capfd: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--model", str(tiny_model_path), "--dir", str(tmp_path / "demo"), "--frames", "4"])
    out, err = capfd.readouterr()
    _no_traceback(out, err)
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["astronaut-clip.mp4", "astronaut.jpg",
                                                                      "coffee.png"]
    assert "coffee.png: no face found" in err and "coffee.png: no face" not in out


def test_version(run_cli: Callable[..., subprocess.CompletedProcess]) -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"fakescope {__version__}"


@pytest.mark.parametrize("where", ["folder", "missing_folder"])
def test_unwritable_out_file_is_one_line(where: str, tiny_model_path: Path, tmp_path: Path,
                                         demo_media: dict[str, Path], capfd: pytest.CaptureFixture[str]) -> None:
    out = tmp_path if where == "folder" else tmp_path / "no" / "such" / "result.json"
    code = main(["scan", str(demo_media["photo"]), "--model", str(tiny_model_path), "--out", str(out)])
    stdout, err = capfd.readouterr()
    _no_traceback(stdout, err)
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith("fakescope: error: ") and str(out) in line


def test_an_internal_error_is_one_line_unless_debugging(monkeypatch: pytest.MonkeyPatch,
                                                         capfd: pytest.CaptureFixture[str]) -> None:
    """A bug of ours still reaches the user as one line; FAKESCOPE_DEBUG=1 brings the traceback back."""
    from fakescope import cli

    def broken(args) -> int:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "_cmd_scan", broken)
    monkeypatch.delenv("FAKESCOPE_DEBUG", raising=False)
    assert main(["scan", "x.mp4"]) == 1
    out, err = capfd.readouterr()
    assert out == "" and err.count("\n") == 1 and "internal error" in err and "ZeroDivisionError: a bug" in err
    monkeypatch.setenv("FAKESCOPE_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["scan", "x.mp4"])
