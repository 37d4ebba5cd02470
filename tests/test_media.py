"""Decoding: sniffing, folder expansion, every container and codec we claim, rotation metadata, huge frames,
long videos sampled without decoding them whole, and bad files that must fail with a one-line MediaError."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Self

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from fakescope.errors import MediaError
from fakescope.media import collect_media, read_media, sniff_kind
from fakescope.media.decode import MAX_SAMPLES
from fakescope.media.encode import write_video

LONG_SECONDS = 2 * 60 * 60
# FFmpeg's display matrix of a phone held upright (what an iPhone writes for a portrait video): the stored
# landscape frame is shown turned a quarter turn clockwise (`ffprobe` reports "rotation of -90.00 degrees").
PORTRAIT_MATRIX = [0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30]


def _has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except av.codec.codec.UnknownCodecError:
        return False
    return True


class _CountingContainer:
    """Wraps a PyAV input container and counts the frames its decoder hands out."""

    def __init__(self, container, counter: list[int]) -> None:
        self._container, self._counter = container, counter

    def __getattr__(self, name: str):
        return getattr(self._container, name)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self._container.__exit__(*exc)

    def decode(self, *args, **kwargs) -> Iterator:
        for frame in self._container.decode(*args, **kwargs):
            self._counter[0] += 1
            yield frame


@pytest.fixture
def count_decoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many frames read_media decodes, whatever it keeps: the proof that sampling skipped the rest."""
    counter = [0]
    real_open = av.open
    monkeypatch.setattr(av, "open", lambda *a, **k: _CountingContainer(real_open(*a, **k), counter))
    return counter


# ---- sniffing and folders ------------------------------------------------------------------------------

def test_sniff_kind_reads_bytes_not_names(tmp_path: Path, demo_media: dict[str, Path],
                                          odd_images: dict[str, Path], bad_media: dict[str, Path]) -> None:
    """Names lie (a PNG saved as .mp4, a web page saved as .mp4): the kind comes from the first bytes."""
    disguised = tmp_path / "really-a-png.mp4"
    disguised.write_bytes(demo_media["no_face"].read_bytes())
    assert sniff_kind(demo_media["photo"]) == "image"
    assert sniff_kind(disguised) == "image"
    for key in ("webp", "bmp", "gray16_png"):
        assert sniff_kind(odd_images[key]) == "image"
    assert sniff_kind(demo_media["clip"]) == "video"
    assert sniff_kind(bad_media["text_mp4"]) is None
    assert sniff_kind(bad_media["html_mp4"]) is None
    assert sniff_kind(bad_media["empty"]) is None


def test_a_png_named_mp4_is_read_as_an_image(tmp_path: Path, demo_media: dict[str, Path]) -> None:
    disguised = tmp_path / "photo.mp4"
    disguised.write_bytes(demo_media["photo"].read_bytes())
    info, frames = read_media(disguised)
    assert info.kind == "image" and len(frames) == 1


