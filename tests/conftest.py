"""Fixtures shared by the test files: media the tests make themselves (nothing is downloaded), a small model,
a CLI runner and a checker for the JSON schema.

Media and the model are session-scoped and made on first use, so the suite pays for each file once; the
bundled "default" model is never needed (it may not exist yet), tests pass `model=tiny_model_path`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
VERDICTS = {"FAKE", "UNCERTAIN", "REAL", "NO_FACE", "ERROR"}
LONG_SECONDS = 2 * 60 * 60


@pytest.fixture(scope="session", autouse=True)
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """ONNX graphs are exported into a fresh folder (the CLI subprocesses inherit it): tests neither depend
    on nor litter the user's ~/.cache."""
    old = os.environ.get("FAKESCOPE_CACHE")
    path = tmp_path_factory.mktemp("fakescope-cache")
    os.environ["FAKESCOPE_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("FAKESCOPE_CACHE", None)
    else:
        os.environ["FAKESCOPE_CACHE"] = old


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (third-party deepfakes): tests that read it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not here")
    return SHARED_DATA


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A real photo with one face (Eileen Collins, public domain), 512x512 RGB."""
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An EfficientNet-Lite0 checkpoint with ImageNet features and an untrained head: its probabilities
    mean nothing, but it exercises every step of loading and scanning. Seeded, so the head (and the cached
    ONNX export) is the same in every run."""
    import torch

    from fakescope.models import FaceClassifier, ModelConfig, create_model

    torch.manual_seed(0)
    m = create_model("efficientnet_lite0", pretrained=True)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    FaceClassifier(m, ModelConfig.from_module("efficientnet_lite0", m)).save(path)
    return path


@pytest.fixture(scope="module")
def scanner(tiny_model_path: Path):
    """One Scanner per test module: the detector and model load once."""
    from fakescope.scan import Scanner

    return Scanner(model=tiny_model_path)


@pytest.fixture(scope="session")
def demo_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """What `fakescope demo` makes: a 3 s clip of a moving face, a photo with a face, a photo without."""
    from fakescope.demo import make_demo_media

    clip, photo, no_face = make_demo_media(tmp_path_factory.mktemp("demo"))
    return {"clip": clip, "photo": photo, "no_face": no_face}


@pytest.fixture(scope="session")
def make_batch(demo_media: dict[str, Path]) -> Callable[..., Path]:
    """(folder, clips, no_face=True) -> folder, a batch to scan: `clips` copies of the demo clip (clip0.mp4,
    ...), the photo (photo.jpg) and, with `no_face`, the face-less picture (coffee.png)."""

    def make(folder: Path, clips: int, no_face: bool = True) -> Path:
        folder.mkdir()
        for i in range(clips):
            shutil.copy(demo_media["clip"], folder / f"clip{i}.mp4")
        shutil.copy(demo_media["photo"], folder / "photo.jpg")
        if no_face:
            shutil.copy(demo_media["no_face"], folder / "coffee.png")
        return folder

    return make


def _audio_only(path: Path) -> None:
    """Half a second of silence in AAC: a file with an audio stream and no video."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=44100)
        for i in range(22):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture(scope="session")
def bad_media(tmp_path_factory: pytest.TempPathFactory, demo_media: dict[str, Path],
              astronaut: np.ndarray) -> dict[str, Path]:
    """One file per kind of bad input the scan must turn into a one-line error, never a crash."""
    from fakescope.demo import _ken_burns
    from fakescope.media.encode import write_video

    d = tmp_path_factory.mktemp("bad")
    out = {"missing": d / "missing.mp4", "empty": d / "empty.mp4", "text_mp4": d / "notes.mp4",
           "html_mp4": d / "download.mp4", "truncated_mp4": d / "cut.mp4", "truncated_mkv": d / "cut.mkv",
           "audio_m4a": d / "voice.m4a", "audio_mp4": d / "voice.mp4", "corrupt_jpg": d / "cut.jpg",
           "garbage_jpg": d / "zeros.jpg", "no_media_dir": d / "nothing-here"}
    out["empty"].touch()
    out["text_mp4"].write_text("shopping list: milk, eggs\n")
    # A failed download saved under the video's name: a classic.
    out["html_mp4"].write_text("<!DOCTYPE html><html><body><h1>403 Forbidden</h1></body></html>\n" * 20)
    # PyAV writes the mp4 index at the end: cut in half, the file cannot even be opened.
    clip = demo_media["clip"].read_bytes()
    out["truncated_mp4"].write_bytes(clip[:len(clip) // 2])
    # Matroska puts its header first: cut in half, the first half still decodes.
    whole_mkv = d / "whole.mkv"
    write_video(whole_mkv, _ken_burns(astronaut, 40, (320, 240)), fps=10)
    mkv = whole_mkv.read_bytes()
    out["truncated_mkv"].write_bytes(mkv[:len(mkv) // 2])
    whole_mkv.unlink()
    _audio_only(out["audio_m4a"])
    _audio_only(out["audio_mp4"])
    jpg = demo_media["photo"].read_bytes()
    out["corrupt_jpg"].write_bytes(jpg[:len(jpg) // 3])
    out["garbage_jpg"].write_bytes(jpg[:16] + bytes(4000))
    out["no_media_dir"].mkdir()
    (out["no_media_dir"] / "readme.txt").write_text("no images here\n")
    return out


@pytest.fixture(scope="session")
def odd_images(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> dict[str, Path]:
    """The astronaut photo as grayscale (8 and 16 bit), with alpha, palette, and in every image format."""
    d = tmp_path_factory.mktemp("images")
    im = Image.fromarray(astronaut)
    out = {"gray_png": d / "gray.png", "gray16_png": d / "gray16.png", "rgba_png": d / "rgba.png",
           "la_png": d / "gray-alpha.png", "palette_png": d / "palette.png", "webp": d / "photo.webp",
           "bmp": d / "photo.bmp", "gray_jpg": d / "gray.jpg"}
    im.convert("L").save(out["gray_png"])
    im.convert("L").save(out["gray_jpg"])
    gray16 = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257
    Image.fromarray(gray16).save(out["gray16_png"])
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 200, np.uint8)])
    Image.fromarray(rgba).save(out["rgba_png"])
    im.convert("LA").save(out["la_png"])
    im.convert("P").save(out["palette_png"])
    im.save(out["webp"], quality=90)
    im.save(out["bmp"])
    return out


def write_frames(path: Path, frames: Iterable[np.ndarray], fps: float, codec: str,
                 options: dict[str, str] | None = None, display_matrix: list[int] | None = None) -> Path:
    """Encode RGB frames with full control over the stream (GOP, display matrix), unlike write_video."""
    with av.open(str(path), "w") as container:
        stream = None
        for i, img in enumerate(frames):
            if stream is None:
                stream = container.add_stream(codec, rate=fps)
                stream.height, stream.width = img.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.options = options or {}
                if display_matrix is not None:
                    stream.set_display_matrix(display_matrix)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _repeat(image: np.ndarray, n: int) -> Iterator[np.ndarray]:
    for _ in range(n):
        yield image


@pytest.fixture(scope="session")
def long_video(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> Path:
    """A two-hour video made cheaply: 160x160 at 1 frame per second (7,200 frames), a keyframe every 10 s,
    the face in every frame."""
    small = cv2.resize(astronaut, (160, 160), interpolation=cv2.INTER_AREA)
    return write_frames(tmp_path_factory.mktemp("long") / "two-hours.mp4", _repeat(small, LONG_SECONDS), 1,
                        "mpeg4", {"g": "10"})


@pytest.fixture(scope="session")
def video_8k(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> dict:
    """An 8K (7680x4320) image and a 3-frame 8K video with the astronaut at 4x placed at a known offset."""
    d = tmp_path_factory.mktemp("8k")
    canvas = np.full((4320, 7680, 3), 90, np.uint8)
    x0, y0, factor = 2800, 1000, 4
    canvas[y0:y0 + 512 * factor, x0:x0 + 512 * factor] = cv2.resize(astronaut, (512 * factor, 512 * factor))
    image = d / "8k.jpg"
    Image.fromarray(canvas).save(image, quality=85)
    video = write_frames(d / "8k.mp4", [canvas] * 3, 1, "mpeg4")
    return {"image": image, "video": video, "offset": (x0, y0), "factor": factor}


@pytest.fixture(scope="session")
def run_cli() -> Callable[..., subprocess.CompletedProcess]:
    """`python -m fakescope ARGS` in a real process, as a user would run it: returns the finished process."""

    def run(*args: str | os.PathLike) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "fakescope", *map(str, args)], check=False,
                              capture_output=True, text=True, timeout=600, env=os.environ.copy())

    return run


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def check_provenance_json(p: dict) -> None:
    """A `provenance` object against schema fakescope.provenance/1 (docs/json-schema.md)."""
    assert p["schema"] == "fakescope.provenance/1"
    assert {"credentials", "metadata", "hints", "ai_declared", "summary"} <= set(p)
    assert isinstance(p["ai_declared"], bool) and isinstance(p["summary"], str) and "\n" not in p["summary"]
    assert all(isinstance(h, str) and "\n" not in h for h in p["hints"])
    c, m = p["credentials"], p["metadata"]
    assert c["state"] in ("trusted", "valid", "invalid", "absent", "unsupported", "error")
    assert p["ai_declared"] == (c["state"] in ("trusted", "valid") and c["ai_source_type"] is not None)
    assert {"message", "manifests", "signer", "claim_generator", "title", "actions", "digital_source_types",
            "software_agents", "ingredients", "reasons", "ai_source_type", "ai_where", "trust_anchors"} <= set(c)
    assert all({"code", "explanation"} <= set(r) for r in c["reasons"])
    if c["state"] in ("absent", "unsupported", "error"):
        assert c["signer"] is None and c["manifests"] == 0
    assert {"container", "codec", "encoder", "handler_name", "software", "creation_time", "make", "model", "gps",
            "orientation", "tags", "error"} <= set(m)
    assert isinstance(m["gps"], bool) and all(isinstance(v, str) for v in m["tags"].values())


def check_scan_json(text: str) -> dict:
    """Parse `--json` output and check it against schema fakescope.scan/2 (docs/json-schema.md), field by
    field; returns the document. Strict JSON: NaN or Infinity fail."""
    doc = json.loads(text, parse_constant=_reject_constant)
    assert set(doc) == {"schema", "fakescope_version", "model", "settings", "files"}
    assert doc["schema"] == "fakescope.scan/2"
    assert isinstance(doc["fakescope_version"], str) and doc["fakescope_version"]
    assert isinstance(doc["model"], str) and doc["model"]
    settings = doc["settings"]
    assert {"num_frames", "fps", "threshold", "aggregate", "detector", "input_size"} <= set(settings)
    assert 0 <= settings["threshold"] <= 1
    assert isinstance(settings.get("mirror", False), bool)
    for f in doc["files"]:
        assert {"path", "verdict", "probability", "threshold", "kind", "width", "height", "duration", "fps",
                "frames_sampled", "persons", "error", "model", "timings"} <= set(f)
        assert f["verdict"] in VERDICTS
        assert isinstance(f["path"], str)
        assert all(isinstance(v, (int, float)) and v >= 0 for v in f["timings"].values())
        if f.get("provenance") is not None:
            check_provenance_json(f["provenance"])
        if f["verdict"] == "ERROR":
            assert isinstance(f["error"], str) and f["error"] and "\n" not in f["error"]
            assert f["probability"] is None and f["persons"] == []
            continue
        assert f["error"] is None
        assert f["kind"] in ("video", "image")
        assert f["width"] > 0 and f["height"] > 0 and f["frames_sampled"] >= 1
        assert 0 <= f["threshold"] <= 1
        if f["kind"] == "image":
            assert f["frames_sampled"] == 1 and f["duration"] is None
        else:
            assert f["duration"] > 0 and f["fps"] > 0
        if f["verdict"] == "NO_FACE":
            assert f["probability"] is None and f["persons"] == []
            continue
        assert f["persons"], "a FAKE, UNCERTAIN or REAL verdict needs at least one person"
        assert math.isclose(f["probability"], max(p["probability"] for p in f["persons"]))
        person_verdicts = {p["verdict"] for p in f["persons"]}
        assert f["verdict"] == next(v for v in ("FAKE", "UNCERTAIN", "REAL") if v in person_verdicts)
        assert (f["reason"] is not None) == (f["verdict"] == "UNCERTAIN")
        assert [p["track_id"] for p in f["persons"]] == list(range(len(f["persons"])))
        band = f["uncertain_from"] if f["uncertain_from"] is not None else f["threshold"]
        for p in f["persons"]:
            if p["reason"] and p["reason"].startswith("face too small"):
                assert p["verdict"] == "UNCERTAIN"
            else:
                expected = ("FAKE" if p["probability"] >= f["threshold"] else
                            "UNCERTAIN" if p["probability"] >= band else "REAL")
                assert p["verdict"] == expected and (p["reason"] is not None) == (expected == "UNCERTAIN")
            n = len(p["frames"])
            assert n >= 1 and len(p["times"]) == len(p["scores"]) == len(p["boxes"]) == n
            assert p["frames"] == sorted(set(p["frames"])) and p["times"] == sorted(p["times"])
            assert all(0 <= s <= 1 for s in p["scores"]) and 0 <= p["probability"] <= 1
            for x, y, w, h in p["boxes"]:
                assert w > 0 and h > 0
                assert -w < x < f["width"] and -h < y < f["height"], "box outside the frame"
    return doc


@pytest.fixture(scope="session")
def check_schema() -> Callable[[str], dict]:
    """`check_scan_json` as a fixture, for test files that cannot import conftest."""
    return check_scan_json


@pytest.fixture(scope="session")
def encode_frames() -> Callable[..., Path]:
    """`write_frames` as a fixture: (path, frames, fps, codec, options=None, display_matrix=None) -> path."""
    return write_frames
