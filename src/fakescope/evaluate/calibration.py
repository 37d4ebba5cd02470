"""Calibration at the level a user reads: the temperature, the FAKE threshold and the UNCERTAIN band of a
model, chosen on a pool of held-out videos from several sources.

A user is told one probability per person and per video, not per frame, and a video's is the mean of a
person's frame probabilities (scan's rule), which a frame-level temperature does not calibrate. So the
temperature is fitted on video-level log loss, each source weighing the same (1,600 DFDC crops must not
drown 30 talking heads). The threshold is the lowest at which no source of the pool calls more than
`max_false_fake` of its genuine videos FAKE: a FAKE must mean something on footage of every kind, not on
average. Below it, the UNCERTAIN band reaches down as far as it can while no source puts more than
`max_uncertain` of its genuine videos there: fakes that score there are not called REAL, and a genuine
video is seldom left without an answer.

A still image is judged as one frame, and one frame is noisier than a person's mean over a clip: with
`per_frame`, every genuine frame of a source's clips counts as well, as a source of its own ("<source>
(frames)"), so the threshold and the band also hold for faces judged alone.

The pool can also say that a model should not be trusted: a source whose genuine videos outscore its fakes
(video AUC below 0.5) is ranked backwards, and a temperature at the end of its search range means the log
loss only falls as the scores are flattened towards 0.5, so the probabilities users read will carry little.
Both are listed in `warnings` (and printed by `fakescope calibrate`); the threshold rules still hold.

    >>> videos = [PoolVideo(label=0, source="real-people", track_logits=[np.array([-1.2, -0.4])]), ...]
    >>> cal = calibrate(videos)
    >>> cal.temperature, cal.threshold, cal.uncertain_from
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from fakescope.aggregate import DEFAULT_AGGREGATE, person_probability
from fakescope.data import CropItem
from fakescope.errors import FakescopeError
from fakescope.evaluate.metrics import auc_interval, roc_auc
from fakescope.models.classifier import temperature_scaled

# How many genuine videos of any one pool source may be called FAKE, and left UNCERTAIN, at the chosen
# threshold and band: below the 5 % and 10 % targets on unseen sources, to leave room for shift.
MAX_FALSE_FAKE = 0.02
MAX_UNCERTAIN = 0.05
_T_GRID = np.exp(np.linspace(np.log(0.05), np.log(20.0), 400))


@dataclass
class PoolVideo:
    """One video of the calibration pool: its label (1 = fake), its source and each person's frame logits."""

    label: int
    source: str
    track_logits: list[np.ndarray]
    method: str = ""
    # Each person's face size (median shorter side of its boxes, full-frame pixels) when known: scan calls a
    # face too small to judge UNCERTAIN, and a benchmark must count it the same way.
    face_sides: list[float | None] = field(default_factory=list)


@dataclass
class Calibration:
    temperature: float
    threshold: float
    uncertain_from: float
    max_false_fake: float
    max_uncertain: float
    # Per source: genuine and fake videos in the pool, its video AUC when it has both, and the shares at the
    # chosen operating point.
    sources: dict[str, dict] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def person_probabilities(video: PoolVideo, temperature: float) -> list[float]:
    """Each person's probability under `temperature`, by scan's default rule."""
    return [person_probability(temperature_scaled(z, temperature), DEFAULT_AGGREGATE)
            for z in video.track_logits]


def video_probability(video: PoolVideo, temperature: float) -> float:
    """A video is as fake as its most suspicious person."""
    return max(person_probabilities(video, temperature))


def fit_video_temperature(videos: Sequence[PoolVideo]) -> float:
    """The temperature minimising video-level log loss, each source weighing the same."""
    labels = np.array([v.label for v in videos], np.float64)
    sources = [v.source for v in videos]
    counts = defaultdict(int)
    for s in sources:
        counts[s] += 1
    weights = np.array([1.0 / counts[s] for s in sources])
    if len(set(labels)) < 2:
        raise FakescopeError("the calibration pool needs genuine and fake videos")
    best, best_loss = 1.0, np.inf
    for t in _T_GRID:
        p = np.clip([video_probability(v, t) for v in videos], 1e-7, 1 - 1e-7)
        loss = -np.sum(weights * (labels * np.log(p) + (1 - labels) * np.log(1 - p))) / weights.sum()
        if loss < best_loss:
            best, best_loss = float(t), loss
    return best


