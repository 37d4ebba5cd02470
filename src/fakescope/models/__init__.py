"""Classifier models, created by name (as in timm): each family lives in its own file and registers
its factories here, so adding a backbone touches one file."""

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
from fakescope.models import efficientnet_lite, mesonet, mobilenetv2  # noqa: F401
from fakescope.models.classifier import FaceClassifier, ModelConfig, load_classifier

__all__ = ["FaceClassifier", "ModelConfig", "create_model", "list_models", "load_classifier", "register_model"]
