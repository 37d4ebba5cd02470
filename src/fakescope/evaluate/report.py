"""`fakescope evaluate`: score a labelled cache or set of videos and report, frame by frame and video by video.

Frame level scores each face crop on its own; video level is what a scan says about a whole video (per
person its frames aggregated as `--aggregate` says, mean by default, then the most suspicious person:
`fakescope.aggregate`, the very rule `fakescope scan` applies), so a detector is judged both on what it
sees and on what a user is told. The two are never pooled: every figure in the JSON sits under "frame" or
"video" and every Markdown row names its level. Results are broken down per dataset and per manipulation
method (a method's fakes against all reals of its dataset, as FF++ papers do).

Sources: a cache from `fakescope prepare` (its test split unless told otherwise), or any dataset a
reader knows (`--format`): ready-made crops are scored as crops, videos go through the full scan pipeline.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fakescope.aggregate import tracks_probability
from fakescope.data.crops import MANIFEST, CropItem, read_crops
from fakescope.data.datasets import CROP, SourceItem, read_dataset
from fakescope.data.labels import as_prefixes
from fakescope.data.split import spread
from fakescope.errors import FakescopeError
from fakescope.evaluate.metrics import (
    auc_interval,
    binary_report,
    precision_recall_curve,
    reliability_bins,
    roc_curve,
)
from fakescope.evaluate.scoring import score_crops, score_videos
from fakescope.models import FaceClassifier
from fakescope.options import ScanOptions

SCHEMA = "fakescope.evaluate/1"
LEVELS = ("frame", "video")


@dataclass
class Scores:
    """Labels and fake probabilities at one level, with what each row belongs to."""

    labels: list[int] = field(default_factory=list)
    probs: list[float] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)

    def add(self, label: int, prob: float, dataset: str, method: str) -> None:
        self.labels.append(label)
        self.probs.append(float(prob))
        self.datasets.append(dataset or "-")
        self.methods.append(method)

    def subset(self, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.labels)[keep], np.asarray(self.probs)[keep]


@dataclass
class Evaluation:
    frame: Scores = field(default_factory=Scores)
    video: Scores = field(default_factory=Scores)
    unscored: list[str] = field(default_factory=list)  # videos with no face or an error: one line each
    files: list[dict] = field(default_factory=list)  # each scanned video's verdict, to see which were wrong
    frames_per_video: float = 0.0


def score_crop_items(clf: FaceClassifier, items: Sequence[CropItem], ev: Evaluation,
                     options: ScanOptions | None = None) -> None:
    """Frame level per crop; video level by grouping crops on (dataset, video, label) into persons (tracks)
    and applying scan's rule with `options.aggregate`."""
    aggregate = (options or ScanOptions()).aggregate
    probs = score_crops(clf, items)
    videos: dict[tuple, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for it, p in zip(items, probs):
        ev.frame.add(it.label, p, it.dataset, it.method)
        videos[(it.dataset, it.video or str(it.path), it.label, it.method)][it.track].append(float(p))
    for (dataset, _, label, method), tracks in videos.items():
        ev.video.add(label, tracks_probability(tracks, aggregate), dataset, method)


def score_video_items(clf: FaceClassifier, items: Sequence[SourceItem], ev: Evaluation,
                      options: ScanOptions | None = None, on_file: Callable[[], None] = lambda: None) -> None:
    """Each video through the scan pipeline, with `options` (frames, aggregation, ...) as `scan` takes them:
    its persons' frame scores are the frame level, its probability the video level."""
    from fakescope.scan import Scanner

    scanner = Scanner(model=clf, options=options)
    for it in items:
        result = score_videos(scanner, [it.path])[0]
        on_file()
        if result.probability is None:
            ev.unscored.append(result.message)
            continue
        for person in result.persons:
            for s in person.scores:
                ev.frame.add(it.label, s, it.dataset, it.method)
        ev.video.add(it.label, result.probability, it.dataset, it.method)
        ev.files.append({"path": str(it.path), "label": "fake" if it.label else "real", "dataset": it.dataset,
                         "method": it.method, "probability": round(result.probability, 6),
                         "verdict": result.verdict})


def _select(items: list, split: str | None, split_of: Callable[[object], str]) -> list:
    if split in (None, "all"):
        return items
    chosen = [it for it in items if split_of(it) == split]
    if not chosen:
        raise FakescopeError(f"nothing in split {split!r}; pass --split all to evaluate everything")
    return chosen


def collect(clf: FaceClassifier, source: str | Path, fmt: str | None = None, split: str | None = None,
            limit: int = 0, options: ScanOptions | None = None, progress: bool = False,
            prefix: str | Sequence[str] | None = None) -> Evaluation:
    """Score `source`: a prepared cache (default split: test), or a dataset in layout `fmt` (default: a
    folder of real/ and fake/, or a CSV) whose crops are scored as crops and videos as scan would with
    `options`. With `prefix`, only the files whose path in the dataset (or cache) starts with it, or one of
    them."""
    from tqdm import tqdm

    source = Path(source)
    ev = Evaluation()
    if fmt is None and source.is_dir() and (source / MANIFEST).is_file():
        crops = _select(read_crops(source, prefix), split or "test", lambda it: it.split)
        score_crop_items(clf, spread(crops, limit), ev, options)
    else:
        fmt = fmt or ("csv" if source.suffix.lower() == ".csv" else "folder")
        items = spread(_select(read_dataset(source, fmt, prefix), split, lambda it: it.official_split), limit)
        crops = [CropItem.from_source(it) for it in items if it.kind == CROP]
        videos = [it for it in items if it.kind != CROP]
        if crops:
            score_crop_items(clf, crops, ev, options)
        bar = tqdm(total=len(videos), unit="video", disable=not progress or not videos)
        score_video_items(clf, videos, ev, options, on_file=lambda: bar.update(1))
        bar.close()
    if not ev.frame.labels:
        raise FakescopeError(f"{source}: nothing could be scored ({len(ev.unscored)} file(s) without a face)")
    ev.frames_per_video = len(ev.frame.labels) / max(1, len(ev.video.labels))
    return ev


# ---- figures ------------------------------------------------------------------------------------------
def _level_report(labels: np.ndarray, probs: np.ndarray, threshold: float, level: str) -> dict:
    """binary_report's figures, plus `auc_ci`: the AUC's 95 % bootstrap interval, as a few dozen videos
    give an AUC that another few dozen would not."""
    rep = binary_report(labels, probs, threshold)
    out = {"level": level, **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in rep.items()}}
    out["auc_ci"] = [round(v, 6) for v in auc_interval(labels, probs)]
    return out


