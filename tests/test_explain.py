"""Grad-CAM heatmaps (fakescope.models.explain): right shape and range, the same maps as textbook Grad-CAM
through the model's full forward pass, all-zero where nothing points to FAKE, and an overlay that shows.
Every registered architecture gets a heatmap in test_registries.py."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from fakescope.models import FaceClassifier, ModelConfig, create_model
from fakescope.models.explain import _upsample, gradcam, overlay_heatmap


@pytest.fixture(scope="module")
def classifier(tiny_model_path) -> FaceClassifier:
    return FaceClassifier.load(tiny_model_path)


@pytest.fixture(scope="module")
def crops(astronaut: np.ndarray) -> np.ndarray:
    """Three different 128 px crops: the face, the face shifted and zoomed, and the lower-right corner."""
    face = astronaut[30:250, 140:360]
    return np.stack([cv2.resize(c, (128, 128), interpolation=cv2.INTER_AREA)
                     for c in (face, astronaut[10:300, 100:390], astronaut[300:512, 300:512])])


def _textbook_gradcam(clf: FaceClassifier, crops: np.ndarray) -> np.ndarray:
    """Grad-CAM as published: hook the last feature map in the model's own forward, backprop the logit."""
    module = clf.module
    acts: list[torch.Tensor] = []
    # The EfficientNet's activation module runs last on the head's conv map: its final output is that map.
    handle = module._swish.register_forward_hook(lambda _m, _i, out: acts.append(out))
    try:
        x = torch.from_numpy(clf.preprocess(crops))
        logits = module(x).reshape(-1)
    finally:
        handle.remove()
    grads = torch.autograd.grad(logits.sum(), acts[-1])[0]
    cams = torch.relu((grads.mean(dim=(2, 3), keepdim=True) * acts[-1]).sum(1)).detach().numpy()
    return np.stack([_upsample(c / c.max(), 128) if c.max() > 0 else np.zeros((128, 128), np.float32) for c in cams])


def test_heatmaps_are_textbook_gradcam(classifier: FaceClassifier, crops: np.ndarray) -> None:
    heat = gradcam(classifier, crops)
    assert heat.shape == (3, 128, 128) and heat.dtype == np.float32
    assert heat.min() >= 0 and heat.max() <= 1
    nonzero = [h for h in heat if h.max() > 0]
    assert nonzero and all(h.max() == pytest.approx(1.0) for h in nonzero)
    np.testing.assert_allclose(heat, _textbook_gradcam(classifier, crops), atol=1e-4)
    # The map depends on the picture: different crops, different places.
    assert np.abs(heat[0] - heat[2]).mean() > 0.05


def test_no_evidence_gives_an_empty_map(crops: np.ndarray) -> None:
    m = create_model("efficientnet_lite0", pretrained=True)
    torch.nn.init.zeros_(m._fc.weight)  # the logit no longer depends on the picture at all
    clf = FaceClassifier(m, ModelConfig.from_module("efficientnet_lite0", m))
    assert not gradcam(clf, crops).any()


def test_bad_input_is_refused(classifier: FaceClassifier, crops: np.ndarray) -> None:
    with pytest.raises(ValueError, match="crops must be"):
        gradcam(classifier, crops[:, :64, :64])
    with pytest.raises(ValueError, match="crops must be"):
        gradcam(classifier, crops[0])


def test_overlay_tints_where_the_heat_is(crops: np.ndarray) -> None:
    heat = np.zeros((128, 128), np.float32)
    heat[:, 64:] = 1.0  # right half hot
    out = overlay_heatmap(crops[0], heat)
    assert out.shape == crops[0].shape and out.dtype == np.uint8
    change = np.abs(out.astype(int) - crops[0]).mean(axis=2)
    assert change[:, 80:].mean() > 3 * change[:, :48].mean()
    def redness(img: np.ndarray) -> float:
        return float((img[..., 0].astype(int) - img[..., 2]).mean())

    assert redness(out[:, 80:]) > redness(crops[0][:, 80:]) + 20  # hot is red
    assert redness(out[:, :48]) < redness(crops[0][:, :48])  # cold leans blue
