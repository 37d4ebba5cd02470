"""Per real source and per fake method: does a FAKE mean something, and what is caught, on footage as it is
and as it reaches users (480p, grayscale, CRF 35 re-encodes).

    python bench/bench_sources.py MODEL [MODEL ...] [--role test] [--variants original,480p,gray,crf35]
        [--data ../shared/data] [--runs ~/.cache/fakescope-runs] [--json OUT] [--exclude-trained CSV ...]

Roles come from scripts/pool.py (train / calib / test, by group; test was never trained or calibrated on).
Videos are cut into faces once per variant with `fakescope prepare` (scan's own detector, tracker and crop
policy, 16 frames a video) into RUNS/videos16[-VARIANT]; degraded copies are re-encoded from the shared
videos with PyAV into RUNS/degraded-videos/VARIANT. Each model then scores the cached crops, and every
video gets scan's verdict: per person the mean of its frame probabilities, FAKE at or above the model's
threshold, UNCERTAIN in its band or when the face is under 32 px, else REAL; a video is its most suspicious
person's. FF++ crops (test role) are scored one crop at a time, per method.

Printed per model and variant, for each source (a real source: its own genuine videos against its own
fakes, or all the role's fakes when it has none) and each fake method (against all genuine videos of its
dataset): video AUC, genuine videos called FAKE and UNCERTAIN, fakes caught (FAKE) and UNCERTAIN.
Figures on a few dozen videos move by whole videos: the n is printed beside each, and each AUC's 95 %
bootstrap interval. Every model after the first also gets, per row, its AUC minus the first model's with
the paired interval over the same draws (`fakescope.evaluate.metrics.auc_difference`): the figure a ship
rule comparing two models should read.

`--exclude-trained CSV` leaves out of the role every group that a training CSV holds (a candidate that
trained on some test groups, scripts/world_pool.py --add-groups), for every model compared, so all are
judged on footage none of them saw.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import av
import numpy as np

from fakescope.aggregate import MIN_FACE, file_verdict, person_verdict
from fakescope.data import read_crops
from fakescope.data.prepare import PrepareOptions, prepare
from fakescope.evaluate.calibration import PoolVideo, person_probabilities, pool_videos
from fakescope.evaluate.metrics import auc_difference, auc_interval, proportion_interval, roc_auc
from fakescope.evaluate.scoring import crop_logits
from fakescope.media.degrade import downscale, grey
from fakescope.media.encode import write_video
from fakescope.models import FaceClassifier
from fakescope.results import FAKE, UNCERTAIN, PersonResult

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import pool  # scripts/pool.py: who plays which role (a script, not part of the package)

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("original", "480p", "gray", "crf35")


def degrade_frame(img: np.ndarray, variant: str) -> np.ndarray:
    """One frame of a variant's copy, by the operations `fakescope prepare --degrade` uses (media/degrade.py)."""
    if variant == "480p" and img.shape[0] > 480:
        return downscale(img, 480)
    if variant == "gray":
        return grey(img)
    return img


