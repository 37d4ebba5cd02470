"""fakescope: is a face in this video or image manipulated?

    >>> import fakescope
    >>> result = fakescope.scan("clip.mp4")
    >>> print(result)            # the same summary `fakescope scan clip.mp4` prints
    >>> result.to_json()         # schema fakescope.scan/1
"""

__version__ = "0.1.0"

from fakescope.errors import FakescopeError, MediaError, ModelError
from fakescope.models import FaceClassifier, create_model, list_models, load_classifier
from fakescope.results import FileResult, PersonResult, ScanResult
from fakescope.scan import Scanner, scan

__all__ = ["FaceClassifier", "FakescopeError", "FileResult", "MediaError", "ModelError", "PersonResult",
           "ScanResult", "Scanner", "__version__", "create_model", "list_models", "load_classifier", "scan"]
