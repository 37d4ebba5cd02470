"""The scan pipeline through its Python API (`fakescope.scan`, `Scanner`): verdicts and timelines on media
the tests make, and bad input turned into one-line ERROR results while the rest of a batch is scanned."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

import fakescope
from fakescope.errors import FakescopeError
from fakescope.faces import create_detector
from fakescope.faces.track import iou
from fakescope.media.encode import write_video
from fakescope.results import ERROR, NO_FACE, ScanResult
from fakescope.scan import Scanner

LONG_SECONDS = 2 * 60 * 60


@pytest.fixture(scope="module")
def two_people_clip(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> Path:
    """Two faces side by side, the camera panning slowly: two persons, each in every sampled frame."""
    pair = np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)
    frames = [cv2.resize(np.roll(pair, 3 * i, axis=1), (640, 320), interpolation=cv2.INTER_AREA)
              for i in range(20)]
    path = tmp_path_factory.mktemp("two") / "two-people.mp4"
    write_video(path, frames, fps=10)
    return path


def _one_line(message: str) -> bool:
    return bool(message) and "\n" not in message and "Traceback" not in message


def test_demo_media_gets_verdicts_and_timelines(scanner: Scanner, demo_media: dict[str, Path],
                                                check_schema: Callable[[str], dict]) -> None:
    result = scanner.scan([demo_media["clip"], demo_media["photo"], demo_media["no_face"]])
    clip, photo, no_face = result
    assert clip.ok and photo.ok and not no_face.ok and not result.ok
    assert (clip.kind, clip.frames_sampled, len(clip.persons)) == ("video", 32, 1)
    person = clip.persons[0]
    assert len(person.frames) >= 28, "the moving face was lost for several frames"
    assert person.times[0] < 0.2 and person.times[-1] > 2.8  # the whole 3 s clip
    assert (photo.kind, photo.frames_sampled, len(photo.persons)) == ("image", 1, 1)
    assert photo.persons[0].frames == [0]
    # No face: no probability at all rather than a guess, but the threshold that would have applied.
    assert (no_face.verdict, no_face.probability, no_face.persons) == (NO_FACE, None, [])
    assert no_face.threshold == scanner.threshold and no_face.error is None
    assert _one_line(no_face.message) and "no face" in no_face.message
    doc = check_schema(result.to_json())
    assert [f["path"] for f in doc["files"]] == [str(p) for p in demo_media.values()]


def test_scan_function_returns_what_the_scanner_does(tiny_model_path: Path, scanner: Scanner,
                                                     demo_media: dict[str, Path]) -> None:
    """`fakescope.scan(path, **options)` is the one-call form of the same pipeline."""
    result = fakescope.scan(demo_media["photo"], model=tiny_model_path, aggregate="max")
    assert isinstance(result, ScanResult) and len(result) == 1
    again = scanner.scan(demo_media["photo"])
    assert result[0].probability == pytest.approx(again[0].probability, abs=1e-6)
    assert result.settings["aggregate"] == "max"
    assert str(result).startswith(f"{demo_media['photo']}: {result[0].verdict}")


@pytest.mark.parametrize("key", ["missing", "empty", "text_mp4", "html_mp4", "truncated_mp4", "truncated_mkv",
                                 "audio_m4a", "audio_mp4", "corrupt_jpg", "garbage_jpg", "no_media_dir"])
def test_bad_input_is_an_error_result_not_an_exception(key: str, scanner: Scanner,
                                                       bad_media: dict[str, Path]) -> None:
    (result,) = scanner.scan(bad_media[key])
    assert result.verdict == ERROR and not result.ok
    assert result.probability is None and result.persons == []
    assert _one_line(result.error) and _one_line(result.message)
    assert result.message.startswith(f"{bad_media[key]}: error: ")


@pytest.mark.parametrize("key", ["gray_png", "gray16_png", "rgba_png", "la_png", "palette_png", "webp", "bmp"])
def test_grayscale_alpha_and_other_formats_get_a_verdict(key: str, scanner: Scanner,
                                                         odd_images: dict[str, Path]) -> None:
    (result,) = scanner.scan(odd_images[key])
    assert result.ok and len(result.persons) == 1


def test_one_bad_file_does_not_stop_the_batch(scanner: Scanner, bad_media: dict[str, Path],
                                              demo_media: dict[str, Path]) -> None:
    paths = [bad_media["text_mp4"], demo_media["photo"], bad_media["missing"], demo_media["clip"]]
    result = scanner.scan(paths)
    assert [f.verdict == ERROR for f in result] == [True, False, True, False]
    assert result[1].ok and result[3].ok and not result.ok


def test_an_unexpected_failure_on_one_file_is_contained(tiny_model_path: Path, demo_media: dict[str, Path],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A library throwing something we did not foresee, on one file, must not lose the rest of a batch."""
    scanner = Scanner(model=tiny_model_path)
    real_detect = scanner.detector.detect

    def detect(image: np.ndarray) -> list:
        if image.shape[:2] == (400, 600):  # the coffee photo
            raise RuntimeError("boom\nsecond line")
        return real_detect(image)

    monkeypatch.setattr(scanner.detector, "detect", detect)
    photo, coffee = scanner.scan([demo_media["photo"], demo_media["no_face"]])
    assert photo.ok
    assert coffee.verdict == ERROR and _one_line(coffee.error) and "RuntimeError: boom" in coffee.error