def _breakdowns(ev: Evaluation, threshold: float) -> tuple[dict, dict]:
    """Per dataset, and per method within a dataset (its fakes against all of the dataset's reals)."""
    by_dataset: dict[str, dict] = defaultdict(dict)
    by_method: dict[str, dict] = defaultdict(lambda: defaultdict(dict))
    for level in LEVELS:
        scores: Scores = getattr(ev, level)
        ds, meth, y = np.asarray(scores.datasets), np.asarray(scores.methods), np.asarray(scores.labels)
        for d in sorted(set(scores.datasets)):
            in_d = ds == d
            by_dataset[d][level] = _level_report(*scores.subset(in_d), threshold, level)
            for m in sorted({m for m, lab in zip(meth[in_d], y[in_d]) if lab == 1 and m}):
                keep = in_d & ((y == 0) | (meth == m))
                by_method[d][m][level] = _level_report(*scores.subset(keep), threshold, level)
    return dict(by_dataset), {d: dict(m) for d, m in by_method.items()}


def build_report(ev: Evaluation, clf: FaceClassifier, source: str, split: str | None,
                 prefix: str | Sequence[str] | None = None, options: ScanOptions | None = None) -> dict:
    threshold = clf.config.threshold
    by_dataset, by_method = _breakdowns(ev, threshold)
    overall = {level: _level_report(np.asarray(getattr(ev, level).labels), np.asarray(getattr(ev, level).probs),
                                    threshold, level) for level in LEVELS}
    reliability = {level: reliability_bins(getattr(ev, level).labels, getattr(ev, level).probs) for level in LEVELS}
    notes = []
    if ev.frames_per_video <= 1.0:
        notes.append("every video has a single crop here: video-level figures equal frame-level ones")
    if ev.unscored:
        notes.append(f"{len(ev.unscored)} file(s) could not be scored and are left out of every figure")
    return {"schema": SCHEMA, "model": str(clf.source or clf.config.name), "source": str(source),
            "split": split or "", "only": list(as_prefixes(prefix)), "aggregate": (options or ScanOptions()).aggregate,
            "threshold": threshold, "frames_per_video": round(ev.frames_per_video, 2),
            "overall": overall, "by_dataset": by_dataset, "by_method": by_method, "reliability": reliability,
            "files": ev.files, "verdicts": verdict_counts(ev.files), "unscored": ev.unscored, "notes": notes}


