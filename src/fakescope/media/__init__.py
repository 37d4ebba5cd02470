"""Decoding: a path in, its kind, facts and a handful of evenly spaced RGB frames out."""

from fakescope.media.decode import (
    DEFAULT_MAX_SIDE,
    DEFAULT_NUM_FRAMES,
    IMAGE_SUFFIXES,
    SUPPORTED_FORMATS,
    VIDEO_SUFFIXES,
    Frame,
    MediaInfo,
    collect_media,
    probe_duration,
    read_media,
    sniff_kind,
)

__all__ = ["DEFAULT_MAX_SIDE", "DEFAULT_NUM_FRAMES", "IMAGE_SUFFIXES", "SUPPORTED_FORMATS", "VIDEO_SUFFIXES",
           "Frame", "MediaInfo", "collect_media", "probe_duration", "read_media", "sniff_kind"]
