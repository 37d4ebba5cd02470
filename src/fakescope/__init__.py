"""fakescope: is a face in this video or image manipulated?

    >>> import fakescope
    >>> result = fakescope.scan("clip.mp4")
    >>> print(result)            # the same summary `fakescope scan clip.mp4` prints
    >>> result.to_json()         # schema fakescope.scan/2
    >>> print(fakescope.inspect("clip.mp4"))  # Content Credentials and metadata only, no model

Importing fakescope imports nothing heavy (no torch, no decoder): each name below loads from its module on
first use, so `fakescope --version` and a script's `import fakescope` are instant, and the classifier (and
torch, only when its ONNX graph is not cached yet) loads when a scan starts.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING

__version__ = "0.1.0"

from fakescope.errors import FakescopeError, MediaError, ModelError, OptionError

if TYPE_CHECKING:
    from fakescope.batch import scan_batch
    from fakescope.models import FaceClassifier, ModelConfig, create_model, list_models, load_classifier
    from fakescope.options import ScanOptions
    from fakescope.provenance import inspect
    from fakescope.results import FileResult, PersonResult, ScanResult
    from fakescope.scan import Scanner, scan

# name -> the module it is defined in (fakescope.models resolves its own lazy names)
_LAZY = {**dict.fromkeys(["FaceClassifier", "ModelConfig", "create_model", "list_models", "load_classifier"],
                         "fakescope.models"),
         **dict.fromkeys(["FileResult", "PersonResult", "ScanResult"], "fakescope.results"),
         "ScanOptions": "fakescope.options", "inspect": "fakescope.provenance", "Scanner": "fakescope.scan",
         "scan": "fakescope.scan", "scan_batch": "fakescope.batch"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value) -> None:
        # Importing the submodule fakescope.scan sets the package's `scan` to that module: keep the function.
        if name == "scan" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = ["FaceClassifier", "FakescopeError", "FileResult", "MediaError", "ModelConfig", "ModelError",
           "OptionError", "PersonResult", "ScanOptions", "ScanResult", "Scanner", "__version__", "create_model",
           "inspect", "list_models", "load_classifier", "scan", "scan_batch"]