def degraded_copy(src: Path, dst: Path, variant: str) -> None:
    """Re-encode `src` as `variant`: 480p at CRF 23, grayscale at CRF 23, or the same frames at CRF 35."""
    if dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = round(float(stream.average_rate or 25))

        def frames():
            for frame in container.decode(stream):
                img = degrade_frame(frame.to_ndarray(format="rgb24"), variant)
                yield img[: img.shape[0] // 2 * 2, : img.shape[1] // 2 * 2]

        tmp = dst.with_suffix(".tmp.mp4")
        write_video(tmp, frames(), fps=fps, crf=35 if variant == "crf35" else 23)
    tmp.rename(dst)


def variant_cache(variant: str, data: Path, runs: Path, role: str) -> tuple[Path, Path]:
    """(cache, labels.csv) of one variant's videos of `role`, made on first use. The degraded copies are
    shared between roles; each role has its own labels file and crop cache (the test role's keep the names
    they always had)."""
    if variant == "original":
        labels, cache = data / "labels.csv", runs / "videos16"
        only = ["videos/"]
    else:
        root = runs / "degraded-videos" / variant
        tag = "" if role == "test" else f"-{role}"
        labels, cache = root / f"labels{tag}.csv", runs / f"videos16-{variant}{tag}"
        with open(data / "labels.csv", newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r["path"].startswith("videos/")
                    and pool.role(r["path"], r["group"], r["split"]) == role]
        for i, r in enumerate(rows):
            print(f"\r{variant}: re-encoding {i + 1}/{len(rows)}", end="", file=sys.stderr, flush=True)
            degraded_copy(data / r["path"], root / r["path"], variant)
        print(file=sys.stderr)
        with open(labels, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        only = ["videos/"]
    if not (cache / "manifest.csv").exists():
        prepare(labels, "csv", cache, PrepareOptions(frames=16, val=0, test=0), prefix=only)
    pool.split_cache(cache, labels)
    return cache, labels


def method_name(method: str) -> str:
    """The tool's name from labels.csv's long method text ("Wav2Lip (wav2lip_gan) + gTTS speech" -> "Wav2Lip")."""
    return method.split(" (")[0].split(",")[0].split(" + ")[0].strip() or "-"


def verdicts(videos: list[PoolVideo], clf: FaceClassifier) -> tuple[np.ndarray, list[str]]:
    """Each video's probability and verdict, by scan's rules, under the model's own operating point."""
    cfg = clf.config
    probs, out = [], []
    for v in videos:
        persons = person_probabilities(v, cfg.temperature)
        sides = v.face_sides or [None] * len(persons)
        judged = [person_verdict(p, cfg.threshold, cfg.uncertain_from, s, MIN_FACE) for p, s in zip(persons, sides)]
        rows = [PersonResult(i, p, verdict, [], [], [], [], reason)
                for i, (p, (verdict, reason)) in enumerate(zip(persons, judged))]
        probs.append(max(persons))
        out.append(file_verdict(rows)[0])
    return np.asarray(probs), out


def table(videos: list[PoolVideo], probs: np.ndarray, verdict: list[str],
          reference: np.ndarray | None = None) -> list[dict]:
    """One row per source and per method. Each AUC comes with its 95 % bootstrap interval (`auc_ci`); with
    `reference` (the first model's probabilities of the same videos) also the paired difference to it
    (`auc_vs_first`: AUC - the first's, and its interval over the same draws)."""
    if reference is not None and len(reference) != len(videos):
        raise ValueError(f"the first model scored {len(reference)} videos here, this one {len(videos)}")
    y = np.array([v.label for v in videos])
    sources, methods = np.array([v.source for v in videos]), np.array([method_name(v.method) for v in videos])
    fake_v, unc_v = np.array([x == FAKE for x in verdict]), np.array([x == UNCERTAIN for x in verdict])
    rows = []

    def row(kind: str, name: str, reals: np.ndarray, fakes: np.ndarray, own: bool = True) -> None:
        keep = reals | fakes
        auc = roc_auc(y[keep], probs[keep]) if reals.any() and fakes.any() else float("nan")
        # both are NaN where one class is missing, as roc_auc is
        paired = {} if reference is None else {"auc_vs_first": list(
            auc_difference(y[keep], reference[keep], probs[keep]))}
        rows.append({"kind": kind, "name": name, "genuine": int(reals.sum()), "fake": int(fakes.sum()),
                     "auc": auc, "auc_ci": list(auc_interval(y[keep], probs[keep])), **paired, "own_fakes": bool(own),
                     "genuine_fake": float(fake_v[reals].mean()) if reals.any() else float("nan"),
                     "genuine_uncertain": float(unc_v[reals].mean()) if reals.any() else float("nan"),
                     "fake_caught": float(fake_v[fakes].mean()) if fakes.any() else float("nan"),
                     "fake_uncertain": float(unc_v[fakes].mean()) if fakes.any() else float("nan")})

    for s in sorted(set(sources)):
        mine = sources == s
        has_fakes = (mine & (y == 1)).any()
        if (mine & (y == 0)).any():
            row("source", s, mine & (y == 0), mine & (y == 1) if has_fakes else (y == 1), own=has_fakes)
    for s in sorted(set(sources)):
        for m in sorted(set(methods[(sources == s) & (y == 1)])):
            row("method", f"{s} / {m}", (sources == s) & (y == 0), (sources == s) & (methods == m) & (y == 1))
    return rows


def print_rows(title: str, rows: list[dict]) -> None:
    paired = any("auc_vs_first" in r for r in rows)
    print(f"\n{title}")
    print(f"  {'':58s} {'n real':>6s} {'n fake':>6s} {'AUC':>6s} {'95% interval':>12s} {'real→FAKE':>9s} "
          f"{'real→UNC':>8s} {'caught':>7s} {'fake→UNC':>8s}" + (f" {'AUC - first, 95%':>24s}" if paired else ""))

    def pct(x: float) -> str:
        return "-" if np.isnan(x) else f"{100 * x:.1f}%"

    for r in rows:
        auc = "-" if np.isnan(r["auc"]) else f"{r['auc']:.3f}"
        ci = "-" if np.isnan(r["auc_ci"][0]) else f"{r['auc_ci'][0]:.2f}–{r['auc_ci'][1]:.2f}"
        d = r.get("auc_vs_first", [float("nan")] * 3)
        diff = "-" if np.isnan(d[0]) else f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]"
        print(f"  {r['kind'][:1]} {r['name'][:56]:56s} {r['genuine']:6d} {r['fake']:6d} {auc:>6s} {ci:>12s} "
              f"{pct(r['genuine_fake']):>9s} {pct(r['genuine_uncertain']):>8s} {pct(r['fake_caught']):>7s} "
              f"{pct(r['fake_uncertain']):>8s}" + (f" {diff:>24s}" if paired else ""))


def ship_figures(variants: dict[str, list[dict]]) -> dict:
    """What the ship rules read (issue 8's decision notes, the README): the mean AUC over sources with
    genuine and fake material of their own (videos as they are, and FF++ crops as one source), the share of
    all genuine test videos and FF++ crops called FAKE, and the worst source's share on each variant; and, as
    shares of a few dozen videos say little alone, the Wilson 95 % intervals of the pooled share and of the
    genuine test videos (original copies) called FAKE."""
    sources = [r for v in ("original", "ffpp-faces") for r in variants.get(v, []) if r["kind"] == "source"]
    both = [r for r in sources if r["own_fakes"]]
    genuine = sum(r["genuine"] for r in sources)

    def called_fake(rows: list[dict]) -> int:
        return round(sum(r["genuine"] * r["genuine_fake"] for r in rows))

    called = called_fake(sources)
    videos = [r for r in variants.get("original", []) if r["kind"] == "source"]
    n_videos, videos_called = sum(r["genuine"] for r in videos), called_fake(videos)
    return {"mean_auc": float(np.mean([r["auc"] for r in both])) if both else float("nan"),
            "mean_auc_over": [r["name"] for r in both],
            "genuine_fake_pooled": called / max(genuine, 1),
            # Wilson 95 % intervals: "0 of 26" is not "0 %"
            "genuine_fake_pooled_ci": list(proportion_interval(called, genuine)),
            "genuine_videos_fake": {"called": videos_called, "of": n_videos,
                                    "ci": list(proportion_interval(videos_called, n_videos))},
            "genuine_fake_worst": {v: max((r["genuine_fake"] for r in rows if r["kind"] == "source"), default=0.0)
                                   for v, rows in variants.items()}}


def trained_groups(csvs: list[Path]) -> set[str]:
    """The groups of the rows of training CSVs (DFDC videos have none: an empty group names nothing)."""
    groups: set[str] = set()
    for path in csvs:
        with open(path, newline="") as fh:
            groups |= {r["group"] for r in csv.DictReader(fh) if r.get("group")}
    return groups


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--role", default="test", choices=pool.ROLES)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--runs", type=Path, default=Path.home() / ".cache" / "fakescope-runs")
    ap.add_argument("--json", type=Path, help="write every figure here")
    ap.add_argument("--exclude-trained", type=Path, nargs="+", default=[], metavar="CSV",
                    help="leave out every group these training CSVs hold")
    args = ap.parse_args()
    if not (args.data / "labels.csv").exists():
        print(f"skipped: {args.data} is not here")
        return
    args.runs.mkdir(parents=True, exist_ok=True)
    caches = {v: variant_cache(v, args.data, args.runs, args.role) for v in args.variants.split(",")}
    excluded = trained_groups(args.exclude_trained)
    ffpp = read_crops(args.data / "labels.csv", prefix="ffpp-faces/") if args.role == "test" else []
    ffpp = [it for it in ffpp if it.group not in excluded]
    out: dict = {}
    first: dict[str, np.ndarray] = {}  # the first model's video probabilities per variant, for the paired AUCs
    for name in args.models:
        clf = FaceClassifier.load(name)
        cfg = clf.config
        print(f"\n=== {name}: threshold {cfg.threshold:.3f}, UNCERTAIN from "
              f"{'-' if cfg.uncertain_from is None else f'{cfg.uncertain_from:.3f}'}, temperature "
              f"{cfg.temperature:.3f}; role {args.role}")
        out[name] = {}
        for variant, (cache, _) in caches.items():
            items = [it for it in read_crops(args.runs / f"pool-{cache.name}-{args.role}.csv")
                     if it.group not in excluded]
            videos = pool_videos(items, crop_logits(clf, items))
            probs, verdict = verdicts(videos, clf)
            rows = table(videos, probs, verdict, first.get(variant))
            first.setdefault(variant, probs)
            out[name][variant] = rows
            print_rows(f"[{variant}] videos (16 frames each)", rows)
        if ffpp:
            videos = pool_videos(ffpp, crop_logits(clf, ffpp))  # one crop each: no video ids, no face sizes
            probs, verdict = verdicts(videos, clf)
            rows = table(videos, probs, verdict, first.get("ffpp-faces"))
            first.setdefault("ffpp-faces", probs)
            out[name]["ffpp-faces"] = rows
            print_rows("[ffpp-faces] FF++ crops, one crop = one 'video' (frame level)", rows)
        summary = ship_figures(out[name])
        out[name]["summary"] = summary
        worst = ", ".join(f"{v} {100 * x:.1f}%" for v, x in summary["genuine_fake_worst"].items())
        lo, hi = summary["genuine_fake_pooled_ci"]
        gv = summary["genuine_videos_fake"]
        print(f"\nship-rule figures: mean AUC {summary['mean_auc']:.3f} over {', '.join(summary['mean_auc_over'])}; "
              f"genuine -> FAKE pooled {100 * summary['genuine_fake_pooled']:.2f}% (95 % interval {100 * lo:.1f}–"
              f"{100 * hi:.1f}%), worst source: {worst}; genuine test videos called FAKE: {gv['called']} of "
              f"{gv['of']} (95 % interval {100 * gv['ci'][0]:.1f}–{100 * gv['ci'][1]:.1f}%)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