def verdict_counts(files: list[dict]) -> dict[str, dict[str, int]]:
    """Scan's verdicts of the scanned videos, per label: UNCERTAIN is counted apart, neither right nor wrong."""
    counts: dict[str, dict[str, int]] = {}
    for f in files:
        row = counts.setdefault(f["label"], {"FAKE": 0, "UNCERTAIN": 0, "REAL": 0})
        row[f["verdict"]] = row.get(f["verdict"], 0) + 1
    return counts


def _fmt(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.4f}" if isinstance(v, float) \
        else str(v)


def _interval(ci: list | None) -> str:
    return "n/a" if not ci or any(np.isnan(v) for v in ci) else f"{ci[0]:.3f}–{ci[1]:.3f}"


def _row(name: str, rep: dict) -> str:
    keys = ("ap", "eer", "log_loss", "ece", "accuracy", "precision", "recall", "specificity")
    return (f"| {name} | {rep['level']} | {rep['n_real']}/{rep['n_fake']} | {_fmt(rep['auc'])} | "
            f"{_interval(rep.get('auc_ci'))} | " + " | ".join(_fmt(rep[k]) for k in keys) + " |")


def to_markdown(report: dict) -> str:
    head = ("| subset | level | n real/fake | ROC AUC | AUC 95 % interval | AP | EER | log loss | ECE | accuracy "
            "| precision | recall | specificity |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [f"# Evaluation of `{report['model']}`", "",
             f"Source `{report['source']}`" + (f", split `{report['split']}`" if report["split"] else "")
             + (f", only paths starting with {', '.join(f'`{o}`' for o in report['only'])}" if report["only"] else "")
             + f". Threshold {report['threshold']:.3f} (the model's) for accuracy, precision, recall and "
             "specificity. Frame level: each face crop scored alone. Video level: per person the "
             f"{report.get('aggregate', 'mean')} over its frames, then the most suspicious person, as "
             f"`fakescope scan --aggregate {report.get('aggregate', 'mean')}` does. The AUC interval: 95 % "
             "percentile bootstrap, genuine and fake items resampled apart (how far other items of the same "
             "kind could move the figure).", ""]
    lines += [f"> {n}" for n in report["notes"]] + ([""] if report["notes"] else [])
    lines += ["## Overall", "", head] + [_row("all", report["overall"][lv]) for lv in LEVELS] + [""]
    lines += ["Confusion matrices ([[TN, FP], [FN, TP]], fake = positive): "
              + "; ".join(f"{lv}-level {report['overall'][lv]['confusion_matrix']}" for lv in LEVELS), ""]
    lines += ["## Per dataset", "", head]
    lines += [_row(d, r[lv]) for d, r in report["by_dataset"].items() for lv in LEVELS] + [""]
    if report["by_method"]:
        lines += ["## Per manipulation method (its fakes against all reals of its dataset)", "", head]
        lines += [_row(f"{d} / {m}", r[lv]) for d, ms in report["by_method"].items() for m, r in ms.items()
                  for lv in LEVELS] + [""]
    threshold = report["threshold"]
    wrong = [f for f in report["files"] if f["verdict"] != "UNCERTAIN"
             and (f["probability"] >= threshold) != (f["label"] == "fake")]
    if report["files"]:
        lines += ["## Scan's verdicts (UNCERTAIN counted apart)", "", "| label | FAKE | UNCERTAIN | REAL |",
                  "|---|---|---|---|"]
        lines += [f"| {label} | {c['FAKE']} | {c['UNCERTAIN']} | {c['REAL']} |"
                  for label, c in sorted(report["verdicts"].items())] + [""]
        lines += [(f"## Videos on the wrong side of the threshold ({len(wrong)} of {len(report['files'])}, "
                   "UNCERTAIN left out)"), ""]
        lines += ["| video | label | method | P(fake) |", "|---|---|---|---|"] if wrong else []
        lines += [f"| `{f['path']}` | {f['label']} | {f['method'] or '-'} | {f['probability']:.3f} |"
                  for f in sorted(wrong, key=lambda f: f["path"])] + [""]
    lines += ["Figures: `roc.png`, `pr.png` (frame and video level, per dataset), `reliability.png`.", ""]
    return "\n".join(lines)


