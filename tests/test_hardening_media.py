"""Hostile and odd files (issue 11): decompression bombs made here in a few bytes, videos whose timing
misled the length checks, and files that are not files. Each one got a wrong answer or gigabytes before."""

from __future__ import annotations

import fractions
import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from fakescope.errors import MediaError
from fakescope.media import probe_duration, read_media, sniff_kind
from fakescope.media.decode import IMAGE_MEMORY_BUDGET
from fakescope.media.testing import png_bomb, webp_bomb


# ---- bombs ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bombs")
    return {"webp": webp_bomb(d / "flat.webp"),  # 268 Mpx: over PIL's own limit, unless a program lifts it
            "png_1bit": png_bomb(d / "scan.png", 19500, 19500),  # 380 Mpx, the 46 KB file
            "png_under_pil_limit": png_bomb(d / "big.png", 12000, 12000),  # 144 Mpx: PIL only warns
            "rgb_png": png_bomb(d / "rgb.png", 10000, 10000, 8, 2)}  # 100 Mpx RGB: 1.2 GB to decode


def test_bombs_are_a_few_bytes(bombs: dict[str, Path]) -> None:
    assert bombs["webp"].stat().st_size == 38
    assert bombs["png_1bit"].stat().st_size < 60_000


@pytest.mark.parametrize("key", ["webp", "png_1bit", "png_under_pil_limit", "rgb_png"])
@pytest.mark.parametrize("pil_limit", ["default", "lifted"])
def test_bombs_are_refused_with_the_numbers(bombs: dict[str, Path], key: str, pil_limit: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever PIL's global limit is (a host program may lift it), the declared size decides, and
    reading an image never changes that global (it used to set it to 400 Mpx for the whole process)."""
    if pil_limit == "lifted":
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(MediaError, match="image too large to scan safely") as info:
        read_media(bombs[key])
    assert Image.MAX_IMAGE_PIXELS == before
    message = str(info.value)
    assert "\n" not in message and ("megapixels" in message or "GiB" in message), message
    if pil_limit == "lifted":  # our own check, with the size and the memory it would take
        side = {"webp": "16383x16383", "png_1bit": "19500x19500", "png_under_pil_limit": "12000x12000",
                "rgb_png": "10000x10000"}[key]
        assert side in message and "limit 1.0 GiB" in message, message


@pytest.mark.parametrize("key", ["webp", "png_1bit", "rgb_png"])
def test_a_bomb_costs_little_memory(bombs: dict[str, Path], key: str) -> None:
    """Peak memory of a whole process that tries one bomb, PIL's limit lifted: before the fix the WebP took
    7 GB and the 1-bit PNG 4.6 GB; now the decoder is never started."""
    # (VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking pytest process.)
    code = ("import re, sys; from PIL import Image; Image.MAX_IMAGE_PIXELS = None\n"
            "from fakescope.media import read_media\n"
            "try:\n    read_media(sys.argv[1])\nexcept Exception as exc:\n    print(type(exc).__name__, exc)\n"
            "print(int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]) // 1024)")
    done = subprocess.run([sys.executable, "-c", code, str(bombs[key])], capture_output=True, text=True,
                          timeout=120, check=True)
    said, peak_mb = done.stdout.strip().rsplit("\n", 1)
    assert said.startswith("MediaError image too large"), done.stdout + done.stderr
    assert int(peak_mb) < 600, f"{key}: {peak_mb} MB"


def test_a_huge_jpeg_is_decoded_reduced_within_the_budget(tmp_path: Path) -> None:
    """A real 12000x9000 photo (108 Mpx) would take 1.3 GB decoded in full; libjpeg decodes it at half
    size instead, and boxes still map back to the stored pixels through the frame's scale."""
    path = tmp_path / "huge.jpg"
    Image.new("L", (12000, 9000), 128).save(path, quality=50)
    info, (frame,) = read_media(path, max_side=4096)
    assert (info.width, info.height) == (12000, 9000)
    assert max(frame.image.shape[:2]) == 4096 and frame.scale == pytest.approx(12000 / 4096, rel=1e-3)
    assert 12000 * 9000 * 12 > IMAGE_MEMORY_BUDGET  # the premise: in full it would not fit


# ---- video timing -----------------------------------------------------------------------------------------
def write_av(path: Path, video_s: float, audio_s: float = 0.0, start_s: float = 0.0, fps: int = 10) -> Path:
    """A small video with a flat grey picture, optional silence after it, timestamps from `start_s`."""
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("aac", rate=16000) if audio_s else None
        for i in range(int(video_s * fps)):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), (i * 5) % 255, np.uint8), format="rgb24")
            f.pts, f.time_base = i + int(start_s * fps), fractions.Fraction(1, fps)
            c.mux(v.encode(f))
        c.mux(v.encode())
        if a is not None:
            n = 1024
            for i in range(int(audio_s * 16000 / n)):
                fr = av.AudioFrame.from_ndarray(np.zeros((1, n), np.float32), format="fltp", layout="mono")
                fr.sample_rate, fr.pts = 16000, i * n + int(start_s * 16000)
                fr.time_base = fractions.Fraction(1, 16000)
                c.mux(a.encode(fr))
            c.mux(a.encode())
    return path


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_video_shorter_than_its_audio_is_not_truncated(tmp_path: Path, suffix: str) -> None:
    """2 s of video in 60 s of sound: MKV was called "truncated ... 0.9s of 60.0s" (MP4 worked)."""
    path = write_av(tmp_path / f"talk{suffix}", 2.0, audio_s=60.0)
    info, frames = read_media(path, num_frames=8)
    assert info.duration == pytest.approx(2.0, abs=0.15)
    assert len(frames) == 8 and frames[-1].time > 1.5
    assert probe_duration(path) == pytest.approx(2.0, abs=0.15)


