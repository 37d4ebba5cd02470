"""Models of one architecture averaged in weight space: a model and its fine-tuned descendant (WiSE-FT,
Wortsman et al., CVPR 2022), or several fine-tunings of one starting point (a "model soup", Wortsman et
al., ICML 2022).

    python scripts/interpolate.py BEFORE AFTER --alpha 0.5 --out wise.safetensors
    python scripts/interpolate.py RUN_A RUN_B RUN_C --out soup.safetensors      # uniform: 1/3 each
    fakescope calibrate wise.safetensors POOL.csv ... --out cal-wise.safetensors

With two models, θ = (1 − alpha)·BEFORE + alpha·AFTER; with more, every one weighs the same. Every floating
tensor is averaged, BatchNorm running statistics included; integer buffers (batch counters) are the last
model's. Fine-tuning from one model keeps them all in one basin of the loss, so the average is a working
network: WiSE-FT keeps much of what fine-tuning gained while recovering the robustness it lost, and a soup of
seeds is usually better than its average ingredient, at no cost at run time. All must be the same
architecture and input size. The result carries the last model's config with the temperature, threshold
and band reset (calibrate it), and records what it was made of in `extra.interpolation`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fakescope.models import FaceClassifier


def mix(models: list[FaceClassifier], weights: list[float]) -> FaceClassifier:
    """The weighted weight-space average of classifiers of one architecture, uncalibrated."""
    shapes = {(m.config.arch, m.config.input_size) for m in models}
    if len(shapes) > 1:
        raise SystemExit("cannot mix " + ", ".join(f"{a} at {s} px" for a, s in sorted(shapes)))
    states = [m.module.state_dict() for m in models]
    last = models[-1]
    mixed = {k: sum(w * s[k] for w, s in zip(weights, states)) if v.is_floating_point() else v
             for k, v in states[-1].items()}
    module = last.module
    module.load_state_dict(mixed)
    config = last.config
    config.temperature, config.threshold, config.uncertain_from = 1.0, 0.5, None
    config.extra = {"interpolation": {"models": [str(m.source) for m in models], "weights": list(weights)}}
    return FaceClassifier(module, config, backend="torch")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", help="bundled names or .safetensors: BEFORE AFTER, or the ingredients "
                                              "of a soup")
    ap.add_argument("--alpha", type=float, help="with two models, the weight of the second (default 0.5)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if len(args.models) < 2:
        raise SystemExit("give at least two models")
    if args.alpha is not None and (len(args.models) != 2 or not 0.0 <= args.alpha <= 1.0):
        raise SystemExit("--alpha takes two models and a weight in [0, 1]")
    alpha = 0.5 if args.alpha is None else args.alpha
    weights = [1 - alpha, alpha] if len(args.models) == 2 else [1 / len(args.models)] * len(args.models)
    clf = mix([FaceClassifier.load(m, backend="torch") for m in args.models], weights)
    clf.save(args.out)
    print(f"wrote {args.out} (" + " + ".join(f"{w:g} x {m}" for w, m in zip(weights, args.models))
          + ", uncalibrated)")


if __name__ == "__main__":
    main()