def _plot(ev: Evaluation, report: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for name, curve, (xl, yl) in (("roc", roc_curve, ("false-positive rate", "true-positive rate")),
                                  ("pr", precision_recall_curve, ("recall", "precision"))):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
        for ax, level in zip(axes, LEVELS):
            scores: Scores = getattr(ev, level)
            ds = np.asarray(scores.datasets)
            for d in sorted(set(scores.datasets)):
                y, p = scores.subset(ds == d)
                if 0 < y.sum() < len(y):
                    a, b = curve(y, p)[:2]
                    auc = report["by_dataset"][d][level]["auc" if name == "roc" else "ap"]
                    ax.plot(a, b, label=f"{d} ({'AUC' if name == 'roc' else 'AP'} {auc:.3f})")
            ax.set(title=f"{level} level", xlabel=xl, ylabel=yl, xlim=(0, 1), ylim=(0, 1.02))
            ax.legend(fontsize=8, loc="lower right" if name == "roc" else "lower left")
        fig.tight_layout()
        fig.savefig(out / f"{name}.png", dpi=100)
        plt.close(fig)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, level in zip(axes, LEVELS):
        bins = [b for b in report["reliability"][level] if b["count"]]
        ax.plot([0, 1], [0, 1], ":", color="gray")
        ax.bar([b["mean_prob"] for b in bins], [b["fake_rate"] for b in bins], width=0.08, alpha=0.7)
        ax.set(title=f"{level} level, ECE {report['overall'][level]['ece']:.3f}", xlabel="predicted P(fake)",
               ylabel="observed share of fakes", xlim=(0, 1), ylim=(0, 1))
    fig.tight_layout()
    fig.savefig(out / "reliability.png", dpi=100)
    plt.close(fig)


def evaluate(model: str | Path, source: str | Path, out: str | Path, fmt: str | None = None,
             split: str | None = None, limit: int = 0, progress: bool = False,
             prefix: str | Sequence[str] | None = None, options: ScanOptions | None = None,
             **changes: object) -> dict:
    """Score, then write report.json, report.md, roc.png, pr.png and reliability.png to `out`. Videos are
    scanned with `options` and the scan options in `changes` (`num_frames=16`, `aggregate="max"`), checked
    before the model loads."""
    options = ScanOptions.build(options, **changes)
    clf = FaceClassifier.load(model)
    ev = collect(clf, source, fmt, split, limit, options, progress, prefix)
    is_cache = fmt is None and Path(source, MANIFEST).is_file()
    report = build_report(ev, clf, str(source), split or ("test" if is_cache else None), prefix, options)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(to_markdown(report))
    _plot(ev, report, out)
    return report
