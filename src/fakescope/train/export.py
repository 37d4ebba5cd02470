"""`fakescope export`: a trained checkpoint as files someone else can run, and a card that says what it is.

Out come `<name>.safetensors` (weights + config, what `fakescope scan --model` loads), `<name>.onnx` (the
same network for any ONNX runtime, the config in its metadata) and `MODEL_CARD.md`. The ONNX graph is
checked against the PyTorch model on random crops before anything is called done. The card takes its
training facts from the `history.json` beside the checkpoint and its figures from an evaluate report.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from fakescope.errors import ModelError
from fakescope.models import FaceClassifier

ONNX_TOLERANCE = 1e-3  # max |p_onnx - p_torch| accepted


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _onnx_agreement(clf: FaceClassifier, onnx_path: Path, n: int = 8) -> float:
    """Largest probability difference between ONNX Runtime and PyTorch on random crops."""
    import onnxruntime as ort

    size = clf.config.input_size
    crops = np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    x = clf.preprocess(crops)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    z_onnx = session.run(None, {"input": x})[0].reshape(-1)
    z_torch = clf.logits(crops)
    return float(np.abs(clf.probability(z_onnx) - clf.probability(z_torch)).max())


def _add_onnx_metadata(path: Path, config: dict) -> None:
    import onnx

    model = onnx.load(str(path))
    entry = model.metadata_props.add()
    entry.key, entry.value = "fakescope", json.dumps(config)
    onnx.save(model, str(path))


def _read_json(path: Path | None) -> dict | None:
    if path is None or not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        raise ModelError(f"{path}: not valid JSON") from None


def export_model(model: str | Path, out: str | Path, name: str | None = None, report: str | Path | None = None
                 ) -> dict[str, Path]:
    """Write the safetensors, ONNX and card for `model` into `out`; returns their paths."""
    clf = FaceClassifier.load(model, backend="torch")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = name or clf.config.name or Path(model).stem
    paths = {"safetensors": clf.save(out / f"{name}.safetensors"), "onnx": clf.export_onnx(out / f"{name}.onnx")}
    _add_onnx_metadata(paths["onnx"], asdict(clf.config))
    diff = _onnx_agreement(clf, paths["onnx"])
    if diff > ONNX_TOLERANCE:
        raise ModelError(f"the ONNX export disagrees with the model (max |dp| {diff:.2g}); not exporting")
    history = _read_json(clf.source.parent / "history.json") if clf.source else None
    card = model_card(clf, name, paths, diff, history, _read_json(Path(report) if report else None))
    paths["card"] = out / "MODEL_CARD.md"
    paths["card"].write_text(card)
    return paths


def _training_section(history: dict | None) -> list[str]:
    if history is None:
        return ["No `history.json` was found beside the checkpoint: how it was trained is not recorded here.", ""]
    cfg, val = history["config"], history["val"]
    pseudo = cfg.get("pseudo_fakes", 0)
    return [(f"- Backbone `{cfg['model']}` ({'ImageNet' if cfg.get('pretrained', True) else 'random'} init), "
            f"input {cfg['input_size']} px, {len(history['history'])} epoch(s) run, best epoch {history['best_epoch']}"
            f"{', head alone for the first ' + str(cfg['freeze_epochs']) if cfg.get('freeze_epochs') else ''}."),
            (f"- {history['n_train']} training and {history['n_val']} validation crops; class balancing "
             f"`{cfg.get('balance', 'weight')}`; "
             + (f"{pseudo:.0%} of each batch self-blended pseudo-fakes." if pseudo else "no pseudo-fakes.")),
            (f"- Validation, frame level: ROC AUC {val['frame_auc']:.4f}, log loss {val['log_loss']:.4f}, "
            f"ECE {val['ece']:.4f} after temperature scaling (T = {val['temperature']:.3f})."), ""]


def _evaluation_section(report: dict | None) -> list[str]:
    if report is None:
        return ["No evaluation report was given (`fakescope evaluate`, then `--report report.json`).", ""]
    lines = [f"On `{report['source']}`" + (f" (split `{report['split']}`)" if report.get("split") else "")
             + f", threshold {report['threshold']:.3f}:", "",
             "| subset | level | n real/fake | ROC AUC | AP | EER | accuracy |", "|---|---|---|---|---|---|---|"]
    rows = [("all", report["overall"])] + list(report["by_dataset"].items())
    for subset, levels in rows:
        for level, r in levels.items():
            lines.append(f"| {subset} | {level} | {r['n_real']}/{r['n_fake']} | {r['auc']:.4f} | {r['ap']:.4f} | "
                         f"{r['eer']:.4f} | {r['accuracy']:.4f} |")
    return lines + ["", "Frame level: each face crop alone. Video level: as `fakescope scan` decides a video.", ""]


def model_card(clf: FaceClassifier, name: str, paths: dict[str, Path], onnx_diff: float, history: dict | None,
               report: dict | None) -> str:
    c = clf.config
    n_params = sum(p.numel() for p in clf.module.parameters())
    lines = [f"# {name}", "",
             ("A fakescope face-manipulation detector: one face crop in, the probability that the face was "
             "manipulated out."), "",
             "## Model", "",
             f"- Architecture `{c.arch}`, {n_params / 1e6:.2f} M parameters, one logit.",
             (f"- Input: RGB crop {c.input_size}x{c.input_size}, x in [0, 1] normalised as (x - mean) / std with "
             f"mean {tuple(round(v, 4) for v in c.mean)}, std {tuple(round(v, 4) for v in c.std)}."),
             (f"- Crop policy: a square of {c.crop_margin} x the longer side of the YuNet face box, centred on it "
             "(`fakescope.faces.crop_face`); other crops shift the scores."),
             f"- P(fake) = sigmoid(logit / {c.temperature:.4f}); FAKE at P >= {c.threshold:.3f}.", "",
             "## Files", ""]
    lines += [f"- `{p.name}` sha256 `{_sha256(p)}`" for p in paths.values()]
    lines += [(f"- The ONNX graph (input `input`, output `logit`, config JSON in metadata key `fakescope`) agrees "
              f"with PyTorch to {onnx_diff:.1e} in probability on random crops."), "",
              "Use: `fakescope scan --model " + paths["safetensors"].name + " VIDEO`, or in Python "
              "`fakescope.scan(path, model=...)`.", "", "## Training", ""]
    lines += _training_section(history)
    lines += ["## Evaluation", ""] + _evaluation_section(report)
    lines += ["## Limits", "",
              ("- A score, not a proof: it says how much a face resembles the manipulated faces (and pseudo-fakes) "
              "the model was trained on. New generators, heavy compression, and faces unlike the training "
              "data's (age, skin tone, lighting, pose) can move it either way."),
              "- Labels in deepfake datasets are per video; a weakly manipulated video can look pristine.",
              "- Use it to decide what a person should look at more closely, not to accuse anyone.", ""]
    return "\n".join(lines)
