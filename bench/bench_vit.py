"""What a ViT backbone costs on this CPU: forward ms a face (torch eager and ONNX Runtime, the classifier's
two backends) at several input sizes, and a training step (forward + backward + AdamW) with only the
LayerNorms and the head trainable (GenD-style) against everything trainable, in PyTorch's default NCHW
layout (a contiguous input) and channels-last, the layout training already gets: FaceClassifier.preprocess
transposes NHWC crops to NCHW as a view, so its tensors lie channels-last in memory and the convolutions
run that way.

    python bench/bench_vit.py [--model vit_small_dinov2] [--sizes 126 168 224] [--batch 32] [--repeats 5]

Timings are medians over --repeats batches after one warm-up batch, with 2 threads for torch and ONNX
Runtime alike. The architecture alone decides the cost, so the pretrained weights are used when installed
and random ones otherwise. Shared machines are noisy: the load average is printed with the figures, and
only ratios measured in one run should be compared.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spinning threads slow a busy CPU 4x

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from fakescope.errors import ModelError
from fakescope.models import FaceClassifier, ModelConfig, create_model, head_module

THREADS = 2


def median_ms_per_face(steps: dict, batch: int, repeats: int) -> dict[str, float]:
    """Median ms a face of each step, run in turn within each repeat so that the machine's load, which
    changes by the second here, falls on all of them alike."""
    for step in steps.values():
        step()  # warm-up: allocations, ONNX Runtime's first run
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(repeats):
        for key, step in steps.items():
            start = time.perf_counter()
            step()
            times[key].append(time.perf_counter() - start)
    return {k: 1000 * statistics.median(v) / batch for k, v in times.items()}


def build(name: str, size: int) -> tuple[nn.Module, bool]:
    try:
        return create_model(name, pretrained=True, input_size=size), True
    except ModelError:
        return create_model(name, pretrained=False, input_size=size), False


def forward_figures(name: str, size: int, batch: int, repeats: int) -> tuple[float, float, bool]:
    module, pretrained = build(name, size)
    config = ModelConfig.from_module(name, module)
    eager, onnx = (FaceClassifier(module, config, backend=b) for b in ("torch", "onnx"))
    crops = np.random.default_rng(0).integers(0, 256, (batch, size, size, 3), np.uint8)
    ms = median_ms_per_face({"torch": lambda: eager.logits(crops, batch_size=batch),
                             "onnx": lambda: onnx.logits(crops, batch_size=batch)}, batch, repeats)
    return ms["torch"], ms["onnx"], pretrained


def train_step(name: str, size: int, batch: int, norms_and_head_only: bool, layout: torch.memory_format
               ) -> tuple[Callable[[], None], int]:
    """One optimiser step on a fresh model with its weights and input in `layout`, and how many parameters
    it trains."""
    module, _ = build(name, size)
    module = module.to(memory_format=layout)
    module.train()
    head = {id(p) for p in head_module(module).parameters()}
    norms = {id(p) for m in module.modules() if isinstance(m, nn.LayerNorm) for p in m.parameters()}
    for p in module.parameters():
        p.requires_grad_(not norms_and_head_only or id(p) in head | norms)
    params = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    x = torch.randn(batch, 3, size, size).contiguous(memory_format=layout)
    y = torch.randint(0, 2, (batch, 1)).float()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        nn.functional.binary_cross_entropy_with_logits(module(x), y).backward()
        opt.step()

    return step, sum(p.numel() for p in params)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="vit_small_dinov2")
    ap.add_argument("--sizes", type=int, nargs="+", default=[126, 168, 224])
    ap.add_argument("--train-size", type=int, default=126)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    print(f"{args.model}, batch {args.batch}, median of {args.repeats}, {THREADS} threads, "
          f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["FAKESCOPE_CACHE"] = cache  # the ONNX exports are not kept
        for size in args.sizes:
            eager, onnx, pretrained = forward_figures(args.model, size, args.batch, args.repeats)
            print(f"forward {size:4d} px: torch eager {eager:7.1f} ms/face   ONNX Runtime {onnx:7.1f} ms/face"
                  f"   (eager/ONNX {eager / onnx:.2f}x, {'pretrained' if pretrained else 'random'} weights)")
    layouts = {"NCHW": torch.contiguous_format, "channels-last": torch.channels_last}
    steps = {(only, lay): train_step(args.model, args.train_size, args.batch, only, fmt)
             for only in (True, False) for lay, fmt in layouts.items()}
    ms = median_ms_per_face({key: step for key, (step, _) in steps.items()}, args.batch, args.repeats)
    for (only, lay), (_, n) in steps.items():
        what = "LayerNorms + head" if only else "everything      "
        ratio = "" if lay == "NCHW" else f"   ({ms[only, lay] / ms[only, 'NCHW']:.2f}x NCHW's)"
        print(f"train step {args.train_size} px, {what} trainable ({n:>10,} params), {lay:>13}: "
              f"{ms[only, lay]:7.1f} ms/face{ratio}")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