def test_two_people_are_two_persons_with_full_timelines(scanner: Scanner, two_people_clip: Path) -> None:
    (result,) = scanner.scan(two_people_clip)
    assert len(result.persons) == 2
    sampled = result.frames_sampled
    for person in result.persons:
        assert len(person.frames) == len(person.scores) == len(person.times) == len(person.boxes) == sampled
    # Each person keeps to their side of the frame.
    lefts = [np.mean([b[0] for b in p.boxes]) for p in result.persons]
    assert min(lefts) < 320 < max(lefts)


def test_person_and_file_probabilities_follow_the_aggregate(tiny_model_path: Path, demo_media: dict[str, Path],
                                                            ) -> None:
    for how, fn in (("mean", np.mean), ("max", np.max), ("median", np.median)):
        (result,) = fakescope.scan(demo_media["clip"], model=tiny_model_path, aggregate=how, num_frames=8)
        assert result.frames_sampled == 8
        for person in result.persons:
            assert person.probability == pytest.approx(fn(person.scores), abs=1e-4)
        assert result.probability == max(p.probability for p in result.persons)


def test_threshold_decides_the_verdict(scanner: Scanner, tiny_model_path: Path,
                                       demo_media: dict[str, Path]) -> None:
    (base,) = scanner.scan(demo_media["photo"])
    p = base.probability
    (low,) = fakescope.scan(demo_media["photo"], model=tiny_model_path, threshold=p - 0.01)
    (high,) = fakescope.scan(demo_media["photo"], model=tiny_model_path, threshold=p + 0.01)
    assert (low.verdict, low.threshold) == ("FAKE", p - 0.01)
    assert (high.verdict, high.threshold) == ("REAL", p + 0.01)


def test_invalid_options_are_clear_errors(tiny_model_path: Path) -> None:
    with pytest.raises(FakescopeError, match="aggregate"):
        Scanner(model=tiny_model_path, aggregate="mode")
    with pytest.raises(FakescopeError, match="num_frames"):
        Scanner(model=tiny_model_path, num_frames=0)
    with pytest.raises(FakescopeError, match="fps"):
        Scanner(model=tiny_model_path, fps=0)
    for bad in (-0.1, 1.5):
        with pytest.raises(FakescopeError, match="threshold"):
            Scanner(model=tiny_model_path, threshold=bad)