def test_collect_media_expands_folders_recursively_and_keeps_named_files(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/clip.MP4", "a/b/face.jpg", "a/b/face.webp", "a/notes.txt", "a/b/data.csv", "z.png"):
        (tmp_path / name).write_bytes(b"x")
    named = tmp_path / "notes.mp4"  # a file the user named is kept, whatever it is, to be reported
    found = collect_media([tmp_path / "a", named, tmp_path / "missing.jpg"])
    assert found == [tmp_path / "a/b/face.jpg", tmp_path / "a/b/face.webp", tmp_path / "a/clip.MP4",
                     named, tmp_path / "missing.jpg"]


def test_hidden_files_in_folders_are_left_out(tmp_path: Path) -> None:
    """A folder copied from a Mac carries `._name.jpg` resource forks that are not images."""
    (tmp_path / ".cache").mkdir()
    for name in ("face.jpg", "._face.jpg", ".cache/thumb.jpg"):
        (tmp_path / name).write_bytes(b"x")
    assert collect_media([tmp_path]) == [tmp_path / "face.jpg"]


def test_fps_sampling_is_capped_and_spread_over_the_whole_video(long_video: Path) -> None:
    """`--fps 1` on two hours would be 7,200 full frames in memory: at most MAX_SAMPLES, evenly spread."""
    _, frames = read_media(long_video, fps=1)
    assert len(frames) == MAX_SAMPLES
    assert frames[0].time < LONG_SECONDS / MAX_SAMPLES and frames[-1].time > LONG_SECONDS * (1 - 1 / MAX_SAMPLES)


def test_folder_without_media_is_kept_so_it_can_be_reported(bad_media: dict[str, Path]) -> None:
    folder = bad_media["no_media_dir"]
    assert collect_media([folder]) == [folder]
    with pytest.raises(MediaError, match="folder"):
        read_media(folder)


# ---- images --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["gray_png", "gray_jpg", "gray16_png", "rgba_png", "la_png", "palette_png",
                                 "webp", "bmp"])
def test_every_image_mode_becomes_rgb_with_its_content(key: str, odd_images: dict[str, Path],
                                                       astronaut: np.ndarray) -> None:
    """Grayscale (8 and 16 bit), alpha and palette images come out as (H, W, 3) uint8 that still look like
    the photo: a 16-bit PNG clipped to white would pass a shape check and hide the face."""
    info, frames = read_media(odd_images[key])
    img = frames[0].image
    assert (info.kind, info.width, info.height) == ("image", 512, 512)
    assert img.shape == (512, 512, 3) and img.dtype == np.uint8
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    ref = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY).astype(np.float32)
    assert np.corrcoef(gray.ravel(), ref.ravel())[0, 1] > 0.95


def test_exif_orientation_is_applied(tmp_path: Path, astronaut: np.ndarray) -> None:
    """A phone photo stored sideways with EXIF Orientation 6 (turn 90 degrees clockwise to display)."""
    stored = np.ascontiguousarray(np.rot90(astronaut[:, :400], 1))  # 400 wide, 512 high, turned left
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    im.save(path, exif=exif, quality=95)
    info, frames = read_media(path)
    assert (info.width, info.height) == (400, 512)
    diff = np.abs(frames[0].image.astype(np.float32) - astronaut[:, :400]).mean()
    assert diff < 8, "the photo was not turned upright"


def test_8k_image_is_scaled_down_once_and_reports_its_real_size(video_8k: dict) -> None:
    info, frames = read_media(video_8k["image"])
    assert (info.width, info.height) == (7680, 4320)
    (frame,) = frames
    assert max(frame.image.shape[:2]) == 4096
    assert frame.scale == pytest.approx(7680 / 4096)


def test_thin_strips_do_not_crash(tmp_path: Path) -> None:
    """A 1x9000 image scales to less than a pixel high; a 2x9000 video to less than two."""
    strip = tmp_path / "strip.png"
    Image.fromarray(np.zeros((1, 9000, 3), np.uint8)).save(strip)
    info, frames = read_media(strip)
    assert (info.width, info.height) == (9000, 1) and frames[0].image.shape[0] >= 1
    video = tmp_path / "strip.mp4"
    write_video(video, [np.zeros((2, 9000, 3), np.uint8)] * 2)
    info, frames = read_media(video)
    assert (info.width, info.height) == (9000, 2) and frames[0].image.shape[1] == 4096


# ---- videos --------------------------------------------------------------------------------------------

def _numbered_frame(photo: np.ndarray, i: int) -> np.ndarray:
    """Frame i of a test clip: the photo with a white bar at x = 3i, so each frame is told from its neighbours."""
    img = cv2.resize(photo, (160, 120), interpolation=cv2.INTER_AREA)
    img[:, 3 * i:3 * i + 6] = 255
    return img


