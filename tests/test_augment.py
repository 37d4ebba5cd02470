"""Training views damaged the way footage reaches users (train/augment.py `degrade`), for reals and fakes
alike: shape and type kept, every kind of damage reachable, and off by default."""

from __future__ import annotations

import numpy as np
import pytest

from fakescope.errors import FakescopeError
from fakescope.media.degrade import motion_blur
from fakescope.train.augment import augment, degrade
from fakescope.train.trainer import TrainConfig, _check_config


@pytest.fixture(scope="module")
def face(astronaut: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(astronaut[30:190, 170:330])


def test_degrade_keeps_shape_and_type_and_damages(face: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    views = [degrade(face, rng) for _ in range(40)]
    assert all(v.shape == face.shape and v.dtype == np.uint8 for v in views)
    assert np.mean([np.abs(v.astype(int) - face).mean() > 1 for v in views]) > 0.8
    grey = [v for v in views if np.array_equal(v[..., 0], v[..., 1]) and np.array_equal(v[..., 1], v[..., 2])]
    assert grey, "some views are greyscale"


def test_motion_blur_smears_along_its_angle() -> None:
    img = np.zeros((21, 21, 3), np.uint8)
    img[10, 10] = 255
    horizontal = motion_blur(img, 7, 0.0)
    assert (horizontal[10, 7:14, 0] > 0).all() and horizontal[7, 10, 0] == 0


def test_no_damage_unless_asked(face: np.ndarray) -> None:
    a = augment(face, 128, np.random.default_rng(3))
    b = augment(face, 128, np.random.default_rng(3), degrade_share=0.0)
    np.testing.assert_array_equal(a, b)
    assert augment(face, 128, np.random.default_rng(3), degrade_share=1.0).shape == (128, 128, 3)


def test_degrade_share_is_checked() -> None:
    with pytest.raises(FakescopeError, match="degrade"):
        _check_config(TrainConfig(degrade=1.5))


def test_tuning_norms_leaves_the_rest_of_the_backbone_frozen() -> None:
    import torch

    from fakescope.models import create_model, head_module
    from fakescope.train.trainer import _set_trainable

    module = create_model("efficientnet_lite0", pretrained=False)
    _set_trainable(module, frozen_backbone=False, tune="norms")
    trainable = {n for n, p in module.named_parameters() if p.requires_grad}
    head = {f"{module.default_cfg['head']}.{n}" for n, _ in head_module(module).named_parameters()}
    norms = {n for n, m in module.named_modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)}
    assert head <= trainable
    assert all(n in head or n.rsplit(".", 1)[0] in norms for n in trainable)
    assert any(n.rsplit(".", 1)[0] in norms for n in trainable)
    with pytest.raises(FakescopeError, match="tune"):
        _check_config(TrainConfig(tune="some"))
