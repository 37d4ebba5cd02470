"""Where the model looked: Grad-CAM heatmaps for face crops, and an overlay a person can read.

Grad-CAM (Selvaraju et al. 2017) weights each channel of the last feature map by the mean gradient of the
"fake" logit with respect to it, sums, and keeps the positive part: the regions that pushed the score towards
FAKE. It runs on the classifier's torch module (ONNX Runtime gives no gradients) through the model interface
every registered backbone has (see fakescope.models): `forward_features` runs once without autograd and only
`forward_head` is differentiated, so a heatmap costs about one forward pass. A ViT's patch tokens are the
same thing laid out as a sequence: they are put back on their square grid (its prefix tokens, such as CLS,
left out), so one method serves CNNs and transformers.

    >>> heat = gradcam(classifier, crops)          # (N, S, S) float32 in [0, 1]
    >>> overlay_heatmap(crops[0], heat[0])         # (S, S, 3) uint8 RGB, the crop tinted by the heatmap
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
from torch import nn

from fakescope.models.classifier import FaceClassifier


def _feature_grid(features: torch.Tensor, num_prefix_tokens: int) -> torch.Tensor:
    """(B, C, H, W) as it is, or ViT tokens (B, P + N, D) as a (B, D, sqrt N, sqrt N) map of the patches."""
    if features.ndim == 4:
        return features
    if features.ndim != 3:
        raise TypeError(f"Grad-CAM needs a feature map or tokens, got features of shape {tuple(features.shape)}")
    patches = features[:, num_prefix_tokens:]
    side = math.isqrt(patches.shape[1])
    if side * side != patches.shape[1]:
        raise TypeError(f"{patches.shape[1]} patch tokens do not form a square grid")
    return patches.transpose(1, 2).reshape(features.shape[0], features.shape[2], side, side)


def _features_and_logits(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(features from `forward_features`, fake logit per crop), the logits differentiable w.r.t. the
    features. Call with autograd enabled."""
    with torch.no_grad():
        features = module.forward_features(x)
    features.requires_grad_(True)
    return features, module.forward_head(features).reshape(-1)


def gradcam(classifier: FaceClassifier, crops: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """(N, S, S, 3) uint8 RGB crops at the model's input size -> (N, S, S) float32 heatmaps in [0, 1].

    Each map is scaled by its own maximum, so it shows where the evidence is, not how strong it is (the
    score says that). A crop with no region pushing towards FAKE gets an all-zero map.
    """
    module = classifier.module
    size = classifier.config.input_size
    if crops.ndim != 4 or crops.shape[1:] != (size, size, 3):
        raise ValueError(f"crops must be (N, {size}, {size}, 3), got {crops.shape}")
    device = next(module.parameters()).device
    out = np.zeros(crops.shape[:3], np.float32)
    module.eval()
    for i in range(0, len(crops), batch_size):
        x = torch.from_numpy(classifier.preprocess(crops[i:i + batch_size])).to(device)
        with torch.enable_grad():
            features, logits = _features_and_logits(module, x)
            (grads,) = torch.autograd.grad(logits.sum(), features)
        prefix = module.default_cfg.get("num_prefix_tokens", 0)
        features, grads = _feature_grid(features, prefix), _feature_grid(grads, prefix)
        weights = grads.mean(dim=(2, 3), keepdim=True)
        cams = torch.relu((weights * features).sum(dim=1)).detach().cpu().numpy()
        for j, cam in enumerate(cams):
            peak = float(cam.max())
            if peak > 0:
                out[i + j] = _upsample(cam / peak, size)
    return out


def _upsample(cam: np.ndarray, size: int) -> np.ndarray:
    """A coarse map (4x4 for a 128 px crop) to the crop's size: bilinear, then a blur as wide as one cell,
    so a person sees soft regions rather than tiles or the rings that cubic interpolation draws."""
    big = cv2.resize(cam.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
    sigma = size / cam.shape[0] / 2
    big = cv2.GaussianBlur(big, (0, 0), sigmaX=sigma, sigmaY=sigma)
    return (big / max(float(big.max()), 1e-6)).clip(0, 1)


def overlay_heatmap(crop: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a [0, 1] heatmap (jet colours: blue cold, red hot) over an RGB crop; returns uint8 RGB.

    Cold regions keep more of the face visible, so the overlay stays readable where nothing was found."""
    colours = cv2.applyColorMap((heatmap * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    weight = (alpha * (0.35 + 0.65 * heatmap))[..., None]
    return (crop * (1 - weight) + colours * weight).round().astype(np.uint8)