CONTAINERS = [("mp4", "libx264"), ("mov", "libx264"), ("mkv", "libx264"), ("avi", "mpeg4"), ("mp4", "mpeg4"),
              ("webm", "libvpx-vp9"), ("mkv", "libvpx-vp9")]


@pytest.mark.parametrize(("ext", "codec"), CONTAINERS)
def test_every_container_and_codec_samples_evenly(ext: str, codec: str, tmp_path: Path,
                                                  astronaut: np.ndarray) -> None:
    if not _has_encoder(codec):
        pytest.skip(f"this PyAV has no {codec} encoder")
    frames_in = [_numbered_frame(astronaut, i) for i in range(50)]
    path = tmp_path / f"clip.{ext}"
    write_video(path, frames_in, fps=10, codec=codec)
    info, frames = read_media(path, num_frames=8)
    assert (info.kind, info.width, info.height) == ("video", 160, 120)
    assert info.duration == pytest.approx(5.0, abs=0.15) and info.fps == pytest.approx(10)
    assert len(frames) == 8
    # The centre of each eighth: frames 3, 9, 15, ... of 50 (within a frame: containers round timestamps).
    expected = [(i + 0.5) * 50 / 8 for i in range(8)]
    assert all(abs(f.index - e) <= 1 for f, e in zip(frames, expected))
    assert [f.index for f in frames] == sorted({f.index for f in frames})
    for f in frames:  # the frame we got is the frame at that index, not a neighbour
        assert f.image.shape == (120, 160, 3)
        diffs = [np.abs(f.image.astype(np.float32) - img).mean() for img in frames_in]
        assert int(np.argmin(diffs)) == f.index


def test_fps_option_samples_per_second(demo_media: dict[str, Path]) -> None:
    info, frames = read_media(demo_media["clip"], fps=2)
    assert len(frames) == int(info.duration * 2)
    assert [round(f.time * 2 - 0.5) for f in frames] == list(range(len(frames)))


def test_short_video_gives_each_frame_once(tmp_path: Path, astronaut: np.ndarray) -> None:
    """Fewer frames than samples: every frame once, never a duplicate."""
    path = tmp_path / "five.mp4"
    write_video(path, [cv2.resize(astronaut, (64, 64))] * 5, fps=25)
    _, frames = read_media(path, num_frames=32)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(("how", "turns"), [("matrix", -1), ("rotation", 1), ("rotation", 2)])
def test_rotation_metadata_is_applied(how: str, turns: int, tmp_path: Path, astronaut: np.ndarray) -> None:
    """A phone stores the sensor's landscape frame and a display matrix. `turns` counts quarter turns
    counter-clockwise, as np.rot90 does: the decoded frames must equal the stored ones turned that way.
    The portrait matrix is written as FFmpeg's raw numbers, so the check does not rest on PyAV's sign."""
    stored = cv2.resize(astronaut, (192, 128))
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = 192, 128, "yuv420p"
        stream.options = {"crf": "12"}
        if how == "matrix":
            stream.set_display_matrix(PORTRAIT_MATRIX)
        else:
            stream.set_display_rotation(90 * turns)
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    info, frames = read_media(path)
    shown = np.rot90(stored, turns).astype(np.float32)
    assert (info.width, info.height) == (shown.shape[1], shown.shape[0])
    assert frames[0].image.shape == shown.shape
    assert np.abs(frames[0].image - shown).mean() < 6
    wrong_way = np.rot90(stored, turns + 2).astype(np.float32)  # the mistake a flipped sign makes
    assert np.abs(frames[0].image - wrong_way).mean() > 20


