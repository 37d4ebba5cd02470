"""The model interface, checked for every registered architecture (parametrised over `list_models()`, so a
new backbone is tested by being registered): `forward == forward_head(forward_features)`, a named head that
freezing leaves trainable, Grad-CAM evidence of the right shape, ONNX export agreeing with torch, and a
checkpoint round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from fakescope.models import FaceClassifier, ModelConfig, create_model, head_module, list_models
from fakescope.models.explain import gradcam
from fakescope.train.trainer import _set_trainable


@pytest.fixture(scope="module", params=list_models())
def model(request) -> tuple[str, nn.Module]:
    torch.manual_seed(0)
    return request.param, create_model(request.param, pretrained=False).eval()


def _inputs(module: nn.Module, n: int = 2) -> torch.Tensor:
    size = module.default_cfg["input_size"]
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(1))


def test_config_names_what_the_pipeline_needs(model) -> None:
    _, module = model
    cfg = module.default_cfg
    assert {"input_size", "mean", "std", "head"} <= set(cfg)
    assert len(cfg["mean"]) == len(cfg["std"]) == 3 and min(cfg["std"]) > 0
    assert isinstance(head_module(module), nn.Module) and list(head_module(module).parameters())


def test_forward_is_head_of_features(model) -> None:
    _, module = model
    x = _inputs(module)
    with torch.no_grad():
        features = module.forward_features(x)
        logits = module(x)
        np.testing.assert_allclose(module.forward_head(features).numpy(), logits.numpy(), atol=1e-5)
        pooled = module.forward_head(features, pre_logits=True)
    assert logits.shape == (2, 1)
    assert features.ndim in (3, 4) and pooled.ndim == 2 and pooled.shape[0] == 2


def test_freezing_leaves_only_the_named_head_trainable(model) -> None:
    _, module = model
    _set_trainable(module, frozen_backbone=True)
    trainable = {id(p) for p in module.parameters() if p.requires_grad}
    assert trainable == {id(p) for p in head_module(module).parameters()}
    _set_trainable(module, frozen_backbone=False)
    assert all(p.requires_grad for p in module.parameters())
    module.eval()


def test_the_training_layout_gives_the_default_layouts_loss_and_gradients(model) -> None:
    """Training feeds every backbone channels-last tensors (FaceClassifier.preprocess transposes NHWC crops
    as a view), and its convolutions then run channels-last: a layer that reads memory as NCHW (a `view`
    after a convolution, say) would break training or change what it learns. In eval mode (batch norm on its
    running statistics, no dropout) the layout is the only difference left."""
    name, _ = model
    results = []
    for layout in (torch.contiguous_format, torch.channels_last):
        torch.manual_seed(0)
        module = create_model(name, pretrained=False).to(memory_format=layout).eval()
        x = _inputs(module, n=4).contiguous(memory_format=layout)
        loss = nn.functional.binary_cross_entropy_with_logits(module(x).reshape(-1), torch.tensor([0., 1., 0., 1.]))
        loss.backward()
        results.append((loss.item(), [p.grad.clone() for p in module.parameters()]))
    (loss_nchw, grads_nchw), (loss_cl, grads_cl) = results
    assert loss_cl == pytest.approx(loss_nchw, rel=1e-5)
    for g_nchw, g_cl in zip(grads_nchw, grads_cl, strict=True):
        torch.testing.assert_close(g_cl, g_nchw, rtol=1e-3, atol=1e-5)


def test_preprocess_gives_channels_last_batches(model) -> None:
    """The layout training relies on: a contiguous NCHW batch trains ~1.5x slower here (bench/bench_vit.py)."""
    name, module = model
    size = module.default_cfg["input_size"]
    batch = _classifier(name, module).preprocess(np.zeros((2, size, size, 3), np.uint8))
    assert torch.from_numpy(batch).is_contiguous(memory_format=torch.channels_last)


def _classifier(name: str, module: nn.Module, backend: str = "torch") -> FaceClassifier:
    return FaceClassifier(module, ModelConfig.from_module(name, module), backend=backend)


def test_gradcam_gives_one_map_per_crop(model) -> None:
    name, module = model
    size = module.default_cfg["input_size"]
    crops = np.random.default_rng(0).integers(0, 256, (3, size, size, 3), dtype=np.uint8)
    heat = gradcam(_classifier(name, module), crops)
    assert heat.shape == (3, size, size) and heat.dtype == np.float32
    assert heat.min() >= 0 and heat.max() <= 1


def test_onnx_agrees_with_torch_and_a_checkpoint_round_trips(model, tmp_path: Path, monkeypatch) -> None:
    name, module = model
    monkeypatch.setenv("FAKESCOPE_CACHE", str(tmp_path / "cache"))
    size = module.default_cfg["input_size"]
    crops = np.random.default_rng(1).integers(0, 256, (4, size, size, 3), dtype=np.uint8)
    torch_clf = _classifier(name, module)
    expected = torch_clf.predict(crops)
    np.testing.assert_allclose(_classifier(name, module, "onnx").predict(crops), expected, atol=1e-4)
    loaded = FaceClassifier.load(torch_clf.save(tmp_path / "m.safetensors"), backend="torch")
    np.testing.assert_allclose(loaded.predict(crops), expected, atol=1e-6)
