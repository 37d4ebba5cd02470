"""FaceClassifier: face crops in, calibrated fake probabilities out.

A checkpoint is one safetensors file whose metadata holds the `ModelConfig` as JSON, so a model loads
without pickle and without a side file. Inference runs through ONNX Runtime (about 3x torch eager on a
2-core CPU); the ONNX graph is exported once per checkpoint and cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from fakescope.errors import ModelError
from fakescope.faces.crop import CROP_MARGIN
from fakescope.models import DEFAULT_MODEL, WEIGHTS_DIR, bundled_models

BACKENDS = ("auto", "onnx", "torch")


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model and feed it: plain data, stored in the checkpoint."""

    arch: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    # Probability at or above which a person is called FAKE.
    threshold: float = 0.5
    # Temperature scaling fitted on validation data: p = sigmoid(logit / temperature).
    temperature: float = 1.0
    # Side of the square crop relative to the detector's face box; training crops must match it. A
    # checkpoint without the field was trained on crops cut with the trainer's default, which is this one.
    crop_margin: float = CROP_MARGIN
    name: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        # JSON (the checkpoint's metadata) has no tuples: a loaded config must equal the one saved.
        self.mean, self.std = tuple(self.mean), tuple(self.std)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """Fields a newer fakescope added are ignored, so its checkpoints still load here."""
        if not isinstance(d, dict):
            raise TypeError("config is not a JSON object")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def from_module(cls, arch: str, module: torch.nn.Module, **kwargs) -> ModelConfig:
        cfg = module.default_cfg
        return cls(arch=arch, input_size=cfg["input_size"], mean=tuple(cfg["mean"]), std=tuple(cfg["std"]),
                   **kwargs)


def resolve_model_path(name_or_path: str | os.PathLike) -> Path:
    """A bundled model name ('default') or a path to a .safetensors checkpoint."""
    path = Path(name_or_path)
    if path.suffix != ".safetensors":
        bundled = WEIGHTS_DIR / f"{name_or_path}.safetensors"
        if bundled.exists():
            return bundled
    if not path.exists():
        raise ModelError(f"model {str(name_or_path)!r} not found (bundled: {', '.join(bundled_models()) or 'none'})")
    return path