def test_rotation_a_hair_off_a_quarter_turn_still_turns(tmp_path: Path, astronaut: np.ndarray,
                                                        encode_frames: Callable[..., Path]) -> None:
    """A matrix with rounding noise reads as -89 degrees in PyAV (it truncates): still a quarter turn."""
    noisy = [100, 65536, 0, -65536, 100, 0, 0, 0, 1 << 30]
    stored = cv2.resize(astronaut, (192, 128))
    path = encode_frames(tmp_path / "noisy.mp4", [stored] * 2, 5, "mpeg4", display_matrix=noisy)
    with av.open(str(path)) as container:
        assert next(container.decode(video=0)).rotation == -89  # the premise
    _, frames = read_media(path)
    assert frames[0].image.shape == (192, 128, 3)


def test_8k_video_is_decoded_scaled_down(video_8k: dict) -> None:
    info, frames = read_media(video_8k["video"])
    assert (info.width, info.height) == (7680, 4320)
    assert len(frames) == 3
    assert all(f.image.shape == (2304, 4096, 3) and f.scale == pytest.approx(7680 / 4096) for f in frames)


def test_two_hour_video_is_sampled_across_its_length_without_decoding_it(long_video: Path,
                                                                         count_decoded: list[int]) -> None:
    info, frames = read_media(long_video, num_frames=32)
    assert info.duration == pytest.approx(LONG_SECONDS, rel=1e-3) and info.frame_count == LONG_SECONDS
    assert len(frames) == 32
    step = LONG_SECONDS / 32  # the centre of each 32nd, within a frame (1 s)
    assert all(abs(f.time - (i + 0.5) * step) <= 1 for i, f in enumerate(frames))
    # Seeking decodes at most a GOP (10 frames here) per sample; reading the whole video would be 7,200.
    assert count_decoded[0] <= 32 * 11


def test_long_video_with_one_keyframe_is_decoded_at_most_once(tmp_path: Path, astronaut: np.ndarray,
                                                              encode_frames: Callable[..., Path],
                                                              count_decoded: list[int]) -> None:
    """Screen recordings can have a single keyframe: each seek lands back at the start, and seeking for every
    sample decoded the file 16 times over. Decoding on from where we are is never worse."""
    n = 1200  # 20 minutes at 1 fps: past the seek threshold
    small = cv2.resize(astronaut, (64, 64))
    path = encode_frames(tmp_path / "one-gop.mp4", (small for _ in range(n)), 1, "libx264",
                         {"g": str(10 * n), "keyint_min": str(10 * n), "sc_threshold": "0", "preset": "ultrafast"})
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        keyframes = sum(e.is_keyframe for e in stream.index_entries)
    assert keyframes == 1  # the premise
    count_decoded[0] = 0
    info, frames = read_media(path, num_frames=32)
    assert len(frames) == 32 and frames[-1].time > info.duration * 0.95
    assert count_decoded[0] <= n


# ---- decoding less: the same frames, bit for bit -----------------------------------------------------------

def _moving(photo: np.ndarray, i: int) -> np.ndarray:
    """Frame i: the photo drifting right with a bar sweeping across, so encoders use motion and B frames."""
    img = np.roll(cv2.resize(photo, (160, 120), interpolation=cv2.INTER_AREA), 2 * i, axis=1)
    img[:, (3 * i) % 150:(3 * i) % 150 + 6] = 255
    return img


def _clip(path: Path, photo: np.ndarray, codec: str, options: dict[str, str] | None = None, n: int = 60,
          fps: int = 25, first_pts: int = 0, time_base: int | None = None, jitter: bool = False,
          display_matrix: list[int] | None = None, pix_fmt: str = "yuv420p") -> Path:
    """A clip with full control of its timestamps: from `first_pts`, in 1/time_base units (jittered to a
    variable frame rate with `jitter`), with a display matrix if given."""
    import fractions

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 120, pix_fmt
        stream.options = options or {}
        if display_matrix is not None:
            stream.set_display_matrix(display_matrix)
        tb = time_base or fps
        if time_base:
            stream.codec_context.time_base = fractions.Fraction(1, tb)
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(_moving(photo, i), format="rgb24")
            frame.pts = first_pts + i * tb // fps + (7 * i % 5 if jitter else 0)
            frame.time_base = fractions.Fraction(1, tb)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


