"""FaceClassifier: face crops in, calibrated fake probabilities out.

A checkpoint is one safetensors file whose metadata holds the `ModelConfig` as JSON, so a model loads
without pickle and without a side file. Inference runs through ONNX Runtime (about 3x torch eager on a
2-core CPU); the ONNX graph is exported once per checkpoint and cached. Loading a checkpoint whose graph
is cached does not import torch at all (a worker starts in a fraction of the time): the torch network is
built only when something needs it (the torch backend, an export, Grad-CAM, training).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from safetensors import SafetensorError, safe_open

from fakescope.errors import ModelError
from fakescope.faces.crop import CROP_MARGIN
from fakescope.models import DEFAULT_MODEL, WEIGHTS_DIR, bundled_models
from fakescope.threads import cpu_threads

if TYPE_CHECKING:
    import torch

log = logging.getLogger("fakescope")
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
    # From this probability up to the threshold a person is UNCERTAIN: leaning fake, not enough to accuse.
    # None (older checkpoints): no band, every score below the threshold is REAL.
    uncertain_from: float | None = None
    # Temperature scaling fitted on validation data: p = sigmoid(logit / temperature).
    temperature: float = 1.0
    # Side of the square crop relative to the detector's face box; training crops must match it. A
    # checkpoint without the field was trained on crops cut with the trainer's default, which is this one.
    crop_margin: float = CROP_MARGIN
    # Test-time augmentation: each crop's logit is the mean of its own and its mirror image's. A face and its
    # mirror are equally genuine or fake; the mean of two views is a steadier score for twice the compute.
    mirror: bool = False
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

    def problems(self) -> list[str]:
        """What makes this config give wrong verdicts rather than an error: a temperature of 0 or below
        (every p 0, or inverted), NaN anywhere (p NaN, and NaN is not JSON), a threshold outside 0..1, an
        UNCERTAIN band that does not end at the threshold, a crop margin that is not a positive size."""
        def number(v) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

        out = []
        if not (isinstance(self.input_size, int) and 8 <= self.input_size <= 4096):
            out.append(f"input_size must be a whole number of pixels, got {self.input_size!r}")
        for name in ("mean", "std"):
            values = getattr(self, name)
            if len(values) != 3 or not all(number(v) for v in values):
                out.append(f"{name} must be 3 finite numbers, got {list(values)!r}")
        if all(number(v) for v in self.std) and not all(v > 0 for v in self.std):
            out.append(f"std must be above 0, got {list(self.std)!r}")
        if not (number(self.temperature) and self.temperature > 0):
            out.append(f"temperature must be a finite number above 0, got {self.temperature!r}")
        if not (number(self.threshold) and 0 <= self.threshold <= 1):
            out.append(f"threshold must be between 0 and 1, got {self.threshold!r}")
        if self.uncertain_from is not None and not (
                number(self.uncertain_from) and number(self.threshold) and 0 <= self.uncertain_from <= self.threshold):
            out.append(f"uncertain_from must be between 0 and the threshold, got {self.uncertain_from!r}")
        if not isinstance(self.mirror, bool):
            out.append(f"mirror must be true or false, got {self.mirror!r}")
        if not (number(self.crop_margin) and 0 < self.crop_margin <= 10):
            out.append(f"crop_margin must be above 0 (a crop side per face box side), got {self.crop_margin!r}")
        return out

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


def temperature_scaled(logits, temperature: float) -> np.ndarray:
    """sigmoid(logit / temperature): the model's calibration, here and wherever a temperature is fitted."""
    return 1.0 / (1.0 + np.exp(-np.asarray(logits) / temperature))


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
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device != "cpu" and backend == "onnx":
            raise ModelError("the ONNX backend runs on the CPU; use backend='torch' with a GPU")
        self._device = check_device(device) if device != "cpu" else None  # the CPU needs no checking
        self._module = module.eval().to(self.device) if module is not None else None
        self.config = config
        self.source = source
        # ONNX Runtime is ~3-5x faster than torch eager on a small CPU; a GPU runs torch.
        self.backend = backend if backend != "auto" else ("onnx" if device == "cpu" else "torch")
        self._session = None
        self._mean = np.asarray(config.mean, np.float32).reshape(1, 3, 1, 1)
        self._std = np.asarray(config.std, np.float32).reshape(1, 3, 1, 1)

    @property
    def device(self) -> torch.device:
        if self._device is None:
            self._device = check_device("cpu")
        return self._device

    @property
    def module(self) -> torch.nn.Module:
        """The torch network, built from the checkpoint on first use when the load did not need it."""
        if self._module is None:
            self._module = _build_module(self.source, self.config).eval().to(self.device)
        return self._module

    # ---- persistence -------------------------------------------------------------------------------
    @classmethod
    def load(cls, name_or_path: str | os.PathLike = DEFAULT_MODEL, backend: str = "auto",
             device: str = "cpu") -> FaceClassifier:
        path = resolve_model_path(name_or_path)
        try:
            with safe_open(str(path), "np") as fh:
                meta = (fh.metadata() or {}).get("fakescope")
            if meta is None:
                raise ModelError(f"{path} is not a fakescope model (no config in its metadata)")
            config = ModelConfig.from_dict(json.loads(meta))
        except (SafetensorError, OSError, ValueError, TypeError) as exc:
            raise ModelError(f"cannot load model {path}: {exc}") from None
        if problems := config.problems():
            raise ModelError(f"{path} has a bad config: {'; '.join(problems)}")
        clf = cls(None, config, backend=backend, device=device, source=path)
        # On the ONNX backend with the graph already exported from these very weights (checked then), torch
        # is not needed; otherwise build the network now, so a checkpoint that does not fit fails here.
        if clf.backend != "onnx" or not clf._onnx_path().exists():
            clf.module  # noqa: B018
        return clf

    def save(self, path: str | os.PathLike, half: bool = False) -> Path:
        """Write weights (fp16 when `half`) and config to one safetensors file."""
        from safetensors.torch import save_file

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
        """Raw logits (before the temperature), one a crop: with `config.mirror`, the mean of the crop's and
        its mirror image's."""
        if len(crops) == 0:
            return np.zeros(0, np.float32)
        size = self.config.input_size
        if crops.shape[1:3] != (size, size):
            raise ValueError(f"crops must be {size}x{size}, got {crops.shape[1]}x{crops.shape[2]}")
        out = []
        for i in range(0, len(crops), batch_size):
            x = self.preprocess(crops[i:i + batch_size])
            if self.config.mirror:  # both views in one batch; the halves are averaged below
                x = np.concatenate([x, np.ascontiguousarray(x[..., ::-1])])
            if self.backend == "onnx":
                z = self._onnx_session().run(None, {"input": x})[0].reshape(-1)
            else:
                import torch

                with torch.inference_mode():
                    z = self.module(torch.from_numpy(x).to(self.device)).float().reshape(-1).cpu().numpy()
            out.append(z.reshape(2, -1).mean(0) if self.config.mirror else z)
        return np.concatenate(out)

    def predict(self, crops: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Calibrated probability that each crop is manipulated."""
        return self.probability(self.logits(crops, batch_size))

    def probability(self, logits: np.ndarray) -> np.ndarray:
        """Raw logits -> calibrated fake probabilities (temperature scaling). Never NaN: a model that
        produces one is broken, and saying so beats a verdict of NaN (which is not even JSON)."""
        p = temperature_scaled(logits, self.config.temperature)
        if not np.isfinite(p).all():
            raise ModelError("the model produced NaN scores for this file (a damaged checkpoint?)")
        return p

    def _onnx_session(self):
        if self._session is None:
            import onnxruntime as ort

            try:
                graph: str | bytes = str(self._cached_onnx())
            except OSError as exc:  # a read-only ~/.cache, as in many containers: export in memory instead
                _note_once(f"cannot write the ONNX cache in {_cache_dir()} ({exc.strerror or exc}); exporting "
                           "the model in memory for this run (set FAKESCOPE_CACHE to a writable folder to keep it)")
                buffer = io.BytesIO()
                self._export(buffer)
                graph = buffer.getvalue()
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = min(2, cpu_threads())  # a batch worker's share of the cores
            self._session = ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
        return self._session

    def _export(self, target: str | io.BytesIO) -> None:
        import torch

        size = self.config.input_size
        dummy = torch.zeros(1, 3, size, size, device=self.device)
        with warnings.catch_warnings():  # the exporter's constant-folding notes are not the user's concern
            warnings.simplefilter("ignore")
            torch.onnx.export(self.module.eval(), (dummy,), target, input_names=["input"], output_names=["logit"],
                              dynamic_axes={"input": {0: "batch"}, "logit": {0: "batch"}}, dynamo=False)

    def export_onnx(self, path: str | os.PathLike) -> Path:
        """Write the network as ONNX: input "input" (N, 3, S, S), crops as `preprocess` makes them; output
        "logit" (N, 1), before the temperature. Written whole to a temporary file first, then renamed."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            self._export(str(tmp))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
        return path

    def _onnx_path(self) -> Path:
        """Where the graph of these weights is cached: named by a digest of the weights (in name order, as
        the network holds them: floats as float32) and of what shapes the graph (architecture, input size).
        The rest of the config (temperature, threshold, band, mirror, normalisation) acts outside the graph,
        so a recalibrated copy of a model reuses its graph. Before the torch network is built, the same
        values are read from the checkpoint with numpy, so a torch-free load finds the same file."""
        if self._module is not None:
            tensors = ((k, v.detach().cpu().numpy()) for k, v in self._module.state_dict().items())
        else:
            tensors = _checkpoint_arrays(self.source)
        digest = hashlib.sha256()
        for k, v in sorted(tensors, key=lambda kv: kv[0]):
            digest.update(k.encode())
            digest.update(np.ascontiguousarray(v).tobytes())
        digest.update(json.dumps([self.config.arch, self.config.input_size]).encode())
        return _cache_dir() / "onnx" / f"{self.config.arch}-{digest.hexdigest()[:16]}.onnx"

    def _cached_onnx(self) -> Path:
        """Export once per distinct set of weights; later loads reuse the cached graph."""
        path = self._onnx_path()
        return path if path.exists() else self.export_onnx(path)


def _checkpoint_arrays(path: Path):
    """(name, array) of a checkpoint as the network holds them after `load_state_dict(v.float())`: floats
    as float32 (an fp16 checkpoint widens exactly), integers as stored."""
    with safe_open(str(path), "np") as fh:
        for k in fh.keys():  # noqa: SIM118  (safe_open is not a dict)
            v = fh.get_tensor(k)
            yield k, v.astype(np.float32) if v.dtype.kind == "f" else v


def _build_module(path: Path | None, config: ModelConfig) -> torch.nn.Module:
    """The torch network of a checkpoint, its weights checked and loaded; a one-line ModelError if not."""
    import torch
    from safetensors.torch import load_file

    from fakescope.models import create_model

    if path is None:
        raise ModelError("this classifier has no checkpoint to build its network from")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"cannot load model {path}: {exc}") from None
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ModelError(f"{path} has NaN or infinite weights ({', '.join(bad[:3])}"
                         f"{', ...' if len(bad) > 3 else ''}): the checkpoint is damaged")
    try:
        module = create_model(config.arch, pretrained=False, input_size=config.input_size)
        module.load_state_dict({k: v.float() for k, v in state.items()})
    except (RuntimeError, ValueError, TypeError) as exc:
        # torch lists every missing key on its own line: the CLI prints one line.
        reason = " ".join(str(exc).split())[:200]
        raise ModelError(f"{path} does not match architecture {config.arch}: {reason}") from None
    return module


_noted: set[str] = set()


def _note_once(message: str) -> None:
    """A warning a process says once, however many models it loads (a batch, a server worker)."""
    if message not in _noted:
        _noted.add(message)
        log.warning("fakescope: note: %s", message)


def check_device(name: str) -> torch.device:
    """A device torch can use here, or a one-line reason why not."""
    import torch

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
