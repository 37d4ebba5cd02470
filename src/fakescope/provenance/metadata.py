"""What a file says about itself, unsigned: container and codec, the software that wrote it, camera, time.

Videos are read with PyAV (container and stream tags: `encoder`, `handler_name`, QuickTime and Android keys),
images with PIL (EXIF, PNG text, XMP). Nothing here is decoded beyond the headers. Any of it can be
edited or stripped by anyone, so what comes out is facts and `hints` for a person to weigh, never a
verdict. GPS coordinates are never kept: only whether the file has them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from fakescope.provenance.text import clean

MAX_TAGS = 60
# Tags that hold a location: reported as `gps: true`, never copied.
LOCATION_TAGS = re.compile(r"location|gps|iso6709|latitude|longitude", re.IGNORECASE)
# What FFmpeg writes when it (re-)muxes or re-encodes: its library versions and its default handler names.
FFMPEG_ENCODER = re.compile(r"^(Lav[fc]\d|libavformat|libavcodec)", re.IGNORECASE)
FFMPEG_HANDLERS = ("VideoHandler", "SoundHandler")
# Software names of generative-AI and face-swap tools, matched only in software-like fields (not captions).
GENERATORS = re.compile(
    r"\b(DALL[-·· ]?E|Midjourney|Stable Diffusion|Firefly|Imagen|Gemini|ChatGPT|OpenAI|Sora|Runway(?:ML)?|"
    r"FLUX|ComfyUI|NovelAI|Ideogram|Kling|DeepFaceLab|FaceFusion|InvokeAI|Fooocus|HeyGen|Synthesia)\b",
    re.IGNORECASE)
XMP_SOURCE_TYPE = re.compile(rb"DigitalSourceType(?:>|=\"|\s*rdf:resource=\")\s*([^<\"\s]+)")
XMP_CREATOR_TOOL = re.compile(rb"CreatorTool(?:>|=\")([^<\"]{1,200})")
ORIENTATIONS = {1: "upright", 2: "mirrored", 3: "rotated 180°", 4: "flipped vertically",
                5: "mirrored and rotated 90° counter-clockwise", 6: "rotated 90° clockwise",
                7: "mirrored and rotated 90° clockwise", 8: "rotated 90° counter-clockwise"}

# EXIF tag numbers (base IFD, Exif IFD, GPS IFD).
MAKE, MODEL, SOFTWARE, DATETIME, ORIENTATION, ARTIST = 271, 272, 305, 306, 274, 315
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
DATETIME_ORIGINAL, USER_COMMENT, MAKER_NOTE = 36867, 37510, 37500


@dataclass
class Metadata:
    container: str | None = None  # "QuickTime / MOV", "Matroska / WebM", "JPEG", "PNG", ...
    brand: str | None = None  # ISO BMFF major brand ("isom", "qt  ", "mp42"): which tool family muxed it
    codec: str | None = None  # video codec ("h264", "hevc", ...); null for images
    audio_codec: str | None = None
    width: int | None = None  # stored size, before any rotation
    height: int | None = None
    encoder: str | None = None  # the `encoder` tag ("Lavf60.16.100" is FFmpeg)
    handler_name: str | None = None  # the video track's handler ("Core Media Video" on iPhones)
    software: str | None = None  # EXIF Software, XMP CreatorTool, QuickTime software, PNG Software
    creation_time: str | None = None  # as the file states it; not checked
    make: str | None = None  # camera or phone maker
    model: str | None = None
    gps: bool = False  # the file carries a location (never copied here)
    orientation: int | None = None  # EXIF orientation 1..8
    xmp_source_type: str | None = None  # an IPTC digital source type in unsigned XMP
    generation_settings: str | None = None  # a generator inferred from settings it left ("parameters", "workflow")
    tags: dict[str, str] = field(default_factory=dict)  # the other tags as stored (locations left out)
    error: str | None = None  # why (some of) the metadata could not be read

    @property
    def camera(self) -> str | None:
        if not (self.make or self.model):
            return None
        if self.make and self.model and self.model.lower().startswith(self.make.lower()):
            return self.model
        return " ".join(v for v in (self.make, self.model) if v)


def hints(meta: Metadata) -> list[str]:
    """Plain, labelled observations a person can weigh; none is a verdict on its own."""
    out = []
    tool = next((m.group(0) for v in (meta.software, meta.encoder, meta.tags.get("comment"))
                 if v and (m := GENERATORS.search(v))), None)
    if tool:
        out.append(f"created by {tool} (a generative-AI or face-swap tool named in the metadata)")
    if meta.generation_settings:
        out.append(f"created by {meta.generation_settings}")
    if meta.xmp_source_type:
        out.append(f"unsigned XMP metadata declare the source type {meta.xmp_source_type}")
    if (meta.encoder and FFMPEG_ENCODER.match(meta.encoder)) or meta.handler_name in FFMPEG_HANDLERS:
        sign = f"encoder {meta.encoder}" if meta.encoder else f"handler {meta.handler_name}"
        out.append(f"re-encoded by FFmpeg/Lavf ({sign})")
    if meta.camera:
        out.append(f"metadata name a camera: {meta.camera} (unsigned; any tool can write it)")
    elif not meta.error:
        out.append("no camera metadata")
    if meta.software and not tool and not meta.camera:  # a camera's software tag is its firmware
        out.append(f"last written by {meta.software}")
    return out


def read_metadata(path: str | os.PathLike, kind: str | None) -> Metadata:
    """Metadata of an image (`kind == "image"`, by its bytes) or of anything FFmpeg opens. Never raises."""
    try:
        return _read_image(path) if kind == "image" else _read_av(path)
    except Exception as exc:  # noqa: BLE001  (hostile headers: the scan goes on, the reason is kept)
        reason = getattr(exc, "strerror", None) or str(exc)  # FFmpeg's words, without the path
        return Metadata(error=clean(f"{type(exc).__name__}: {reason}", 200))


def _put_tag(meta: Metadata, key: object, value: object) -> None:
    key, text = clean(key, 60), clean(value, 200)
    if not key or not text:
        return
    if LOCATION_TAGS.search(key):
        meta.gps = True
    elif len(meta.tags) < MAX_TAGS and key not in meta.tags:
        meta.tags[key] = text


def _read_av(path: str | os.PathLike) -> Metadata:
    import av

    meta = Metadata()
    with av.open(str(path), metadata_errors="replace") as container:
        meta.container = clean(container.format.long_name or container.format.name, 80)
        tags = {str(k).lower(): v for k, v in container.metadata.items()}
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        if video is not None:
            meta.codec = clean(video.codec_context.name, 40)
            meta.width, meta.height = video.codec_context.width or None, video.codec_context.height or None
            vtags = {str(k).lower(): v for k, v in video.metadata.items()}
            meta.handler_name = clean(vtags.get("handler_name"), 80)
            tags.update({f"video.{k}": v for k, v in vtags.items()})
            tags.setdefault("encoder", vtags.get("encoder"))
        if audio is not None:
            meta.audio_codec = clean(audio.codec_context.name, 40)
    first = lambda *keys: next((clean(tags[k], 120) for k in keys if tags.get(k)), None)
    meta.brand = first("major_brand")
    meta.encoder = first("encoder", "video.encoder")
    meta.software = first("com.apple.quicktime.software", "software")
    meta.make = first("com.apple.quicktime.make", "com.android.manufacturer", "make")
    meta.model = first("com.apple.quicktime.model", "com.android.model", "model")
    meta.creation_time = first("com.apple.quicktime.creationdate", "creation_time", "date", "video.creation_time")
    used = {"major_brand", "encoder", "com.apple.quicktime.software", "software", "com.apple.quicktime.make",
            "com.android.manufacturer", "make", "com.apple.quicktime.model", "com.android.model", "model",
            "video.handler_name"}
    for k, v in tags.items():
        if k not in used and v:
            _put_tag(meta, k, v)
    return meta


def _read_image(path: str | os.PathLike) -> Metadata:
    from PIL import Image

    meta = Metadata()
    with Image.open(path) as im:  # lazy: reads the headers, not the pixels
        meta.container = clean(im.format, 20)
        meta.width, meta.height = im.size
        info = dict(im.info)
        # PIL looks for a PNG's EXIF after the pixels by decoding them all: only read EXIF found up front.
        exif = im.getexif() if im.format != "PNG" or "exif" in info else Image.Exif()
    meta.make, meta.model = clean(exif.get(MAKE), 80), clean(exif.get(MODEL), 80)
    meta.software = clean(exif.get(SOFTWARE), 120)
    orientation = exif.get(ORIENTATION)
    meta.orientation = orientation if isinstance(orientation, int) and orientation in ORIENTATIONS else None
    sub = exif.get_ifd(EXIF_IFD)
    meta.creation_time = clean(sub.get(DATETIME_ORIGINAL) or exif.get(DATETIME), 40)
    meta.gps = bool(exif.get_ifd(GPS_IFD))
    if sub.get(MAKER_NOTE):
        _put_tag(meta, "exif.maker_note", f"{len(sub[MAKER_NOTE])} bytes (camera maker's private data)")
    if exif.get(ARTIST):
        _put_tag(meta, "exif.artist", exif.get(ARTIST))
    comment = sub.get(USER_COMMENT)
    if isinstance(comment, bytes | str) and b"Steps:" in (comment if isinstance(comment, bytes) else comment.encode()):
        meta.generation_settings = "a Stable Diffusion web UI (generation parameters in the EXIF comment)"
    # PNG text chunks and the like: what image tools leave behind.
    for key in ("Software", "software"):
        if not meta.software and isinstance(info.get(key), str):
            meta.software = clean(info[key], 120)
    if isinstance(info.get("parameters"), str) and "Steps:" in info["parameters"]:
        meta.generation_settings = "a Stable Diffusion web UI (generation parameters in the PNG text)"
    elif isinstance(info.get("workflow"), str) or (isinstance(info.get("prompt"), str)
                                                   and info["prompt"].lstrip().startswith("{")):
        meta.generation_settings = "ComfyUI (its workflow is stored in the PNG text)"
    xmp = info.get("xmp") or info.get("XML:com.adobe.xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8", "replace")
    if isinstance(xmp, bytes):
        xmp = xmp[:1_000_000]
        if m := XMP_SOURCE_TYPE.search(xmp):
            meta.xmp_source_type = clean(m.group(1).decode("utf-8", "replace").rsplit("/", 1)[-1], 80)
        if (m := XMP_CREATOR_TOOL.search(xmp)) and not meta.software:
            meta.software = clean(m.group(1).decode("utf-8", "replace"), 120)
    for key in ("Comment", "comment", "Description", "Creation Time", "Author", "Title"):
        if isinstance(info.get(key), str):
            _put_tag(meta, key.lower(), info[key])
    return meta
