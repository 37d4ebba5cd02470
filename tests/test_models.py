"""Checkpoints: safetensors round trips (fp32 and fp16), ONNX and torch agreeing, bad files as one-line
ModelErrors, no pickle anywhere in loading; and the MesoNet baseline checked against a numpy re-implementation
of the published Keras model."""

from __future__ import annotations

import json
import os
import pickle
import struct
from dataclasses import asdict, replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from fakescope.errors import ModelError
from fakescope.faces import create_detector, crop_face
from fakescope.models import FaceClassifier, ModelConfig, create_model, list_models, load_classifier
from fakescope.models.classifier import WEIGHTS_DIR

MESO4_DF = Path("peers/mesonet/Meso4_DF.h5")


@pytest.fixture(scope="module")
def crops(astronaut: np.ndarray) -> np.ndarray:
    """Real face crops at 128 px: the astronaut at three margins, and mirrored."""
    (face,) = create_detector("yunet").detect(astronaut)
    out = [crop_face(astronaut, face, 128, m) for m in (0.9, 1.1, 1.4)]
    return np.stack(out + [c[:, ::-1] for c in out])


@pytest.fixture(scope="module")
def classifier() -> FaceClassifier:
    """An in-memory model with a non-default config, to see every field survive a round trip."""
    torch.manual_seed(1)
    m = create_model("efficientnet_lite0", pretrained=True)
    config = ModelConfig.from_module("efficientnet_lite0", m, threshold=0.37, temperature=1.7, crop_margin=1.3,
                                     name="unit", extra={"trained_on": "nothing"})
    return FaceClassifier(m, config, backend="torch")


def test_fp32_round_trip_is_exact_and_keeps_the_config(classifier: FaceClassifier, crops: np.ndarray,
                                                       tmp_path: Path) -> None:
    path = classifier.save(tmp_path / "m.safetensors")
    loaded = FaceClassifier.load(path, backend="torch")
    assert loaded.config == classifier.config and loaded.source == path
    np.testing.assert_allclose(loaded.predict(crops), classifier.predict(crops), atol=1e-6)


def test_a_newer_config_field_is_ignored_on_load(classifier: FaceClassifier, tmp_path: Path) -> None:
    """A checkpoint written by a newer fakescope (one more config field) still loads here."""
    cfg = dict(asdict(classifier.config), added_in_a_later_version=3)
    path = tmp_path / "newer.safetensors"
    save_file({k: v.contiguous() for k, v in classifier.module.state_dict().items()}, str(path),
              metadata={"fakescope": json.dumps(cfg)})
    assert FaceClassifier.load(path).config == classifier.config