def _reals_by_source(videos: Sequence[PoolVideo], probs: np.ndarray) -> dict[str, np.ndarray]:
    out: dict[str, list[float]] = defaultdict(list)
    for v, p in zip(videos, probs):
        if v.label == 0:
            out[v.source].append(float(p))
    return {s: np.asarray(p) for s, p in out.items()}


def _genuine_frames(videos: Sequence[PoolVideo], temperature: float) -> dict[str, np.ndarray]:
    """Each clip source's genuine frames, one probability a frame (sources of one-frame videos have none:
    their videos are frames already)."""
    out: dict[str, list[float]] = defaultdict(list)
    clips = {v.source for v in videos if sum(len(z) for z in v.track_logits) > 1}
    for v in videos:
        if v.label == 0 and v.source in clips:
            for z in v.track_logits:
                out[f"{v.source} (frames)"] += temperature_scaled(z, temperature).tolist()
    return {s: np.asarray(p) for s, p in out.items()}


def _just_above(values: np.ndarray) -> np.ndarray:
    return np.nextafter(values, np.inf)


def choose_threshold(reals: dict[str, np.ndarray], max_false_fake: float = MAX_FALSE_FAKE,
                     floor: float = 0.5) -> float:
    """The lowest threshold, `floor` or above, at which every source calls at most `max_false_fake` of its
    reals FAKE (p >= threshold). A small source allows none: the threshold then passes its highest real."""
    values = np.concatenate(list(reals.values())) if reals else np.zeros(0)
    for t in np.concatenate([[floor], np.sort(_just_above(values[values >= floor]))]):
        if all(np.mean(p >= t) <= max_false_fake for p in reals.values() if len(p)):
            return float(t)
    return 1.0


def choose_band(reals: dict[str, np.ndarray], threshold: float, max_uncertain: float = MAX_UNCERTAIN,
                floor: float = 0.5) -> float:
    """The lowest `uncertain_from` in [floor, threshold] at which every source leaves at most `max_uncertain`
    of its reals in [uncertain_from, threshold). The floor keeps REAL meaning "more likely genuine than not"
    and UNCERTAIN "leans fake, not enough to accuse"."""
    values = np.concatenate(list(reals.values())) if reals else np.zeros(0)
    for u in np.concatenate([[floor], np.sort(_just_above(values[(values >= floor) & (values < threshold)]))]):
        if all(np.mean((p >= u) & (p < threshold)) <= max_uncertain for p in reals.values() if len(p)):
            return float(min(u, threshold))
    return threshold


def calibrate(videos: Sequence[PoolVideo], max_false_fake: float = MAX_FALSE_FAKE,
              max_uncertain: float = MAX_UNCERTAIN, per_frame: bool = False) -> Calibration:
    """Temperature, threshold and band for a pool; see the module docstring for the rules."""
    temperature = fit_video_temperature(videos)
    probs = np.array([video_probability(v, temperature) for v in videos])
    frames = _genuine_frames(videos, temperature) if per_frame else {}
    reals = {**_reals_by_source(videos, probs), **frames}
    threshold = choose_threshold(reals, max_false_fake)
    uncertain_from = choose_band(reals, threshold, max_uncertain)
    sources: dict[str, dict] = {}
    for s in sorted({v.source for v in videos}):
        keep = np.array([v.source == s for v in videos])
        y, p = np.array([v.label for v in videos])[keep], probs[keep]
        row = {"unit": "videos", "genuine": int((y == 0).sum()), "fake": int((y == 1).sum())}
        if row["genuine"] and row["fake"]:
            row["auc"], row["auc_ci"] = roc_auc(y, p), list(auc_interval(y, p))
        for name, side in (("genuine", 0), ("fake", 1)):
            q = p[y == side]
            if len(q):
                row |= _shares(name, q, threshold, uncertain_from)
        sources[s] = row
    for s, q in frames.items():
        sources[s] = {"unit": "frames", "genuine": len(q), "fake": 0,
                      **_shares("genuine", q, threshold, uncertain_from)}
    return Calibration(temperature, threshold, uncertain_from, max_false_fake, max_uncertain, sources,
                       pool_warnings(temperature, sources))


