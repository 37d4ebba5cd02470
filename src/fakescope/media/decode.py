"""Read images and sample video frames with PyAV.

Short clips are decoded sequentially, keeping only the sampled frames (faster than seeking: H.264 has to
decode the frames in between anyway). Of the frames in between, those no other frame refers to (H.264/HEVC
non-reference frames, MPEG-2/4 B frames) are not decoded at all: the packets are read once first, without
decoding, to learn which frames the sampling rule will take. Long videos are sampled by seeking to each
target time, so a two-hour file costs 32 short decodes, not two hours. Rotation metadata (phone videos,
EXIF) is applied, and frames larger than `max_side` are scaled down once here so an 8K file does not hold
gigabytes of frames.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import av
import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fakescope.errors import MediaError
from fakescope.threads import thread_share

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
# Past this duration, seek to each sample instead of decoding everything.
SEEK_AFTER_SECONDS = 60.0
DEFAULT_NUM_FRAMES = 32  # evenly spaced samples per video: the DeepfakeBench and SBI standard
DEFAULT_MAX_SIDE = 4096  # frames larger than this are scaled down once, on decode
MAX_SAMPLES = 600  # frames kept from one video, whatever --frames or --fps ask
# Sequential sampling leaves the non-reference frames it does not sample undecoded (FFmpeg skip_frame
# "NONREF", set packet by packet). The sampled frames are the same frames, bit for bit, as with every frame
# decoded (tests/test_media.py; bench/bench_skip_frame.py on the shared videos); False decodes them all.
SKIP_UNSAMPLED = True
# What decoding one image may take. A 38-byte WebP can declare 16383x16383 pixels, so an image is judged by
# its declared size times the bytes decoding and converting it hold at once, before a pixel is decoded.
IMAGE_MEMORY_BUDGET = 2**30
# What fakescope scans, on the command line and through the server alike: the bytes must say one of these.
SUPPORTED_FORMATS = "JPEG, PNG, WebP, BMP, MP4, MOV, MKV, WebM or AVI"
T = TypeVar("T")


@dataclass
class Frame:
    index: int  # position in the video (0 for an image)
    time: float  # seconds from the start
    image: np.ndarray  # (H, W, 3) uint8 RGB
    scale: float = 1.0  # decoded size / stored size (>1 when a huge frame was scaled down)


@dataclass
class MediaInfo:
    path: str
    kind: str  # "video" or "image"
    width: int
    height: int
    fps: float | None = None
    duration: float | None = None
    frame_count: int | None = None


def sniff_kind(path: str | os.PathLike) -> str | None:
    """'image', 'video' or None from the first bytes: names and extensions can lie."""
    with open(path, "rb") as fh:
        head = fh.read(32)
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM")):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    if head[4:8] == b"ftyp" or head[:4] == b"\x1a\x45\xdf\xa3" or (head[:4] == b"RIFF" and head[8:11] == b"AVI"):
        return "video"  # ISO BMFF (mp4/mov), Matroska/WebM, AVI
    if head[4:8] in (b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "video"  # old QuickTime without ftyp
    return None


def collect_media(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand folders (recursively, media files only, sorted, hidden files such as macOS `._x.jpg` left
    out); keep the files a user named as they are, so a bad one is reported rather than silently skipped."""
    out: list[Path] = []
    for p in map(Path, paths):
        found = sorted(f for f in p.rglob("*") if _is_media_name(f.relative_to(p)) and f.is_file()) if p.is_dir() else []
        if found:
            out.extend(found)
        else:
            out.append(p)
    return out


def _is_media_name(rel: Path) -> bool:
    return rel.suffix.lower() in VIDEO_SUFFIXES | IMAGE_SUFFIXES and not any(part.startswith(".") for part in rel.parts)


