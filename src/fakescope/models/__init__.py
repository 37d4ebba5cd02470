"""Classifier models, created by name (as in timm): each family lives in its own file and registers
its factories here, so adding a backbone touches one file.

Every registered model has the same small interface, which the trainer, the exporter and the evidence
step use instead of any one library's attributes (tests/test_models.py checks it for every entry):

- `forward_features(x)`: (B, C, H, W) feature map for a CNN, or (B, P + N, D) tokens for a ViT whose
  first P (`default_cfg["num_prefix_tokens"]`) are not patches and whose N patches form a square grid;
- `forward_head(features, pre_logits=False)`: the fake logit (B, 1), or the pooled vector it is read from;
- `forward(x) == forward_head(forward_features(x))`;
- `default_cfg`: input size, mean and std of the preprocessing, and `head`, the attribute name of the
  classification head module (what `--freeze-epochs` leaves trainable).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from fakescope.errors import ModelError

_FACTORIES: dict[str, Callable[..., nn.Module]] = {}


def register_model(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Decorator: make `factory` creatable by its function name."""
    _FACTORIES[factory.__name__] = factory
    return factory


def list_models() -> list[str]:
    return sorted(_FACTORIES)


def head_module(module: nn.Module) -> nn.Module:
    """The classification head named in the model's `default_cfg`."""
    return getattr(module, module.default_cfg["head"])


def create_model(name: str, pretrained: bool = False, **kwargs) -> nn.Module:
    """Build an architecture by name. `pretrained=True` loads the ImageNet (or published) weights that a
    registry package bundles; nothing is downloaded. Every factory takes `input_size` (static padding and
    dense layers can depend on it), and every module has a `default_cfg` dict (input size, normalisation)
    that the classifier uses to preprocess crops."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known: {', '.join(list_models())}") from None
    return factory(pretrained=pretrained, **kwargs)


# Families register themselves on import.
from fakescope.models import efficientnet_lite, mesonet, mobilenetv2, vit_dinov2  # noqa: F401
from fakescope.models.classifier import FaceClassifier, ModelConfig, load_classifier

__all__ = ["FaceClassifier", "ModelConfig", "create_model", "head_module", "list_models", "load_classifier",
           "register_model"]
