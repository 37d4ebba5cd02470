"""MesoNet (Afchar et al., WIFS 2018), the baseline we compare against.

Rebuilt from the paper's Meso-4 description so the authors' published Keras weights (an .h5 file, which we
do not ship) load into it. Input 256x256 RGB in [0, 1]. The published sigmoid gives P(real); the module
returns the logit of P(fake) like every other fakescope model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from fakescope.errors import ModelError
from fakescope.models import register_model


def _conv_block(cin: int, cout: int, kernel: int, pool: int) -> nn.Sequential:
    # Keras order in the paper's code: conv -> ReLU -> batch norm -> max pool ('same' padding).
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=kernel // 2),
        nn.ReLU(),
        nn.BatchNorm2d(cout, eps=1e-3),
        nn.MaxPool2d(pool, pool),
    )


class Meso4(nn.Module):
    """The published network at 256 px; another size (a multiple of 32) changes its first dense layer."""

    def __init__(self, input_size: int = 256) -> None:
        super().__init__()
        side = input_size // 32  # the four pools shrink 2 * 2 * 2 * 4 times
        self.features = nn.Sequential(
            _conv_block(3, 8, 3, 2),
            _conv_block(8, 8, 5, 2),
            _conv_block(8, 16, 5, 2),
            _conv_block(16, 16, 5, 4),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(0.5),
            nn.Linear(16 * side * side, 16),
            nn.LeakyReLU(0.1),
            nn.Dropout(0.5),
            nn.Linear(16, 1),
        )
        self.default_cfg = {"input_size": input_size, "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0),
                            "head": "classifier"}

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        # Keras flattens channels-last; keep its order so the dense weights line up.
        x = features.permute(0, 2, 3, 1).flatten(1)
        if pre_logits:
            return x
        return -self.classifier(x)  # published output is P(real): negate to get the fake logit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def load_keras_weights(model: Meso4, h5_path: str | Path) -> None:
    """Copy the published Keras weights (conv2d_*, batch_normalization_*, dense_* groups, in layer order)."""
    import h5py  # only needed for the baseline

    try:
        f = h5py.File(h5_path, "r")
    except OSError as exc:
        raise ModelError(f"cannot read MesoNet weights {h5_path}: {exc}") from None

    def numbered(prefix: str) -> list[str]:
        names = [n for n in f if n.startswith(prefix)]
        return sorted(names, key=lambda n: int(n.rsplit("_", 1)[1]))

    def arrays(name: str) -> dict[str, np.ndarray]:
        group = f[name][name]
        return {k.split(":")[0]: np.asarray(group[k]) for k in group}

    with f:
        convs, bns, denses = numbered("conv2d_"), numbered("batch_normalization_"), numbered("dense_")
        if (len(convs), len(bns), len(denses)) != (4, 4, 2):
            raise ModelError(f"{h5_path} does not look like Meso4 weights")
        for block, conv_name, bn_name in zip(model.features, convs, bns):
            conv, bn = block[0], block[2]
            w = arrays(conv_name)
            conv.weight.data = torch.from_numpy(w["kernel"].transpose(3, 2, 0, 1).copy())
            conv.bias.data = torch.from_numpy(w["bias"].copy())
            b = arrays(bn_name)
            bn.weight.data = torch.from_numpy(b["gamma"].copy())
            bn.bias.data = torch.from_numpy(b["beta"].copy())
            bn.running_mean.data = torch.from_numpy(b["moving_mean"].copy())
            bn.running_var.data = torch.from_numpy(b["moving_variance"].copy())
        for linear, dense_name in zip((model.classifier[1], model.classifier[4]), denses):
            d = arrays(dense_name)
            linear.weight.data = torch.from_numpy(d["kernel"].T.copy())
            linear.bias.data = torch.from_numpy(d["bias"].copy())


@register_model
def meso4(pretrained: bool = False, weights: str | Path | None = None, input_size: int = 256) -> nn.Module:
    model = Meso4(input_size)
    if pretrained or weights is not None:
        if weights is None:
            raise ModelError("MesoNet weights are not bundled: pass weights=PATH to the published .h5 file")
        load_keras_weights(model, weights)
    return model
