"""The crop policy: one square around the detector's box, the same at training and at scan time."""

from __future__ import annotations

import cv2
import numpy as np

from fakescope.faces.base import Face

# The crop side over the longer side of the detector's face box. 0.9 matches the tight DFDC crops the default
# model learnt from (brows to chin). The one default for scan, prepare, training and a checkpoint that does
# not record its margin; a checkpoint that does is cropped its own way.
CROP_MARGIN = 0.9


def crop_box(face: Face, margin: float) -> tuple[int, int, int]:
    """Square (x0, y0, side): `margin` times the longer side of the face box, centred on it."""
    cx, cy = face.center
    side = max(2, round(max(face.box[2], face.box[3]) * margin))
    return round(cx - side / 2), round(cy - side / 2), side


def crop_face(image: np.ndarray, face: Face, size: int, margin: float = CROP_MARGIN) -> np.ndarray:
    """(size, size, 3) crop; parts outside the frame are filled by replicating the border."""
    x0, y0, side = crop_box(face, margin)
    h, w = image.shape[:2]
    pad = max(0, -x0, -y0, x0 + side - w, y0 + side - h)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0 = x0 + pad, y0 + pad
    patch = image[y0:y0 + side, x0:x0 + side]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)
