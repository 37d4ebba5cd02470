"""Score labelled data with a classifier: face crops (frame level) or whole videos through the scan
pipeline (video level). The two levels are never mixed: every figure built on these says which it is."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fakescope.data import CropItem, load_crop_images
from fakescope.models import FaceClassifier
from fakescope.results import FileResult
from fakescope.scan import Scanner


def crop_logits(classifier: FaceClassifier, items: Sequence[CropItem], chunk: int = 512) -> np.ndarray:
    """Raw logit per crop (before the temperature); each crop is resized whole to the model's input, as in
    training."""
    size = classifier.config.input_size
    out = [classifier.logits(load_crop_images(items[i:i + chunk], size)) for i in range(0, len(items), chunk)]
    return np.concatenate(out) if out else np.zeros(0)


def score_crops(classifier: FaceClassifier, items: Sequence[CropItem], chunk: int = 512) -> np.ndarray:
    """Calibrated fake probability per crop."""
    return classifier.probability(crop_logits(classifier, items, chunk))


def score_videos(scanner: Scanner, paths: Sequence[str | Path]) -> list[FileResult]:
    """One FileResult per video; a video with no face or an error keeps its verdict and no probability."""
    return [scanner.scan_file(p) for p in paths]
