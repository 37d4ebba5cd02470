"""Classifier models, created by name (as in timm): each architecture family lives in its own module of this
package and registers its factories with `@register_model` (the function's name is the model's), so adding
a backbone touches one file.

Every registered model has the same small interface, which the trainer, the exporter and the evidence
step use instead of any one library's attributes (tests/test_model_contract.py checks it for every entry):

- `forward_features(x)`: (B, C, H, W) feature map for a CNN, or (B, P + N, D) tokens for a ViT whose
  first P (`default_cfg["num_prefix_tokens"]`) are not patches and whose N patches form a square grid;
- `forward_head(features, pre_logits=False)`: the fake logit (B, 1), or the pooled vector it is read from;
- `forward(x) == forward_head(forward_features(x))`;
- `default_cfg`: input size, mean and std of the preprocessing, and `head`, the attribute name of the
  classification head module (what `--freeze-epochs` leaves trainable).

Importing this package does not import torch: the registry fills itself on the first lookup, and
`FaceClassifier` and friends load when first used.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fakescope.errors import ModelError
from fakescope.registry import Registry

if TYPE_CHECKING:
    from torch import nn

    from fakescope.models.classifier import FaceClassifier, ModelConfig, load_classifier

WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_MODEL = "default"
MODELS: Registry[Callable[..., nn.Module]] = Registry("model", __name__, error=ModelError)
register_model = MODELS.register


def list_models() -> list[str]:
    """Architectures `create_model` builds (not trained weights: see `bundled_models`)."""
    return MODELS.names()


def bundled_models() -> list[str]:
    """Trained models shipped inside the package, by the name `--model` takes."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.safetensors"))


def head_module(module: nn.Module) -> nn.Module:
    """The classification head named in the model's `default_cfg`."""
    return getattr(module, module.default_cfg["head"])


def create_model(name: str, pretrained: bool = False, **kwargs) -> nn.Module:
    """Build an architecture by name. `pretrained=True` loads the ImageNet (or published) weights that a
    registry package bundles; nothing is downloaded. Every factory takes `input_size` (static padding and
    dense layers can depend on it), and every module has a `default_cfg` dict (input size, normalisation)
    that the classifier uses to preprocess crops."""
    return MODELS.get(name)(pretrained=pretrained, **kwargs)


_LAZY = {"FaceClassifier", "ModelConfig", "load_classifier"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from fakescope.models import classifier

        return getattr(classifier, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DEFAULT_MODEL", "MODELS", "WEIGHTS_DIR", "FaceClassifier", "ModelConfig", "bundled_models",
           "create_model", "head_module", "list_models", "load_classifier", "register_model"]
