"""Provenance: what a file says about where it came from, beside the face model's verdict.

Two sources, read without decoding a frame or loading a model:

- C2PA Content Credentials (`credentials`): signed manifests that cameras, editors and AI generators
  write; whether one is present and valid, who signed it, what it declares (created, edited, AI-generated).
- The file's own metadata (`metadata`): container, codec, encoder and software tags, camera, creation
  time, GPS present or not; and plain hints drawn from them ("re-encoded by FFmpeg/Lavf").

    >>> from fakescope.provenance import inspect
    >>> print(inspect("photo.jpg"))            # what `fakescope inspect photo.jpg` prints

This package imports nothing above it (scan, report, server) and loads c2pa only when a file is read.
"""

from fakescope.provenance.credentials import AI_SOURCE_TYPES, STATES, Credentials, CredentialsReader
from fakescope.provenance.metadata import Metadata
from fakescope.provenance.reader import (
    INSPECT_SCHEMA,
    PROVENANCE_SCHEMA,
    InspectedFile,
    InspectResult,
    Provenance,
    ProvenanceReader,
    inspect,
)

__all__ = ["AI_SOURCE_TYPES", "INSPECT_SCHEMA", "PROVENANCE_SCHEMA", "STATES", "Credentials", "CredentialsReader",
           "InspectResult", "InspectedFile", "Metadata", "Provenance", "ProvenanceReader", "inspect"]
