"""Self-blended pseudo-fakes: the mask stays on the face, and only the masked pixels change."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakescope.train.sbi import face_hull, face_mask, self_blend
from fakescope.train.trainer import TrainConfig, _epoch_order, _make_batch, fake_share

SIZE = 192
# A face in the middle of a 192 px crop: right eye, left eye, nose, mouth corners (pixels).
LANDMARKS = np.array([[76, 80], [116, 80], [96, 100], [80, 120], [112, 120]], np.float64)
# Furthest the hull reaches (0.85 x inter-ocular distance x 1.1 to the sides, 0.8 x eye-mouth x 1.1 down),
# plus the largest dilation and blur radius: nothing of the mask may lie beyond this box.
REACH = 0.85 * 40 * 1.1 + 0.04 * SIZE + 2 * 0.04 * SIZE + 2
BOX = (96 - REACH, 96 + REACH, 80 - 0.6 * 40 * 1.1 - 0.12 * SIZE - 2, 120 + 0.8 * 40 * 1.1 + 0.12 * SIZE + 2)


@pytest.fixture(scope="module")
def face(astronaut: np.ndarray) -> np.ndarray:
    return cv2.resize(astronaut[0:300, 110:410], (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def outside_box(mask: np.ndarray) -> np.ndarray:
    x0, x1, y0, y1 = BOX
    yy, xx = np.mgrid[:SIZE, :SIZE]
    return (xx < x0) | (xx > x1) | (yy < y0) | (yy > y1)


@pytest.mark.parametrize("seed", range(12))
def test_mask_is_on_the_face_and_only_the_mask_changes(face: np.ndarray, seed: int) -> None:
    rng = np.random.default_rng(seed)
    out, mask = self_blend(face, (LANDMARKS / SIZE).reshape(-1), rng)
    assert out.shape == face.shape and out.dtype == np.uint8
    assert mask.shape == (SIZE, SIZE) and 0 <= mask.min() and mask.max() <= 1
    assert mask[100, 96] > 0, "the nose is always inside"
    assert not mask[outside_box(mask)].any(), "mask reaches beyond the face"
    assert (out[mask == 0] == face[mask == 0]).all(), "a pixel outside the mask changed"
    assert np.abs(out.astype(int) - face)[mask > 0.2].mean() > 1, "nothing visible was blended in"


def test_hull_covers_brows_to_chin(face: np.ndarray) -> None:
    hull = face_hull(LANDMARKS, np.random.default_rng(0)).reshape(-1, 2)
    assert hull[:, 1].min() < 80 - 15 and hull[:, 1].max() > 120 + 20  # above the eyes, below the mouth
    assert hull[:, 0].min() < 76 - 15 and hull[:, 0].max() > 116 + 15  # beyond the eyes on both sides


def test_without_landmarks_an_ellipse_in_the_middle(face: np.ndarray) -> None:
    for seed in range(6):
        out, mask = self_blend(face, None, np.random.default_rng(seed))
        assert mask[int(SIZE * 0.53), SIZE // 2] > 0
        corner = SIZE // 8  # an ellipse inscribed in the crop leaves its corners alone
        for ys in (slice(0, corner), slice(-corner, None)):
            for xs in (slice(0, corner), slice(-corner, None)):
                assert not mask[ys, xs].any()
        assert not mask[:, :4].any() and not mask[:, -4:].any() and not mask[:4].any()
        assert (out[mask == 0] == face[mask == 0]).all()


def test_same_seed_same_fake_other_seed_another(face: np.ndarray) -> None:
    lm = (LANDMARKS / SIZE).reshape(-1)
    a, _ = self_blend(face, lm, np.random.default_rng(3))
    b, _ = self_blend(face, lm, np.random.default_rng(3))
    c, _ = self_blend(face, lm, np.random.default_rng(4))
    assert (a == b).all() and (a != c).any()


def test_soft_edge_between_blend_and_original() -> None:
    mask = face_mask((SIZE, SIZE), LANDMARKS, np.random.default_rng(1))
    values = np.unique(np.round(mask[mask > 0], 3))
    assert len(values) > 10, "the boundary is blurred, not a hard cut"


def test_batches_mix_dataset_crops_and_pseudo_fakes(face: np.ndarray) -> None:
    images = np.stack([face] * 6)
    labels = np.array([0, 0, 0, 0, 1, 1], np.float32)
    config = TrainConfig(input_size=64, batch_size=8, pseudo_fakes=0.25)
    rng = np.random.default_rng(0)
    views, y = _make_batch(np.arange(6), images, labels, [None] * 6, np.flatnonzero(labels == 0), 2, config, rng)
    assert views.shape == (8, 64, 64, 3) and y.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    # 6 dataset crops a batch, a third of them fake, and 2 pseudo-fakes: (2 + 6/3) / 8 are fakes.
    assert fake_share(labels, config) == pytest.approx(0.5)
    sample = TrainConfig(balance="sample")
    order = _epoch_order(labels, "sample", rng)
    assert len(order) == 8 and (labels[order] == 1).sum() == 4 and fake_share(labels, sample) == 0.5


def synthetic_mesh(seed: int = 0) -> np.ndarray:
    """468 points shaped like a face mesh in a 192 px crop: an oval from the hairline (y 40) to the chin
    (y 170), with the points sbi.py reads by index put where a real mesh has them."""
    from fakescope.train.sbi import MESH_BROWS, MESH_EYES, MESH_MOUTH, MESH_NOSE_TIP

    rng = np.random.default_rng(seed)
    r, a = np.sqrt(rng.uniform(0, 1, 468)), rng.uniform(0, 2 * np.pi, 468)
    pts = np.stack([96 + 50 * r * np.cos(a), 105 + 65 * r * np.sin(a)], axis=1)
    pts[list(MESH_EYES)] = [[66, 80], [86, 80], [106, 80], [126, 80]]
    pts[list(MESH_MOUTH)] = [[96, 128], [96, 132]]
    pts[MESH_NOSE_TIP] = [96, 108]
    pts[list(MESH_BROWS)] = [[60 + 7 * i, 66] for i in range(5)] + [[104 + 7 * i, 66] for i in range(5)]
    return pts


def test_mesh_mask_follows_the_mesh_and_sometimes_the_forehead(face: np.ndarray) -> None:
    """The mask lies on the mesh's hull (grown at most by the dilation and blur), always covers the face
    between brows and chin, and covers the forehead above the brows in some masks, not in others."""
    pts = synthetic_mesh()
    hull = cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2)
    grown = np.zeros((SIZE, SIZE), np.uint8)
    cv2.fillConvexPoly(grown, np.round(hull).astype(np.int32), 1)
    reach = int(0.05 * 50 + 0.04 * SIZE + 2 * 0.04 * SIZE + 3)  # vertex push, dilation, blur
    grown = cv2.dilate(grown, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))
    forehead = []
    for seed in range(16):
        out, mask = self_blend(face, pts / SIZE, np.random.default_rng(seed))
        assert not mask[grown == 0].any(), "mask reaches beyond the mesh"
        assert mask[100, 96] > 0 and mask[150, 96] > 0, "nose and chin are always inside"
        assert (out[mask == 0] == face[mask == 0]).all()
        forehead.append(mask[48, 96] > 0)
    assert any(forehead) and not all(forehead), forehead


def test_five_points_and_mesh_points_are_told_apart(face: np.ndarray) -> None:
    five = self_blend(face, (LANDMARKS / SIZE).reshape(-1), np.random.default_rng(3))[1]
    mesh = self_blend(face, synthetic_mesh() / SIZE, np.random.default_rng(3))[1]
    assert five.shape == mesh.shape and not np.array_equal(five > 0, mesh > 0)


@pytest.mark.parametrize("points", ["five", "mesh", "none"])
def test_lower_face_blends_stay_below_the_eyes(face: np.ndarray, points: str) -> None:
    """--lower-face masks cover mouth and chin and leave brows and forehead as they were, from 5 landmarks,
    a mesh or the ellipse; the eyes get far less of the blend than the mouth."""
    landmarks = {"five": (LANDMARKS / SIZE).reshape(-1), "mesh": synthetic_mesh() / SIZE, "none": None}[points]
    for seed in range(12):
        out, mask = self_blend(face, landmarks, np.random.default_rng(seed), lower_face=1.0)
        assert mask[120, 96] > 0 and mask[140, 96] > 0, "mouth and chin are always inside"
        assert not mask[:60].any(), "a lower-face blend reached the brows"
        assert mask[80, 76] < 0.5 * mask[124, 96] and mask[80, 116] < 0.5 * mask[124, 96]
        assert (out[mask == 0] == face[mask == 0]).all()


def test_lower_face_share_mixes_both_kinds(face: np.ndarray) -> None:
    lm = (LANDMARKS / SIZE).reshape(-1)
    brows = [self_blend(face, lm, np.random.default_rng(seed), lower_face=0.5)[1][62, 96] > 0 for seed in range(24)]
    assert any(brows) and not all(brows), brows
    # No share, no extra draw: the same seed still makes the same whole-face fake as before the option existed.
    a, _ = self_blend(face, lm, np.random.default_rng(7))
    b, _ = self_blend(face, lm, np.random.default_rng(7), lower_face=0.0)
    assert (a == b).all()


def test_lower_face_share_out_of_range_is_refused() -> None:
    from fakescope.errors import FakescopeError
    from fakescope.train.trainer import _check_config

    with pytest.raises(FakescopeError, match="lower-face is the share"):
        _check_config(TrainConfig(lower_face=1.5))


def test_unknown_masks_are_refused() -> None:
    from fakescope.errors import FakescopeError
    from fakescope.train.trainer import _check_config

    with pytest.raises(FakescopeError, match="masks must be one of five, mesh"):
        _check_config(TrainConfig(masks="dlib"))