def test_video_whose_timestamps_start_late(tmp_path: Path) -> None:
    """Timestamps from +10,000 s (a cut from a stream): "no decodable frames", and the server called it
    10002 s long. Its length is 2 s from its first frame."""
    path = write_av(tmp_path / "from-a-stream.mkv", 2.0, start_s=10_000)
    info, frames = read_media(path, num_frames=8)
    assert info.duration == pytest.approx(2.0, abs=0.15) and len(frames) == 8
    assert 0 <= frames[0].time < 0.5 and frames[-1].time < 2.1
    assert probe_duration(path) == pytest.approx(2.0, abs=0.15)


def test_fps_below_one_frame_per_clip_takes_the_middle_frame(tmp_path: Path) -> None:
    path = write_av(tmp_path / "short.mp4", 2.0)
    _info, frames = read_media(path, fps=0.2)  # one frame per 5 s, on a 2 s clip: was "no decodable frames"
    assert len(frames) == 1 and frames[0].time == pytest.approx(1.0, abs=0.11)


# ---- things that are not media files ----------------------------------------------------------------------
def test_not_files_are_named_for_what_they_are(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.jpg"
    loop.symlink_to(loop)
    noise = tmp_path / "noise.jpg"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    cases = {fifo: "FIFO", Path("/dev/zero"): "device", loop: "symbolic link loop",
             noise: "not a readable image or video", tmp_path / "gone.mp4": "no such file"}
    for path, words in cases.items():
        with pytest.raises(MediaError, match=words):  # FIFO and /dev/zero were "empty file"; the loop "no such
            read_media(path)                          # file"; random bytes "video cannot be decoded"


def test_cli_and_server_accept_the_same_formats(tmp_path: Path, astronaut: np.ndarray) -> None:
    """The server refused GIF, TIFF and PDF while the CLI scanned them through FFmpeg: one rule now, the
    bytes' own kind (sniff_kind), with the same list of formats in both messages."""
    im = Image.fromarray(astronaut)
    for fmt in ("GIF", "TIFF", "PDF"):
        path = tmp_path / f"a.{fmt.lower()}"
        im.save(path, fmt)
        assert sniff_kind(path) is None  # what the server's upload check uses
        with pytest.raises(MediaError, match=r"not a readable image or video .*JPEG, PNG, WebP, BMP, MP4"):
            read_media(path)


def test_cli_one_line_for_each(tmp_path: Path, run_cli, tiny_model_path: Path) -> None:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    done = run_cli("scan", fifo, "/dev/zero", "--json", "--model", tiny_model_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    errors = [f["error"] for f in json.loads(done.stdout)["files"]]
    assert "FIFO" in errors[0] and "device" in errors[1], errors