def _shares(name: str, p: np.ndarray, threshold: float, uncertain_from: float) -> dict[str, float]:
    """The share of `p` called FAKE and left UNCERTAIN at the chosen point, keyed as a source's row holds them."""
    return {f"{name}_fake_share": float(np.mean(p >= threshold)),
            f"{name}_uncertain_share": float(np.mean((p >= uncertain_from) & (p < threshold)))}


def pool_warnings(temperature: float, sources: dict[str, dict]) -> list[str]:
    """What in the pool says the model's probabilities, or its ranking, should not be trusted."""
    out = [f"{s}: its genuine videos score above its fakes (video AUC {row['auc']:.2f}, 95 % interval "
           f"{row['auc_ci'][0]:.2f}–{row['auc_ci'][1]:.2f}): ranked backwards"
           for s, row in sources.items() if row.get("auc", 1.0) < 0.5]
    if temperature >= _T_GRID[-1] or temperature <= _T_GRID[0]:
        out.append(f"the temperature is at the end of its search range ({temperature:.3g}): the pool's log loss "
                   "only falls as the scores are flattened, so p_fake will carry little; compare it with the "
                   "threshold")
    return out


def pool_videos(items: Sequence[CropItem], logits: np.ndarray) -> list[PoolVideo]:
    """Crops with their logits -> one PoolVideo per (dataset, video, label): each track a person, as scan
    groups them. A crop shipped alone (one crop per video, as dfdc-faces) is a video of one frame. The
    source is the item's dataset."""
    videos: dict[tuple, dict[int, list[tuple[float, float | None]]]] = defaultdict(lambda: defaultdict(list))
    for it, z in zip(items, logits):
        key = (it.dataset or "-", it.video or str(it.path), it.label, it.method)
        videos[key][it.track].append((float(z), min(it.box[2:4]) if it.box else None))
    out = []
    for (dataset, _, label, method), tracks in videos.items():
        sides = [[s for _, s in rows if s is not None] for rows in tracks.values()]
        out.append(PoolVideo(label, dataset, [np.array([z for z, _ in rows]) for rows in tracks.values()],
                             method, [float(np.median(s)) if s else None for s in sides]))
    return out


def calibrate_model(model: str, sources: Sequence[str], out: str, prefix: Sequence[str] | None = None,
                    max_false_fake: float = MAX_FALSE_FAKE, max_uncertain: float = MAX_UNCERTAIN,
                    half: bool = False, mirror: bool | None = None,
                    per_frame: bool = False) -> tuple[Calibration, str]:
    """`fakescope calibrate`: score the pool (crop caches or CSVs), choose temperature, threshold and band,
    and write a copy of the model that carries them and says what they were chosen on. `mirror` sets the
    model's test-time mirroring (None: as it is) before anything is scored: the scores calibrated are the
    scores the copy will give. `per_frame`: the threshold and band hold for genuine frames too."""
    from fakescope.data import read_crops
    from fakescope.evaluate.scoring import crop_logits
    from fakescope.models import FaceClassifier

    clf = FaceClassifier.load(model)
    if mirror is not None:
        clf.config.mirror = mirror
    videos, pool = [], []
    for source in sources:
        items = read_crops(source, prefix=prefix)
        if not items:
            raise FakescopeError(f"{source}: no crops to calibrate on")
        videos += pool_videos(items, crop_logits(clf, items))
        pool.append({"source": str(source), "only": list(prefix or []), "crops": len(items)})
    cal = calibrate(videos, max_false_fake, max_uncertain, per_frame)
    clf.config.temperature, clf.config.threshold = cal.temperature, cal.threshold
    clf.config.uncertain_from = cal.uncertain_from
    clf.config.extra = dict(clf.config.extra, calibration=dict(cal.to_dict(), pool=pool,
                                                                level="video+frames" if per_frame else "video"))
    return cal, str(clf.save(out, half=half))