def test_a_typo_in_an_option_is_a_clear_error_before_any_model_loads(tmp_path: Path) -> None:
    """`Scanner(num_frame=8)`: one line naming the option meant, raised before the model (or torch) loads:
    the model named here does not even exist, and its error never comes."""
    import subprocess
    import sys

    from fakescope.errors import OptionError

    with pytest.raises(OptionError, match=r"unknown scan option 'num_frame' \(did you mean 'num_frames'\?"):
        Scanner(model=tmp_path / "absent.safetensors", num_frame=8)
    with pytest.raises(TypeError):  # what Python raises for an unknown keyword, so callers may catch that
        fakescope.scan(tmp_path, model=tmp_path / "absent.safetensors", aggregat="max")
    for bad, words in (({"num_frames": "8"}, "num_frames must be a whole number"),
                       ({"detector": "yunett"}, "unknown face detector 'yunett'; known: yunet"),
                       ({"threshold": float("nan")}, "threshold must be between 0 and 1"),
                       ({"keep_crops": "yes"}, "keep_crops must be True or False")):
        with pytest.raises(OptionError, match=words):
            Scanner(model=tmp_path / "absent.safetensors", **bad)
    code = ("import sys, fakescope\n"
            "try:\n    fakescope.Scanner(num_frame=8)\nexcept fakescope.OptionError as e:\n    print(e)\n"
            "assert 'torch' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("unknown scan option 'num_frame'")


def test_options_are_keyword_arguments_with_one_set_of_defaults() -> None:
    """`help(fakescope.scan)` lists every option with its default, taken from ScanOptions, as do the CLI,
    the web server and evaluate."""
    import inspect
    from dataclasses import fields

    from fakescope.cli import build_parser
    from fakescope.media.decode import read_media
    from fakescope.options import ScanOptions, cli_fields
    from fakescope.server.app import ServerConfig
    from fakescope.server.worker import WorkerConfig

    defaults = ScanOptions()
    for function in (fakescope.scan, Scanner):
        params = inspect.signature(function).parameters
        for f in fields(ScanOptions):
            assert params[f.name].default == getattr(defaults, f.name)
            assert params[f.name].kind is inspect.Parameter.KEYWORD_ONLY
    parser = build_parser()
    for command, names in (("scan", [f.name for f in cli_fields()]), ("demo", [f.name for f in cli_fields()]),
                           ("evaluate", ["num_frames", "aggregate"]), ("serve", ["num_frames"])):
        extra = {"scan": ["x.mp4"], "demo": [], "evaluate": ["m", "src"], "serve": []}[command]
        args = parser.parse_args([command, *extra])
        assert {n: getattr(args, n) for n in names} == {n: getattr(defaults, n) for n in names}
    assert ServerConfig().frames == WorkerConfig("db", "dir", "m").frames == defaults.num_frames
    assert inspect.signature(read_media).parameters["num_frames"].default == defaults.num_frames
    assert inspect.signature(read_media).parameters["max_side"].default == defaults.max_side


def test_results_record_names_the_cli_takes_back(scanner: Scanner, demo_media: dict[str, Path],
                                                 capsys: pytest.CaptureFixture) -> None:
    """The detector is recorded by its registry name, which --detector accepts (and only such names);
    --model's help names the bundled models."""
    from fakescope.cli import build_parser
    from fakescope.faces import list_detectors
    from fakescope.models import bundled_models

    recorded = scanner.scan(demo_media["photo"]).settings["detector"]
    assert recorded in list_detectors()
    parser = build_parser()
    assert parser.parse_args(["scan", "x.mp4", "--detector", recorded]).detector == recorded
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["scan", "x.mp4", "--detector", "YuNetDetector"])
    assert exit_.value.code == 2 and "invalid choice: 'YuNetDetector'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["scan", "--help"])
    usage = capsys.readouterr().out
    assert all(name in usage for name in bundled_models()) and "{yunet}" in usage


def test_kept_crops_are_the_ones_classified_and_stay_out_of_json(tiny_model_path: Path,
                                                                  demo_media: dict[str, Path]) -> None:
    scanner = Scanner(model=tiny_model_path, keep_crops=True, num_frames=6)
    result = scanner.scan(demo_media["clip"])
    (file,) = result
    (person,) = file.persons
    crops = file.crops[person.track_id]
    size = scanner.classifier.config.input_size
    assert crops.shape == (len(person.frames), size, size, 3) and crops.dtype == np.uint8
    probs = scanner.classifier.predict(crops)
    assert person.scores == pytest.approx(probs.tolist(), abs=1e-4)
    assert "crops" not in json.loads(result.to_json())["files"][0]


def test_two_hour_video_is_scanned_across_its_whole_length(scanner: Scanner, long_video: Path) -> None:
    (result,) = scanner.scan(long_video)
    assert result.ok and result.frames_sampled == 32
    assert result.duration == pytest.approx(LONG_SECONDS, rel=1e-3)
    (person,) = result.persons
    step = LONG_SECONDS / 32
    assert len(person.times) == 32
    assert all(abs(t - (i + 0.5) * step) <= 1 for i, t in enumerate(person.times))
    assert all(abs(f - t) <= 1 for f, t in zip(person.frames, person.times))  # 1 fps: index == second


def test_8k_video_boxes_are_in_full_resolution_pixels(scanner: Scanner, video_8k: dict,
                                                      astronaut: np.ndarray) -> None:
    """Detection ran on a scaled-down frame; the reported boxes must land on the face in the 8K frame."""
    (small,) = create_detector("yunet").detect(astronaut)
    (x0, y0), k = video_8k["offset"], video_8k["factor"]
    expected = (small.box[0] * k + x0, small.box[1] * k + y0, small.box[2] * k, small.box[3] * k)
    for path in (video_8k["video"], video_8k["image"]):
        (result,) = scanner.scan(path)
        assert (result.width, result.height) == (7680, 4320)
        (person,) = result.persons
        assert all(iou(tuple(box), expected) > 0.7 for box in person.boxes)


def test_rotated_phone_video_is_reported_as_displayed(scanner: Scanner, tmp_path: Path, astronaut: np.ndarray,
                                                      encode_frames: Callable[..., Path]) -> None:
    """Stored landscape with a portrait display matrix: the result says portrait, and the face is found."""
    stored = np.ascontiguousarray(np.rot90(cv2.resize(astronaut, (240, 320)), 1))  # 320 wide, 240 high
    portrait = [0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30]
    path = encode_frames(tmp_path / "portrait.mp4", [stored] * 5, 5, "libx264", display_matrix=portrait)
    (result,) = scanner.scan(path)
    assert (result.width, result.height) == (240, 320)
    assert result.ok and len(result.persons) == 1
