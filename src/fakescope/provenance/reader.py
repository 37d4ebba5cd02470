"""Provenance of one file (Content Credentials + metadata + hints), and `inspect`, which reads only that.

The face model's verdict stays the verdict; provenance sits beside it. A valid manifest that declares
generative AI is said first (`Provenance.headline`); an absent manifest is said plainly and is no evidence
of anything: most genuine files carry none.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fakescope.errors import FakescopeError, MediaError
from fakescope.filelist import FileList
from fakescope.provenance.credentials import (
    ABSENT,
    INVALID,
    SOURCE_TYPES,
    UNTRUSTED,
    Credentials,
    CredentialsReader,
    Ingredient,
)
from fakescope.provenance.metadata import ORIENTATIONS, Metadata, hints, read_metadata

PROVENANCE_SCHEMA = "fakescope.provenance/1"
INSPECT_SCHEMA = "fakescope.inspect/1"


def _source(kind: str) -> str:
    return f"{SOURCE_TYPES[kind]} ({kind})" if kind in SOURCE_TYPES else kind


def _actions(actions: list[str]) -> str:
    return ", ".join(a.removeprefix("c2pa.") for a in actions)


def _summary(c: Credentials) -> str:
    """One line: what the Content Credentials say, and how far to believe them."""
    signed = f"signed by {c.signer}; " if c.signer else ""
    if c.ai_declared:
        what = "this file" if c.ai_where == "this file" else f"an {c.ai_where}"
        tool = f", made with {c.software_agents[0]}" if c.software_agents and c.ai_where == "this file" else ""
        return f"Content Credentials declare {what} {_source(c.ai_source_type)}{tool}; {signed}{c.message}"
    if not c.present:
        return c.message
    said = " ".join(s for s in (_actions(c.actions), f"with {c.claim_generator}" if c.claim_generator else "") if s)
    if c.digital_source_types:
        said += f" (source: {', '.join(_source(t) for t in c.digital_source_types)})"
    line = f"Content Credentials{': ' + said.strip() if said.strip() else ''}; {signed}{c.message}"
    if c.state == INVALID and c.ai_source_type:
        line += f"; they claim {_source(c.ai_source_type)}, which a broken signature cannot vouch for"
    return line


@dataclass
class Provenance:
    """Everything fakescope reads about where a file came from. JSON schema `fakescope.provenance/1`."""

    credentials: Credentials
    metadata: Metadata
    hints: list[str] = field(default_factory=list)
    ai_declared: bool = False  # valid (or trusted) Content Credentials declare generative AI
    summary: str = ""  # one line for people: the credentials first
    schema: str = PROVENANCE_SCHEMA

    @classmethod
    def of(cls, credentials: Credentials, metadata: Metadata) -> Provenance:
        return cls(credentials, metadata, hints(metadata), credentials.ai_declared, _summary(credentials))

    @property
    def headline(self) -> str | None:
        """The line said before the face verdict: only when valid credentials declare generative AI."""
        return self.summary if self.ai_declared else None

    def to_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        """The whole of it for a person, one fact per line (`fakescope inspect`)."""
        c, m = self.credentials, self.metadata
        out = [f"Content Credentials: {c.message}" if c.present else c.message[:1].upper() + c.message[1:]]
        if c.state == ABSENT:
            out[0] += " (most files carry none: this is not evidence of manipulation)"
        if c.ai_source_type:
            out.append(f"  declares: {_source(c.ai_source_type)}, in {c.ai_where}")
        if c.signer:
            out.append(f"  signed by: {c.signer}" + (f", at {c.signer.time}" if c.signer.time else ""))
        if c.claim_generator:
            out.append(f"  made with: {c.claim_generator}")
        if c.actions:
            out.append(f"  actions: {_actions(c.actions)}")
        if c.software_agents:
            out.append(f"  tools: {', '.join(c.software_agents)}")
        others = [t for t in c.digital_source_types if not (t == c.ai_source_type and c.ai_where == "this file")]
        if others:
            out.append(f"  source: {', '.join(_source(t) for t in others)}")
        out.extend(_ingredient_lines(c.ingredients, "  "))
        out.extend(f"  failed: {r.code}" + (f" ({r.explanation})" if r.explanation else "") for r in c.reasons
                   if r.code != UNTRUSTED)  # the message says that already
        out.append(f"Metadata: {_format(m)}")
        facts = [f"camera {m.camera}" if m.camera else "",
                 f"software {m.software}" if m.software else "",
                 f"created {m.creation_time}" if m.creation_time else "",
                 "GPS location present (not shown)" if m.gps else "",
                 f"orientation {m.orientation} ({ORIENTATIONS[m.orientation]})" if m.orientation else ""]
        if any(facts):
            out.append("  " + " · ".join(f for f in facts if f))
        if m.error:
            out.append(f"  could not read all of it: {m.error}")
        if self.hints:
            out.append("Hints (to weigh, not a verdict): " + "; ".join(self.hints))
        return out

    def brief(self) -> list[str]:
        """Two lines for the scan summary, under the face verdict."""
        out = [f"provenance: {self.summary}"] if not self.ai_declared else []
        if self.hints:
            out.append("hints: " + "; ".join(self.hints))
        return out


def _format(m: Metadata) -> str:
    parts = [m.container or "unknown format"]
    if m.brand:
        parts[0] += f" (brand {m.brand.strip()})"
    codecs = " + ".join(c for c in (m.codec, m.audio_codec) if c)
    if codecs:
        parts.append(codecs)
    if m.width and m.height:
        parts.append(f"{m.width}×{m.height}")
    if m.encoder:
        parts.append(f"encoder {m.encoder}")
    if m.handler_name:
        parts.append(f"handler {m.handler_name}")
    return ", ".join(parts)


def _ingredient_lines(ingredients: list[Ingredient], indent: str) -> list[str]:
    out = []
    for ing in ingredients:
        said = [ing.claim_generator or "", _actions(ing.actions),
                ", ".join(_source(t) for t in ing.digital_source_types)]
        said = "; ".join(s for s in said if s) or ("manifest" if ing.has_manifest else "no Content Credentials")
        out.append(f"{indent}ingredient {ing.title or '(untitled)'} ({ing.relationship or 'related'}): {said}")
        out.extend(_ingredient_lines(ing.ingredients, indent + "  "))
    return out


def _check_file(path: Path) -> str | None:
    """The sniffed kind; MediaError for what is not a readable regular file (a FIFO or device would block)."""
    from fakescope.media import sniff_kind

    try:
        if not path.exists():
            raise MediaError("no such file")
        if path.is_dir():
            raise MediaError("is a folder with no images or videos")
        if not path.is_file():
            raise MediaError("not a regular file")
        if path.stat().st_size == 0:
            raise MediaError("empty file")
        return sniff_kind(path)
    except OSError as exc:
        raise MediaError(f"cannot read: {exc.strerror}") from None


class ProvenanceReader:
    """Reads a file's provenance; holds the trust anchors, so a batch loads them once.

    `read` raises MediaError only when the file cannot be opened at all; everything about its contents
    (hostile manifests, broken headers) ends up inside the Provenance, with a one-line reason."""

    def __init__(self, trust_anchors: str | os.PathLike | None = None) -> None:
        self.credentials = CredentialsReader(trust_anchors)

    def read(self, path: str | os.PathLike) -> Provenance:
        path = Path(path)
        kind = _check_file(path)
        return Provenance.of(self.credentials.read(path), read_metadata(path, kind))

    def try_read(self, path: str | os.PathLike) -> Provenance | None:
        """`read`, or None for a file that cannot be opened (the scan says why)."""
        try:
            return self.read(path)
        except FakescopeError:
            return None


@dataclass
class InspectedFile:
    path: str
    provenance: Provenance | None
    error: str | None = None  # the file could not be opened at all

    @property
    def ok(self) -> bool:
        return self.error is None

    def __str__(self) -> str:
        if self.error:
            return f"{self.path}: error: {self.error}"
        return "\n".join([self.path, *("  " + line for line in self.provenance.lines())])


@dataclass
class InspectResult(FileList[InspectedFile]):
    """What `fakescope inspect` returns: prints itself, becomes JSON (schema `fakescope.inspect/1`)."""

    files: list[InspectedFile]
    version: str = ""

    def to_dict(self) -> dict:
        return {"schema": INSPECT_SCHEMA, "fakescope_version": self.version,
                "files": [asdict(f) for f in self.files]}

    def __str__(self) -> str:
        return "\n".join(str(f) for f in self.files)


def inspect(paths: str | os.PathLike | Iterable[str | os.PathLike], *,
            trust_anchors: str | os.PathLike | None = None) -> InspectResult:
    """Content Credentials and metadata of files and folders, without loading a model:
    `fakescope.inspect("clip.mp4")`. `trust_anchors`: a PEM file of signers' root certificates to trust."""
    from fakescope import __version__
    from fakescope.media import collect_media

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    reader = ProvenanceReader(trust_anchors)
    files = []
    for path in collect_media(paths):
        try:
            files.append(InspectedFile(str(path), reader.read(path)))
        except FakescopeError as exc:
            files.append(InspectedFile(str(path), None, str(exc)))
    return InspectResult(files, __version__)


__all__ = ["INSPECT_SCHEMA", "PROVENANCE_SCHEMA", "InspectResult", "InspectedFile", "Provenance",
           "ProvenanceReader", "inspect"]
