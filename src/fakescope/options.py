"""Every knob of a scan, with its one default: `ScanOptions`.

`Scanner`, `fakescope.scan()`, the CLI (whose flags are made from these fields), the web server and
`fakescope evaluate` all read them from here, so adding a knob is adding one field below (with a `flag` if
the command line should have it). Values are checked when the options are made, before any model loads.
"""

from __future__ import annotations

import difflib
import inspect
import os
from collections.abc import Callable, Sequence
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from typing import Any

from fakescope.aggregate import AGGREGATIONS, DEFAULT_AGGREGATE, MIN_FACE
from fakescope.errors import OptionError
from fakescope.faces import DEFAULT_DETECTOR, list_detectors
from fakescope.media import DEFAULT_MAX_SIDE, DEFAULT_NUM_FRAMES
from fakescope.provenance.credentials import load_trust_anchors

EVIDENCE_FRAMES = 4  # heatmaps per file in an HTML report (the CLI's --report, the web page)


def _option(default: Any, help: str, flag: str | None = None, type: Callable | None = None,
            choices: Callable[[], Sequence[str]] | None = None, metavar: str | None = None) -> Any:
    """A field with what its command-line flag needs; `choices` is called when the parser is built."""
    return field(default=default, metadata={"help": help, "flag": flag, "type": type, "choices": choices,
                                            "metavar": metavar})


@dataclass(frozen=True)
class ScanOptions:
    """How files are scanned (not which model: that is `Scanner(model=...)`)."""

    num_frames: int = _option(DEFAULT_NUM_FRAMES, "frames sampled evenly per video", "--frames", int, metavar="N")
    fps: float | None = _option(None, "sample this many frames per second instead of --frames", "--fps", float,
                                metavar="F")
    threshold: float | None = _option(None, "p_fake at or above which a face is FAKE (default: the model's)",
                                      "--threshold", float, metavar="T")
    aggregate: str = _option(DEFAULT_AGGREGATE, "how a person's frame scores are combined", "--aggregate",
                             choices=lambda: AGGREGATIONS)
    detector: str = _option(DEFAULT_DETECTOR, "face detector", "--detector", choices=list_detectors)
    max_side: int = _option(DEFAULT_MAX_SIDE, "frames larger than this (pixels) are scaled down on decode")
    min_face: int = _option(MIN_FACE, "a face smaller than this (pixels, the shorter side of its box) is "
                            "UNCERTAIN: too small to judge", "--min-face", int, metavar="PX")
    keep_crops: bool = _option(False, "attach the face crops the model saw to each result (not in JSON)")
    evidence: int = _option(0, "Grad-CAM heatmaps of this many most suspicious face crops per file, for the "
                               f"HTML report (True: {EVIDENCE_FRAMES}; 0: none)")
    trust_anchors: str | None = _option(None, "certificates (PEM) whose Content Credentials signers count as "
                                        "trusted; without it a good signature reads 'signer not on a trust list "
                                        "known here' (nothing is downloaded)", "--trust-anchors", str, metavar="PEM")

    def __post_init__(self) -> None:
        if self.evidence is True:
            object.__setattr__(self, "evidence", EVIDENCE_FRAMES)
        _whole(self, "num_frames", 1)
        _whole(self, "max_side", 1)
        _whole(self, "min_face", 0)
        _whole(self, "evidence", 0)
        if self.fps is not None and not (_is_number(self.fps) and self.fps > 0):
            raise OptionError("fps must be above 0")
        if self.threshold is not None and not (_is_number(self.threshold) and 0 <= self.threshold <= 1):
            raise OptionError("threshold must be between 0 and 1")
        if self.aggregate not in AGGREGATIONS:
            raise OptionError(f"aggregate must be one of {', '.join(AGGREGATIONS)}, got {self.aggregate!r}")
        if self.detector not in list_detectors():
            raise OptionError(f"unknown face detector {self.detector!r}; known: {', '.join(list_detectors())}")
        if not isinstance(self.keep_crops, bool):
            raise OptionError(f"keep_crops must be True or False, got {self.keep_crops!r}")
        if self.trust_anchors is not None:  # a readable PEM file with certificates, or a one-line error now
            object.__setattr__(self, "trust_anchors", os.fspath(self.trust_anchors))
            load_trust_anchors(self.trust_anchors)

    @classmethod
    def build(cls, options: ScanOptions | None = None, **changes: Any) -> ScanOptions:
        """`options` (default: the defaults) with `changes`; an unknown name is an OptionError that says
        which names exist, with the closest one first."""
        known = [f.name for f in fields(cls)]
        for name in changes:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise OptionError(f"unknown scan option {name!r} ({hint}options: {', '.join(known)})")
        return replace(options or cls(), **changes)


def cli_fields() -> list[Field]:
    """The options that have a command-line flag, in the order `--help` lists them."""
    return [f for f in fields(ScanOptions) if f.metadata.get("flag")]


def with_options_signature(function: Callable) -> Callable:
    """Show the options as keyword arguments of `function` (which takes them as **options) in `help()`,
    `inspect.signature` and notebooks, so they are as discoverable as written-out parameters."""
    sig = inspect.signature(function)
    params = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    params += [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=f.type,
                                 default=f.default if f.default is not MISSING else inspect.Parameter.empty)
               for f in fields(ScanOptions)]
    function.__signature__ = sig.replace(parameters=params)
    return function


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(options: ScanOptions, name: str, minimum: int) -> None:
    value = getattr(options, name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise OptionError(f"{name} must be a whole number, got {value!r}")
    if value < minimum:
        raise OptionError(f"{name} must be at least {minimum}")
