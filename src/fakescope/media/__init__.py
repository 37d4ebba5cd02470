"""Decoding: a path in, its kind, facts and a handful of evenly spaced RGB frames out."""

from fakescope.media.decode import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    Frame,
    MediaInfo,
    collect_media,
    read_media,
    sniff_kind,
)

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "Frame", "MediaInfo", "collect_media", "read_media",
           "sniff_kind"]