# (name, file suffix, codec, encoder options, _clip arguments, whether some frames go undecoded)
SAME_FRAMES = [
    ("h264-bframes", "mp4", "libx264", {"bf": "3"}, {}, True),
    ("h264-no-bframes", "mp4", "libx264", {"bf": "0"}, {}, False),
    ("h264-late-start-mkv", "mkv", "libx264", {"bf": "3"}, {"first_pts": 250_000}, True),
    ("h264-vfr", "mp4", "libx264", {"bf": "3"}, {"time_base": 1000, "jitter": True}, True),
    ("h264-rotated", "mp4", "libx264", {"bf": "3"}, {"display_matrix": PORTRAIT_MATRIX}, True),
    ("hevc-bframes", "mp4", "libx265", {"x265-params": "bframes=4:log-level=none"}, {}, True),
    ("mpeg2-bframes", "mkv", "mpeg2video", {"bf": "2"}, {}, True),
    ("mpeg4-bframes", "mp4", "mpeg4", {"bf": "2"}, {}, True),
    ("mpeg4-avi", "avi", "mpeg4", {}, {}, False),
    ("vp9-webm", "webm", "libvpx-vp9", {"deadline": "realtime", "cpu-used": "8"}, {}, False),
    ("ffv1-intra-only", "mkv", "ffv1", {}, {}, False),
    ("mjpeg-intra-only", "mkv", "mjpeg", {}, {"pix_fmt": "yuvj420p"}, False),
]
SAMPLING = [{"num_frames": 8}, {"num_frames": 32}, {"fps": 10}]


