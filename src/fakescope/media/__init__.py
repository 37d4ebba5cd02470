"""Decoding: a path in, its kind, facts and a handful of evenly spaced RGB frames out."""

from fakescope.media.decode import (
    DEFAULT_MAX_SIDE,
    DEFAULT_NUM_FRAMES,
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    Frame,
    MediaInfo,
    collect_media,
    read_media,
    sniff_kind,
)

__all__ = ["DEFAULT_MAX_SIDE", "DEFAULT_NUM_FRAMES", "IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "Frame", "MediaInfo",
           "collect_media", "read_media", "sniff_kind"]