def _check_file(path: Path) -> str:
    """The sniffed kind; raises MediaError for what is not worth handing to a decoder, in the words that
    say what it is: a FIFO or a device never ends (and is not empty), a symlink loop is not a missing file."""
    try:
        st = path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise MediaError("symbolic link loop") from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise MediaError("no such file") from None
        raise MediaError(f"cannot read: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise MediaError("is a folder with no images or videos")
    if not stat.S_ISREG(st.st_mode):
        what = "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else (
            "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "a socket")
        raise MediaError(f"not a regular file ({what}); scan a saved copy")
    if st.st_size == 0:
        raise MediaError("empty file")
    try:
        kind = sniff_kind(path)
    except OSError as exc:
        raise MediaError(f"cannot read: {exc.strerror}") from None
    if kind is None:  # the same rule as the server's: what the bytes do not name is not handed to FFmpeg
        raise MediaError(f"not a readable image or video (its bytes are not {SUPPORTED_FORMATS})")
    return kind


def _ffmpeg_reason(exc: av.error.FFmpegError) -> str:
    """FFmpeg's own words without the errno and file name that str() adds."""
    return (exc.strerror or str(exc))[:80]


def _fit(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    h, w = image.shape[:2]
    scale = max(h, w) / max_side
    if scale <= 1:
        return image, 1.0
    # At least a pixel: a 1x9000 strip would round to nothing and OpenCV throws.
    small = cv2.resize(image, (max(1, round(w / scale)), max(1, round(h / scale))), interpolation=cv2.INTER_AREA)
    return small, scale


def _to_rgb(im: Image.Image) -> np.ndarray:
    """(H, W, 3) uint8 from any mode: grayscale, palette and alpha via PIL; 16-bit grayscale scaled down here,
    because PIL's convert clips it to 255 and a face becomes a white page."""
    if im.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):
        gray = (np.asarray(im, np.float32) / 257.0).clip(0, 255).round().astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    return np.asarray(im.convert("RGB"))


def _decode_bytes(im: Image.Image) -> int:
    """Peak bytes to decode `im` and make the RGB array: its own pixels (PIL keeps RGB as 4 bytes, 16-bit
    gray as 2, 1-bit as 1), an EXIF turn's copy, then the RGB image (4) and the array (3) side by side, and a
    byte more for 16-bit gray's float step."""
    own = 1 if im.mode in ("1", "L", "P") else 2 if im.mode.startswith("I;16") else 4
    # (A PNG's getexif() decodes the whole image when the EXIF is not ahead of the pixels: ask only then.)
    exif = im.getexif() if im.format != "PNG" or "exif" in im.info else {}
    turned = own if exif.get(ImageOps.ExifTags.Base.Orientation, 1) != 1 else 0
    return im.width * im.height * (own + turned + 8)


def _too_large(width: int, height: int, need: float) -> MediaError:
    return MediaError(f"image too large to scan safely: {width}x{height} pixels would need about "
                      f"{need / 2**30:.1f} GiB to decode (limit {IMAGE_MEMORY_BUDGET / 2**30:.1f} GiB)")


def _read_image(path: Path, max_side: int) -> tuple[MediaInfo, list[Frame]]:
    """Decode within IMAGE_MEMORY_BUDGET: a JPEG larger than `max_side` is decoded reduced (libjpeg scales
    by 1/2 to 1/8 while decoding); any other image is refused when its declared size would not fit. PIL's
    own MAX_IMAGE_PIXELS is left as the caller's program set it (by default PIL refuses over 179 Mpx)."""
    try:
        with warnings.catch_warnings():  # PIL warns over 89 Mpx; the budget below is what decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                stored = im.size
                if im.format == "JPEG" and max(stored) >= 2 * max_side:
                    im.draft("RGB", (max_side, max_side))
                need = _decode_bytes(im)
                if need > IMAGE_MEMORY_BUDGET:
                    raise _too_large(*stored, need)
                reduced = stored[0] / im.width
                im = ImageOps.exif_transpose(im)  # phone photos store rotation in EXIF
                rgb = _to_rgb(im)
    except Image.DecompressionBombError as exc:  # over PIL's own limit (2x MAX_IMAGE_PIXELS)
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(pixels[1]) / 1e6:.0f} megapixels" if pixels else "over PIL's limit"
        raise MediaError(f"image too large to scan safely ({size})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"not a readable image ({exc.__class__.__name__}: {str(exc)[:80]})") from None
    # The size as displayed: the stored size, turned when EXIF turned the picture.
    width, height = stored if (rgb.shape[0] > rgb.shape[1]) == (stored[1] > stored[0]) else stored[::-1]
    info = MediaInfo(str(path), "image", width, height)
    image, scale = _fit(rgb, max_side)
    return info, [Frame(0, 0.0, image, scale * reduced)]


def _frame_rgb(frame: av.VideoFrame, max_side: int) -> tuple[np.ndarray, float]:
    """RGB array with rotation metadata applied; the scale-down happens in FFmpeg's scaler when needed."""
    w, h = frame.width, frame.height
    scale = max(w, h) / max_side
    if scale > 1:
        rgb = frame.to_ndarray(format="rgb24", width=max(2, round(w / scale) // 2 * 2),
                               height=max(2, round(h / scale) // 2 * 2))
    else:
        rgb, scale = frame.to_ndarray(format="rgb24"), 1.0
    # PyAV: the counter-clockwise turn that displays the frame, truncated to an int (a matrix a hair off a
    # quarter turn reads -89), so snap it to the nearest quarter turn; `rot` is then clockwise.
    rot = round(-(getattr(frame, "rotation", 0) or 0) / 90) % 4 * 90
    if rot == 90:
        rgb = cv2.rotate(rgb, cv2.ROTATE_90_CLOCKWISE)
    elif rot == 180:
        rgb = cv2.rotate(rgb, cv2.ROTATE_180)
    elif rot == 270:
        rgb = cv2.rotate(rgb, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return np.ascontiguousarray(rgb), scale


def _targets(duration: float, num_frames: int | None, fps: float | None) -> list[float]:
    """Sample times: `num_frames` evenly spaced (centre of each slice), or every 1/fps seconds. Either way
    at most MAX_SAMPLES, spread over the whole video: `--fps 1` on a two-hour film would otherwise hold
    7,200 full frames in memory."""
    if fps:
        n = int(duration * fps)
        if n == 0:  # shorter than one period: the middle frame, not a time past the end
            return [duration / 2]
        if n <= MAX_SAMPLES:
            return [(i + 0.5) / fps for i in range(n)]
    else:
        n = max(1, num_frames or DEFAULT_NUM_FRAMES)
    n = min(n, MAX_SAMPLES)
    return [(i + 0.5) * duration / n for i in range(n)]


class _OffPlan(Exception):
    """Decoding did not give the frames the packets promised: decode the file again, every frame."""


@dataclass(frozen=True)
class _Clock:
    """A stream's timing, read the same way for its packets and for the frames they decode to."""
    time_base: float
    start: int  # the stream's first timestamp, in time_base units
    rate: float  # frames a second (25 when the stream does not say)

    @classmethod
    def of(cls, stream) -> _Clock:
        return cls(float(stream.time_base), stream.start_time or 0, float(stream.average_rate or 25))

    def seconds(self, pts: int) -> float:
        return pts * self.time_base - self.start * self.time_base


def _picks(timed: Iterable[tuple[float, T]], targets: list[float], rate: float) -> Iterator[tuple[float, T]]:
    """The sampling rule, written once: of (time, item) in presentation order, the first at each target
    (within half a frame), each item once however many targets it covers. Stops after the last target, so
    the frames after it are never decoded."""
    if not targets:
        return
    half, k = 0.5 / rate, 0
    for t, item in timed:
        if t + half >= targets[k]:
            yield t, item
            while k < len(targets) and t + half >= targets[k]:
                k += 1
            if k == len(targets):
                return


def _plan(path: Path, targets: list[float]) -> list[int] | None:
    """The pts of the frames the rule will sample, from the packets alone (a demux, nothing decoded): their
    timestamps sorted are the frames in presentation order. None when a packet has no timestamp or the file
    does not read to its end: then every frame is decoded, as the rule needs frame numbers or the decoder's
    own account of where the stream stops."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            pts = [p.pts for p in container.demux(stream) if p.size]
            clock = _Clock.of(stream)
    except (av.error.FFmpegError, UnicodeDecodeError, OSError):
        return None
    if not pts or None in pts:
        return None
    return [p for _, p in _picks(((clock.seconds(p), p) for p in sorted(pts)), targets, clock.rate)]


def _frames(container, stream, wanted: set[int] | None) -> Iterator[av.VideoFrame]:
    """The decoded frames in presentation order. With `wanted`, a packet whose pts is not in it is sent with
    skip_frame NONREF: the decoder still decodes it if other frames refer to it, and drops it otherwise.
    FFmpeg's frame threads copy skip_frame from this context as each packet is handed to a thread
    (pthread_frame.c, update_context_from_user), so the setting holds packet by packet."""
    if wanted is None:
        yield from container.decode(stream)
        return
    ctx = stream.codec_context
    for packet in container.demux(stream):
        ctx.skip_frame = "DEFAULT" if packet.pts in wanted else "NONREF"
        yield from packet.decode()


def _decode_sequential(container, stream, targets: list[float], max_side: int,
                       plan: list[int] | None = None) -> Iterator[Frame]:
    """Decode from the start and keep the frames `_picks` takes. With a `plan` (from `_plan`), frames outside
    it that nothing refers to are not decoded; the frames kept must then be the planned ones, in order,
    or _OffPlan is raised (also on a decoding error), and the caller decodes every frame instead. Kept
    frames being the planned ones proves they are what a full decode keeps: the frames skipped were none
    of the rule's picks, and skipping frames the rule passes over does not move its picks."""
    clock = _Clock.of(stream)

    def timed() -> Iterator[tuple[float, av.VideoFrame]]:
        last = None
        for i, frame in enumerate(_frames(container, stream, None if plan is None else set(plan))):
            if plan is not None:  # the proof needs frames in timestamp order, each with its own timestamp
                if frame.pts is None or (last is not None and frame.pts < last):
                    raise _OffPlan
                last = frame.pts
            yield (clock.seconds(frame.pts) if frame.pts is not None else i / clock.rate), frame

    n = 0
    try:
        for t, frame in _picks(timed(), targets, clock.rate):
            if plan is not None:
                if n == len(plan) or frame.pts != plan[n]:
                    raise _OffPlan
                n += 1
            rgb, scale = _frame_rgb(frame, max_side)
            yield Frame(round(t * clock.rate), t, rgb, scale)
    except av.error.FFmpegError:
        if plan is None:
            raise
        raise _OffPlan from None
    if plan is not None and n != len(plan):
        raise _OffPlan


def _decode_seeking(container, stream, targets: list[float], max_side: int) -> Iterator[Frame]:
    """Seek to each target, unless the keyframe the seek would land on is not past the frame decoded last:
    then decoding on is cheaper, and a stream with keyframes minutes apart is not decoded 32 times over."""
    tb = float(stream.time_base)
    start = float(stream.start_time or 0) * tb
    rate = float(stream.average_rate or 25)
    frames: Iterator | None = None
    pos: int | None = None  # pts of the frame decoded last
    for target in targets:
        want = int((target + start) / tb)
        i = stream.index_entries.search_timestamp(want, backward=True)  # -1 when the demuxer has no index
        keyframe = stream.index_entries[i].timestamp if i >= 0 else None
        if frames is None or pos is None or keyframe is None or keyframe > pos:
            container.seek(want, stream=stream, backward=True, any_frame=False)
            frames = container.decode(stream)
        for frame in frames:
            if frame.pts is None:
                continue
            pos = frame.pts
            t = frame.pts * tb - start
            if t + 0.5 / rate >= target:
                rgb, scale = _frame_rgb(frame, max_side)
                yield Frame(round(t * rate), t, rgb, scale)
                break


def _hms(text: str | None) -> float | None:
    """Matroska's DURATION tag, "HH:MM:SS.nnnnnnnnn", in seconds."""
    m = re.fullmatch(r"(\d+):(\d\d):(\d\d(?:\.\d+)?)", (text or "").strip())
    return int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]) if m else None


def _video_duration(container, stream) -> float | None:
    """Seconds of the video stream itself, from its first frame: not the container's length, which the
    audio can make longer (2 s of video in 60 s of sound), and not a timestamp that starts at +10,000 s.
    MP4 and MOV give the stream's own duration. Matroska does not: FFmpeg's muxer writes each stream's end
    time in a DURATION tag, and the container's length is likewise an end time, so the start comes off."""
    if stream.duration:
        return float(stream.duration * stream.time_base)
    start = float((stream.start_time or 0) * stream.time_base)
    matroska = "matroska" in (container.format.name or "")
    end = _hms(stream.metadata.get("DURATION")) if matroska else None
    if end is None and container.duration:
        end = container.duration / av.time_base
        if not matroska:  # FFmpeg's own estimate already counts from the start
            return end
    if end is not None:
        return end - start if end > start else end
    rate = float(stream.average_rate or stream.guessed_rate or 0)
    return stream.frames / rate if stream.frames and rate else None


def probe_duration(path: str | os.PathLike) -> float | None:
    """A video's duration from its headers (nothing is decoded), as a scan would judge it; None when the
    headers do not say or cannot be read (then the scan itself reports what is wrong with the file)."""
    try:
        with av.open(str(path)) as container:
            streams = container.streams.video
            return _video_duration(container, streams[0]) if streams else None
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError):
        return None


def _sample(container, stream, duration: float | None, targets: list[float], max_side: int,
            plan: list[int] | None = None) -> list[Frame]:
    frames: list[Frame] = []
    if duration and duration > SEEK_AFTER_SECONDS:
        decoded = _decode_seeking(container, stream, targets, max_side)
    else:  # also with no duration in the headers (some raw streams): the first frames
        decoded = _decode_sequential(container, stream, targets, max_side, plan)
    try:
        for frame in decoded:
            frames.append(frame)  # noqa: PERF402  (one by one: keep what decoded before an error)
    except av.error.FFmpegError as exc:
        if not frames:
            raise MediaError(f"video cannot be decoded: {_ffmpeg_reason(exc)}") from None
    return frames


def _open_video(path: Path):
    """The container and its first video stream, set up for decoding. (The bytes said video, so a file that
    does not open is damaged rather than something else.)"""
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        reason = _ffmpeg_reason(exc) if isinstance(exc, av.error.FFmpegError) else "unreadable header"
        raise MediaError(f"video cannot be opened (truncated or damaged?): {reason}") from None
    if not container.streams.video:
        what = "audio only" if container.streams.audio else "no video stream"
        container.close()
        raise MediaError(f"no video to scan ({what})")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    share = thread_share()
    if share is not None:  # a worker's share of the cores, counted by FFmpeg's own rule (one frame thread
        stream.codec_context.thread_count = share + 1 if share > 1 else 1  # more than cores, but 1 for 1)
    return container, stream


def _read_video(path: Path, num_frames: int | None, fps: float | None, max_side: int
                ) -> tuple[MediaInfo, list[Frame]]:
    container, stream = _open_video(path)
    with container:
        rate = float(stream.average_rate or stream.guessed_rate or 0) or None
        duration = _video_duration(container, stream)
        info = MediaInfo(str(path), "video", stream.codec_context.width, stream.codec_context.height,
                         fps=rate, duration=duration, frame_count=stream.frames or None)
        # No duration in the headers (some raw streams): the first frames, at the stream's rate.
        targets = (_targets(duration, num_frames, fps) if duration else
                   [i / (rate or 25) for i in range(num_frames or DEFAULT_NUM_FRAMES)])
        sequential = not duration or duration <= SEEK_AFTER_SECONDS
        plan = _plan(path, targets) if SKIP_UNSAMPLED and sequential else None
        try:
            frames = _sample(container, stream, duration, targets, max_side, plan)
        except _OffPlan:
            frames = None
    if frames is None:  # the decoder did not give the frames the packets promised: decode every frame
        container, stream = _open_video(path)
        with container:
            frames = _sample(container, stream, duration, targets, max_side)
    if not frames:
        raise MediaError("video has no decodable frames (truncated or corrupt?)")
    # Frames that stop well short of the duration the headers promise: a cut-off download. A verdict on
    # the first part only would pass for one on the whole video. (Slack: audio may outlast the video.)
    if duration and targets[-1] - (frames[-1].time + 1 / (rate or 25)) > max(1.0, 0.1 * duration):
        raise MediaError(f"video is truncated or damaged: frames stop at {frames[-1].time:.1f}s "
                         f"of {duration:.1f}s")
    # Report the size as displayed: the stored size, turned when rotation metadata turned the frames.
    h, w = frames[0].image.shape[:2]
    if h != w and (h > w) != (info.height > info.width):
        info.width, info.height = info.height, info.width
    return info, frames


def read_media(path: str | os.PathLike, num_frames: int | None = DEFAULT_NUM_FRAMES, fps: float | None = None,
               max_side: int = DEFAULT_MAX_SIDE) -> tuple[MediaInfo, list[Frame]]:
    """Decode an image, or sample frames from a video. Raises MediaError with a one-line reason."""
    path = Path(path)
    if _check_file(path) == "image":
        return _read_image(path, max_side)
    return _read_video(path, num_frames, fps, max_side)
