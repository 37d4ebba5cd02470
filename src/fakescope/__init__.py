"""fakescope: is a face in this video or image manipulated?

    >>> import fakescope
    >>> result = fakescope.scan("clip.mp4")
    >>> print(result)            # the same summary `fakescope scan clip.mp4` prints
    >>> result.to_json()         # schema fakescope.scan/1

Importing fakescope does not import torch: the classifier (and torch with it) loads when a scan starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from fakescope.errors import FakescopeError, MediaError, ModelError, OptionError
from fakescope.options import ScanOptions
from fakescope.results import FileResult, PersonResult, ScanResult
from fakescope.scan import Scanner, scan

if TYPE_CHECKING:
    from fakescope.models import FaceClassifier, create_model, list_models, load_classifier

_FROM_MODELS = {"FaceClassifier", "create_model", "list_models", "load_classifier"}


def __getattr__(name: str) -> Any:
    """The model API, imported on first use (it needs torch)."""
    if name in _FROM_MODELS:
        from fakescope import models

        return getattr(models, name)
    raise AttributeError(f"module 'fakescope' has no attribute {name!r}")


__all__ = ["FaceClassifier", "FakescopeError", "FileResult", "MediaError", "ModelError", "OptionError",
           "PersonResult", "ScanOptions", "ScanResult", "Scanner", "__version__", "create_model", "list_models",
           "load_classifier", "scan"]
