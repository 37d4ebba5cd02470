"""fakescope: is a face in this video or image manipulated?

    >>> import fakescope
    >>> result = fakescope.scan("clip.mp4")
    >>> print(result)            # the same summary `fakescope scan clip.mp4` prints
    >>> result.to_json()         # schema fakescope.scan/1
    >>> print(fakescope.inspect("clip.mp4"))  # Content Credentials and metadata only, no model

Importing fakescope does not import torch: the classifier (and torch with it) loads when a scan starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

from fakescope.errors import FakescopeError, MediaError, ModelError, OptionError

# FaceClassifier, ModelConfig and load_classifier come through fakescope.models' own lazy __getattr__: they
# (and torch) load on first use.
from fakescope.models import __getattr__ as __getattr__
from fakescope.models import create_model, list_models
from fakescope.options import ScanOptions
from fakescope.provenance import inspect
from fakescope.results import FileResult, PersonResult, ScanResult
from fakescope.scan import Scanner, scan

if TYPE_CHECKING:
    from fakescope.models import FaceClassifier, ModelConfig, load_classifier

__all__ = ["FaceClassifier", "FakescopeError", "FileResult", "MediaError", "ModelConfig", "ModelError",
           "OptionError", "PersonResult", "ScanOptions", "ScanResult", "Scanner", "__version__", "create_model",
           "inspect", "list_models", "load_classifier", "scan"]