@pytest.fixture(scope="module")
def same_frames_clips(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("same-frames")
    return {name: _clip(d / f"{name}.{ext}", astronaut, codec, options, **kwargs)
            for name, ext, codec, options, kwargs, _ in SAME_FRAMES if _has_encoder(codec)}


@pytest.fixture
def decode_counts(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often read_media opens the video to decode it (twice: it fell back to decoding every frame) and
    how many frames its decoder gave out."""
    from fakescope.media import decode

    counts = {"opens": 0, "frames": 0}
    real_open, real_frames = decode._open_video, decode._frames

    def opened(*args):
        counts["opens"] += 1
        return real_open(*args)

    def frames(*args):
        for frame in real_frames(*args):
            counts["frames"] += 1
            yield frame

    monkeypatch.setattr(decode, "_open_video", opened)
    monkeypatch.setattr(decode, "_frames", frames)
    return counts


def _assert_same(every: list, fewer: list) -> None:
    assert [(f.index, f.time, f.scale) for f in fewer] == [(f.index, f.time, f.scale) for f in every]
    assert all(a.image.dtype == b.image.dtype and np.array_equal(a.image, b.image) for a, b in zip(every, fewer))


@pytest.mark.parametrize("sampling", SAMPLING, ids=lambda s: "-".join(f"{k}{v}" for k, v in s.items()))
@pytest.mark.parametrize(("name", "skips"), [(c[0], c[5]) for c in SAME_FRAMES], ids=[c[0] for c in SAME_FRAMES])
def test_frames_left_undecoded_change_no_sampled_frame(name: str, skips: bool, sampling: dict,
                                                       same_frames_clips: dict[str, Path],
                                                       decode_counts: dict[str, int],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Non-reference frames that are not sampled are not decoded; the sampled frames are the very frames,
    bit for bit, that decoding every frame gives, in every codec and container, with odd timestamps and
    rotation. Where the codec has frames nothing refers to (B frames), fewer frames are decoded."""
    from fakescope.media import decode

    if name not in same_frames_clips:
        pytest.skip(f"this PyAV cannot encode {name}")
    path = same_frames_clips[name]
    monkeypatch.setattr(decode, "SKIP_UNSAMPLED", False)
    _, every = read_media(path, **sampling)
    all_frames = decode_counts["frames"]
    decode_counts.update(opens=0, frames=0)
    monkeypatch.setattr(decode, "SKIP_UNSAMPLED", True)
    _, fewer = read_media(path, **sampling)
    assert len(every) > 1
    _assert_same(every, fewer)
    assert decode_counts["opens"] == 1, "the packets' plan did not hold: it fell back to decoding every frame"
    if skips and len(every) < 30:
        assert decode_counts["frames"] < all_frames
    else:
        assert decode_counts["frames"] <= all_frames


def test_the_skip_is_set_packet_by_packet_under_frame_threads(same_frames_clips: dict[str, Path]) -> None:
    """FFmpeg's frame threads must take skip_frame as it was when each packet was sent: with 4 threads, the
    frames that come out are exactly the reference frames plus the wanted ones."""
    from fakescope.media.decode import _frames

    path = same_frames_clips["h264-bframes"]

    def decoded(wanted: set[int] | None, threads: int, whole_stream: str = "DEFAULT") -> list[int]:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type, stream.codec_context.thread_count = "FRAME", threads
            stream.codec_context.skip_frame = whole_stream
            return [f.pts for f in _frames(container, stream, wanted)]

    every = decoded(None, 1)
    references = decoded(None, 1, "NONREF")
    assert len(references) < len(every) - 5  # the premise: B frames that nothing refers to
    wanted = {p for p in every if p not in references}
    wanted = set(sorted(wanted)[::3])
    assert decoded(wanted, 4) == sorted(set(references) | wanted) == decoded(wanted, 1)


def test_a_plan_the_decoder_does_not_keep_falls_back_to_every_frame(same_frames_clips: dict[str, Path],
                                                                    decode_counts: dict[str, int],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Should the frames decoded not be the ones the packets promised (here: a plan naming a timestamp no
    frame has), the file is decoded again, every frame, and the samples are still the right ones."""
    from fakescope.media import decode

    path = same_frames_clips["h264-bframes"]
    monkeypatch.setattr(decode, "SKIP_UNSAMPLED", False)
    _, every = read_media(path, num_frames=8)
    monkeypatch.setattr(decode, "SKIP_UNSAMPLED", True)
    real_plan = decode._plan
    monkeypatch.setattr(decode, "_plan", lambda *a: [p + 1 for p in real_plan(*a)])
    decode_counts["opens"] = 0
    _, frames = read_media(path, num_frames=8)
    assert decode_counts["opens"] == 2
    _assert_same(every, frames)


# ---- bad files -----------------------------------------------------------------------------------------

BAD = {"missing": "no such file", "empty": "empty", "text_mp4": "not a readable", "html_mp4": "not a readable",
       "truncated_mp4": "truncated", "truncated_mkv": "truncated", "audio_m4a": "audio only",
       "audio_mp4": "audio only", "corrupt_jpg": "image", "garbage_jpg": "image", "no_media_dir": "folder"}


@pytest.mark.parametrize("key", sorted(BAD))
def test_bad_file_raises_one_line_media_error(key: str, bad_media: dict[str, Path]) -> None:
    with pytest.raises(MediaError) as info:
        read_media(bad_media[key])
    message = str(info.value)
    assert BAD[key] in message
    assert "\n" not in message and len(message) < 200
    assert "Errno" not in message, "FFmpeg's errno is noise to a user"


def test_truncated_video_that_partly_decodes_is_an_error_not_a_partial_verdict(
        bad_media: dict[str, Path]) -> None:
    """The cut mkv still opens and decodes its first half: that must be reported, not sampled quietly."""
    with av.open(str(bad_media["truncated_mkv"])) as container:
        assert next(container.decode(video=0)) is not None  # the premise: some frames do decode
    with pytest.raises(MediaError, match=r"stop at [\d.]+s of 4\.0s"):
        read_media(bad_media["truncated_mkv"])