def test_fp16_checkpoint_is_half_the_size_and_predicts_the_same(classifier: FaceClassifier, crops: np.ndarray,
                                                                tmp_path: Path) -> None:
    full = classifier.save(tmp_path / "fp32.safetensors")
    half = classifier.save(tmp_path / "fp16.safetensors", half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    p32 = FaceClassifier.load(full, backend="torch").predict(crops)
    p16 = FaceClassifier.load(half, backend="torch").predict(crops)
    np.testing.assert_allclose(p16, p32, atol=5e-3)


def test_onnx_and_torch_backends_agree(tiny_model_path: Path, crops: np.ndarray) -> None:
    onnx = load_classifier(tiny_model_path, backend="onnx")
    torch_ = load_classifier(tiny_model_path, backend="torch")
    assert onnx.backend == "onnx" and torch_.backend == "torch"
    np.testing.assert_allclose(onnx.logits(crops), torch_.logits(crops), atol=1e-3)
    np.testing.assert_allclose(onnx.predict(crops, batch_size=4), torch_.predict(crops), atol=1e-4)


def test_a_recalibrated_copy_reuses_the_exported_graph(tiny_model_path: Path, tmp_path: Path) -> None:
    """The ONNX cache is keyed by what the graph holds: the same weights with another temperature, threshold,
    band or mirror share one export; another input size does not."""
    clf = FaceClassifier.load(tiny_model_path, backend="torch")
    recal = replace(clf.config, temperature=3.0, threshold=0.9, uncertain_from=0.8, mirror=True)
    copy = FaceClassifier.load(FaceClassifier(clf.module, recal).save(tmp_path / "recal.safetensors"),
                               backend="torch")
    assert copy.config.threshold == 0.9 and copy._onnx_path() == clf._onnx_path()
    assert FaceClassifier(clf.module, replace(clf.config, input_size=160))._onnx_path() != clf._onnx_path()


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_mirror_averages_each_crop_with_its_mirror_image(tiny_model_path: Path, crops: np.ndarray,
                                                         backend: str) -> None:
    """The fixture's last three crops are the first three mirrored: with `mirror` a crop and its mirror score
    the same, the mean of the two plain scores, and a batch boundary between them changes nothing."""
    plain = load_classifier(tiny_model_path, backend=backend)
    mirrored = load_classifier(tiny_model_path, backend=backend)
    mirrored.config.mirror = True
    z, zm = plain.logits(crops), mirrored.logits(crops, batch_size=4)
    assert not np.allclose(z[:3], z[3:], atol=1e-4)  # the model itself is not mirror-symmetric
    np.testing.assert_allclose(zm[:3], zm[3:], atol=1e-4)
    np.testing.assert_allclose(zm[:3], (z[:3] + z[3:]) / 2, atol=1e-4)


def test_predict_applies_the_temperature(classifier: FaceClassifier, crops: np.ndarray) -> None:
    z = classifier.logits(crops)
    np.testing.assert_allclose(classifier.predict(crops), 1 / (1 + np.exp(-z / 1.7)), atol=1e-6)


def test_crops_of_the_wrong_size_are_refused(classifier: FaceClassifier) -> None:
    with pytest.raises(ValueError, match="128x128"):
        classifier.predict(np.zeros((1, 64, 64, 3), np.uint8))
    assert classifier.predict(np.zeros((0, 128, 128, 3), np.uint8)).shape == (0,)


def test_loading_never_unpickles(tiny_model_path: Path, crops: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint is data: loading it must not go near pickle, which runs whatever a file says."""

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used to load a model")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    clf = FaceClassifier.load(tiny_model_path, backend="torch")
    assert clf.predict(crops[:1]).shape == (1,)


def _config(**over) -> str:
    base = {"arch": "efficientnet_lite0", "input_size": 128, "mean": [0.5] * 3, "std": [0.5] * 3}
    return json.dumps({**base, **over})


def _write_bad(kind: str, path: Path, good: Path) -> None:
    """Files that look like checkpoints and are not, each in its own way."""
    tensor = {"w": torch.zeros(2)}
    if kind == "random":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        data = good.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    elif kind == "bad_header":
        path.write_bytes(struct.pack("<Q", 20) + b'{"a": not json}xxxx')
    elif kind == "no_metadata":
        save_file(tensor, str(path))
    elif kind == "metadata_not_json":
        save_file(tensor, str(path), metadata={"fakescope": "{oops"})
    elif kind == "metadata_not_a_dict":
        save_file(tensor, str(path), metadata={"fakescope": "[1, 2]"})
    elif kind == "unknown_config_field":
        save_file(tensor, str(path), metadata={"fakescope": _config(colour="blue")})
    elif kind == "unknown_arch":
        save_file(tensor, str(path), metadata={"fakescope": _config(arch="resnet9000")})
    elif kind == "weights_of_another_model":
        save_file(tensor, str(path), metadata={"fakescope": _config()})
    elif kind == "config_of_wrong_type":
        save_file(tensor, str(path), metadata={"fakescope": _config(input_size="large")})
    else:
        raise ValueError(kind)


BAD_CHECKPOINTS = ["random", "empty", "truncated", "bad_header", "no_metadata", "metadata_not_json",
                   "metadata_not_a_dict", "unknown_config_field", "unknown_arch", "weights_of_another_model",
                   "config_of_wrong_type"]


@pytest.mark.parametrize("kind", BAD_CHECKPOINTS)
def test_bad_checkpoint_is_a_one_line_model_error(kind: str, tmp_path: Path, tiny_model_path: Path) -> None:
    path = tmp_path / f"{kind}.safetensors"
    _write_bad(kind, path, tiny_model_path)
    with pytest.raises(ModelError) as info:
        FaceClassifier.load(path)
    message = str(info.value)
    assert message and "\n" not in message and len(message) < 400


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_device_torch_cannot_use_is_a_model_error(tiny_model_path: Path) -> None:
    with pytest.raises(ModelError, match="no CUDA GPU"):
        FaceClassifier.load(tiny_model_path, device="cuda")
    with pytest.raises(ModelError, match="unknown device"):
        FaceClassifier.load(tiny_model_path, device="tpu")


def test_unknown_model_name_lists_what_exists() -> None:
    with pytest.raises(ModelError, match="not found"):
        FaceClassifier.load("no-such-model")
    with pytest.raises(ModelError, match="efficientnet_lite0"):
        create_model("no-such-arch")
    assert {"efficientnet_lite0", "meso4"} <= set(list_models())


def test_a_checkpoint_without_a_crop_margin_is_cropped_as_training_crops(classifier: FaceClassifier,
                                                                          tmp_path: Path) -> None:
    """One crop policy default: what scan uses for a checkpoint that does not record its margin is what
    `prepare` cuts and `train` records when not told otherwise."""
    from fakescope.data.prepare import PrepareOptions
    from fakescope.faces import CROP_MARGIN
    from fakescope.train import TrainConfig

    cfg = asdict(classifier.config)
    del cfg["crop_margin"]
    path = tmp_path / "old.safetensors"
    save_file({k: v.contiguous() for k, v in classifier.module.state_dict().items()}, str(path),
              metadata={"fakescope": json.dumps(cfg)})
    margin = FaceClassifier.load(path).config.crop_margin
    assert margin == CROP_MARGIN == TrainConfig().crop_margin == PrepareOptions().margin
    assert classifier.config.crop_margin == 1.3  # a recorded margin is kept


def test_bundled_default_model_loads_when_present(crops: np.ndarray) -> None:
    if not (WEIGHTS_DIR / "default.safetensors").is_file():
        pytest.skip("the default model is not bundled yet")
    clf = load_classifier("default")
    assert 0 < clf.config.threshold < 1 and clf.config.temperature > 0
    size = clf.config.input_size
    p = clf.predict(np.stack([cv2.resize(c, (size, size)) for c in crops]))
    assert p.shape == (len(crops),) and np.all((p >= 0) & (p <= 1))


# ---- MesoNet -------------------------------------------------------------------------------------------

def _keras_meso4(h5_path: Path, x: np.ndarray) -> float:
    """The published Keras Meso-4 forward pass written out in numpy from the .h5 arrays, layer by layer in
    the file's own layer order: conv (same padding) + ReLU, batch norm (eps 1e-3), max pool, flatten in
    Keras's channels-last order, dense, LeakyReLU(0.1), dense, sigmoid. `x` is (H, W, 3) in [0, 1];
    returns the sigmoid, P(real)."""
    import h5py
    from numpy.lib.stride_tricks import sliding_window_view

    pools = iter([2, 2, 2, 4])
    h = x[None].astype(np.float64)
    with h5py.File(h5_path, "r") as f:
        for name in (n.decode() for n in f.attrs["layer_names"]):
            w = {k.split(":")[0]: np.asarray(v, np.float64) for k, v in f[name][name].items()} if name in f \
                and name in f[name] else {}
            if name.startswith("conv2d"):
                r = w["kernel"].shape[0] // 2
                padded = np.pad(h, ((0, 0), (r, r), (r, r), (0, 0)))
                windows = sliding_window_view(padded, w["kernel"].shape[:2], axis=(1, 2))
                h = np.maximum(np.einsum("nhwcij,ijco->nhwo", windows, w["kernel"]) + w["bias"], 0)
            elif name.startswith("batch_normalization"):
                h = (h - w["moving_mean"]) / np.sqrt(w["moving_variance"] + 1e-3) * w["gamma"] + w["beta"]
            elif name.startswith("max_pooling2d"):
                s = next(pools)
                n, hh, ww, c = h.shape
                h = h.reshape(n, hh // s, s, ww // s, s, c).max(axis=(2, 4))
            elif name.startswith("flatten"):
                h = h.reshape(len(h), -1)
            elif name.startswith("dense"):
                h = h @ w["kernel"] + w["bias"]
                if w["kernel"].shape[1] > 1:
                    h = np.where(h > 0, h, 0.1 * h)
    return float(1 / (1 + np.exp(-h[0, 0])))


@pytest.fixture(scope="module")
def meso_crop(astronaut: np.ndarray) -> np.ndarray:
    (face,) = create_detector("yunet").detect(astronaut)
    return crop_face(astronaut, face, 256, 1.1)


def test_mesonet_matches_the_keras_model(shared_data: Path, meso_crop: np.ndarray) -> None:
    h5 = shared_data / MESO4_DF
    if not h5.is_file():
        pytest.skip(f"{MESO4_DF} is not in ../shared/data")
    module = create_model("meso4", weights=h5).eval()
    x = meso_crop.astype(np.float32) / 255
    p_real = _keras_meso4(h5, x)
    with torch.no_grad():
        fake_logit = module(torch.from_numpy(x.transpose(2, 0, 1)[None].copy())).item()
    assert 1 / (1 + np.exp(fake_logit)) == pytest.approx(p_real, abs=1e-5)
    # Through FaceClassifier (which scales to [0, 1] itself) the same crop gives P(fake) = 1 - P(real).
    clf = FaceClassifier(module, ModelConfig.from_module("meso4", module), backend="torch")
    assert clf.predict(meso_crop[None])[0] == pytest.approx(1 - p_real, abs=1e-5)


def test_mesonet_flattens_channels_last_like_keras(shared_data: Path, meso_crop: np.ndarray) -> None:
    """The dense layer's 1024 inputs are Keras's (8, 8, 16) flattened channels-last. Flattening PyTorch's
    (16, 8, 8) directly feeds the same numbers in another order: the output must change, and only the
    channels-last order agrees with Keras (the test above)."""
    h5 = shared_data / MESO4_DF
    if not h5.is_file():
        pytest.skip(f"{MESO4_DF} is not in ../shared/data")
    module = create_model("meso4", weights=h5).eval()
    x = torch.from_numpy((meso_crop.astype(np.float32) / 255).transpose(2, 0, 1)[None].copy())
    with torch.no_grad():
        features = module.features(x)
        assert features.shape == (1, 16, 8, 8)
        keras_order = -module.classifier(features.permute(0, 2, 3, 1).flatten(1)).item()
        torch_order = -module.classifier(features.flatten(1)).item()
        assert module(x).item() == pytest.approx(keras_order, abs=1e-6)
    assert abs(keras_order - torch_order) > 1e-3


def test_mesonet_without_weights_says_where_to_get_them() -> None:
    with pytest.raises(ModelError, match="weights"):
        create_model("meso4", pretrained=True)


def test_mesonet_rejects_a_file_that_is_not_keras_weights(tmp_path: Path) -> None:
    pytest.importorskip("h5py")
    path = tmp_path / "x.h5"
    path.write_bytes(os.urandom(256))
    with pytest.raises(ModelError):
        create_model("meso4", weights=path)
