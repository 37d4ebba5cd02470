"""A model and its fine-tuned descendant averaged in weight space (WiSE-FT, Wortsman et al., CVPR 2022).

    python scripts/interpolate.py BEFORE AFTER --alpha 0.5 --out wise.safetensors
    fakescope calibrate wise.safetensors POOL.csv ... --out cal-wise.safetensors

θ = (1 − alpha)·BEFORE + alpha·AFTER for every floating tensor, BatchNorm running statistics included;
integer buffers (batch counters) are AFTER's. Fine-tuning from a model keeps both in one basin of the loss,
so the average is a working network: the paper finds it keeps much of what the fine-tuning gained while
recovering the robustness it lost, at no cost at run time. Both must be the same architecture and input
size. The result carries AFTER's config with the temperature, threshold and band reset (calibrate it), and
records what it was made of in `extra.interpolation`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fakescope.models import FaceClassifier


def interpolate(before: FaceClassifier, after: FaceClassifier, alpha: float) -> FaceClassifier:
    """The weight-space mix of two classifiers of one architecture, uncalibrated."""
    if (before.config.arch, before.config.input_size) != (after.config.arch, after.config.input_size):
        raise SystemExit(f"cannot mix {before.config.arch} at {before.config.input_size} px with "
                         f"{after.config.arch} at {after.config.input_size} px")
    a, b = before.module.state_dict(), after.module.state_dict()
    mixed = {k: (1 - alpha) * a[k] + alpha * v if v.is_floating_point() else v for k, v in b.items()}
    module = after.module
    module.load_state_dict(mixed)
    config = after.config
    config.temperature, config.threshold, config.uncertain_from = 1.0, 0.5, None
    config.extra = {"interpolation": {"before": str(before.source), "after": str(after.source), "alpha": alpha}}
    return FaceClassifier(module, config, backend="torch")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("before", help="bundled name or .safetensors: the model fine-tuning started from")
    ap.add_argument("after", help="bundled name or .safetensors: the fine-tuned model")
    ap.add_argument("--alpha", type=float, default=0.5, help="weight of AFTER (0: BEFORE, 1: AFTER)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if not 0.0 <= args.alpha <= 1.0:
        raise SystemExit("--alpha must lie in [0, 1]")
    clf = interpolate(FaceClassifier.load(args.before, backend="torch"),
                      FaceClassifier.load(args.after, backend="torch"), args.alpha)
    clf.save(args.out)
    print(f"wrote {args.out} ({1 - args.alpha:g} x {args.before} + {args.alpha:g} x {args.after}, uncalibrated)")


if __name__ == "__main__":
    main()