def _cache_dir() -> Path:
    root = os.environ.get("FAKESCOPE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "fakescope")
    return Path(root)


class FaceClassifier:
    """Scores RGB face crops. Usable alone:

    >>> clf = FaceClassifier.load("default")
    >>> clf.predict(crops)  # (N, H, W, 3) uint8 -> (N,) probabilities of "fake"
    """

    def __init__(self, module: torch.nn.Module, config: ModelConfig, backend: str = "auto",
                 device: str = "cpu", source: Path | None = None) -> None:
        if backend not in BACKENDS:
            raise ModelError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device != "cpu" and backend == "onnx":
            raise ModelError("the ONNX backend runs on the CPU; use backend='torch' with a GPU")
        self.device = check_device(device)
        self.module = module.eval().to(self.device)
        self.config = config
        self.source = source
        # ONNX Runtime is ~3-5x faster than torch eager on a small CPU; a GPU runs torch.
        self.backend = backend if backend != "auto" else ("onnx" if device == "cpu" else "torch")
        self._session = None
        self._mean = np.asarray(config.mean, np.float32).reshape(1, 3, 1, 1)
        self._std = np.asarray(config.std, np.float32).reshape(1, 3, 1, 1)

    # ---- persistence -------------------------------------------------------------------------------
    @classmethod
    def load(cls, name_or_path: str | os.PathLike = DEFAULT_MODEL, backend: str = "auto",
             device: str = "cpu") -> FaceClassifier:
        from fakescope.models import create_model

        path = resolve_model_path(name_or_path)
        try:
            state = load_file(str(path))
            with safe_open(str(path), "pt") as fh:
                meta = (fh.metadata() or {}).get("fakescope")
            if meta is None:
                raise ModelError(f"{path} is not a fakescope model (no config in its metadata)")
            config = ModelConfig.from_dict(json.loads(meta))
        except (SafetensorError, OSError, ValueError, TypeError) as exc:
            raise ModelError(f"cannot load model {path}: {exc}") from None
        try:
            module = create_model(config.arch, pretrained=False, input_size=config.input_size)
            module.load_state_dict({k: v.float() for k, v in state.items()})
        except (RuntimeError, ValueError, TypeError) as exc:
            # torch lists every missing key on its own line: the CLI prints one line.
            reason = " ".join(str(exc).split())[:200]
            raise ModelError(f"{path} does not match architecture {config.arch}: {reason}") from None
        return cls(module, config, backend=backend, device=device, source=path)

    def save(self, path: str | os.PathLike, half: bool = False) -> Path:
        """Write weights (fp16 when `half`) and config to one safetensors file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: (v.half() if half and v.is_floating_point() else v).contiguous().cpu()
                 for k, v in self.module.state_dict().items()}
        save_file(state, str(path), metadata={"fakescope": json.dumps(asdict(self.config))})
        return path

    # ---- inference ---------------------------------------------------------------------------------
    def preprocess(self, crops: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 RGB at the model's input size -> normalised (N, 3, H, W) float32."""
        x = crops.astype(np.float32).transpose(0, 3, 1, 2) / 255.0
        return (x - self._mean) / self._std

    def logits(self, crops: np.ndarray, batch_size: int = 32) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros(0, np.float32)
        size = self.config.input_size
        if crops.shape[1:3] != (size, size):
            raise ValueError(f"crops must be {size}x{size}, got {crops.shape[1]}x{crops.shape[2]}")
        out = []
        for i in range(0, len(crops), batch_size):
            x = self.preprocess(crops[i:i + batch_size])
            if self.backend == "onnx":
                out.append(self._onnx_session().run(None, {"input": x})[0].reshape(-1))
            else:
                with torch.inference_mode():
                    out.append(self.module(torch.from_numpy(x).to(self.device)).float().reshape(-1).cpu().numpy())
        return np.concatenate(out)

    def predict(self, crops: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Calibrated probability that each crop is manipulated."""
        return self.probability(self.logits(crops, batch_size))

    def probability(self, logits: np.ndarray) -> np.ndarray:
        """Raw logits -> calibrated fake probabilities (temperature scaling)."""
        return 1.0 / (1.0 + np.exp(-np.asarray(logits) / self.config.temperature))

    def _onnx_session(self):
        if self._session is None:
            import onnxruntime as ort

            path = self._cached_onnx()
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = min(2, os.cpu_count() or 1)
            self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        return self._session

    def export_onnx(self, path: str | os.PathLike) -> Path:
        """Write the network as ONNX: input "input" (N, 3, S, S), crops as `preprocess` makes them; output
        "logit" (N, 1), before the temperature. Written whole to a temporary file first, then renamed."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        size = self.config.input_size
        dummy = torch.zeros(1, 3, size, size, device=self.device)
        with warnings.catch_warnings():  # the exporter's constant-folding notes are not the user's concern
            warnings.simplefilter("ignore")
            torch.onnx.export(self.module.eval(), (dummy,), str(tmp), input_names=["input"], output_names=["logit"],
                              dynamic_axes={"input": {0: "batch"}, "logit": {0: "batch"}}, dynamo=False)
        os.replace(tmp, path)
        return path

    def _cached_onnx(self) -> Path:
        """Export once per distinct set of weights; later loads reuse the cached graph."""
        digest = hashlib.sha256()
        for k, v in self.module.state_dict().items():
            digest.update(k.encode())
            digest.update(v.detach().cpu().numpy().tobytes())
        digest.update(json.dumps(asdict(self.config), sort_keys=True).encode())
        path = _cache_dir() / "onnx" / f"{self.config.arch}-{digest.hexdigest()[:16]}.onnx"
        return path if path.exists() else self.export_onnx(path)


def check_device(name: str) -> torch.device:
    """A device torch can use here, or a one-line reason why not."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ModelError(f"unknown device {name!r}: use cpu, cuda, cuda:N or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"device {name!r} asked for, but torch sees no CUDA GPU here: use --device cpu")
    return device


def load_classifier(name_or_path: str | os.PathLike = DEFAULT_MODEL, backend: str = "auto",
                    device: str = "cpu") -> FaceClassifier:
    return FaceClassifier.load(name_or_path, backend=backend, device=device)
