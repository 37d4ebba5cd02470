"""`fakescope prepare`: turn a dataset into a cache of labelled face crops with a manifest and a saved split.

Videos (and, when asked, images) go through scan's own steps (`fakescope.scan.find_tracks`, `crop_tracks`),
so a model trained on the cache sees faces cut exactly as it will at scan time. Crops that a dataset ships
(dfdc-faces, image folders) are referenced where they lie, not re-encoded, so their size and JPEG history
stay visible to `fakescope eda`; YuNet is run on them once to find landmarks for pseudo-fakes.

Layout of a cache:

    manifest.csv      path,label,dataset,method,video,group,track,frame,box,landmarks,split,official_split,source,
                      degraded
    prepare.json      what was read, with which settings, what failed, and the split's counts
    crops/            the crops cut from videos (JPEG, the same quality for both classes)
    work/rows.jsonl   one line per finished source file: what makes a run resumable

With `degrade` (`--degrade SHARE`), a share of the source files has its decoded frames damaged the way
footage reaches a newsroom (fakescope.media.degrade: 240-480p, H.264/H.265 re-encodes, grey, gamma and
white balance, noise, motion blur) *before* faces are detected, tracked and cropped, so the detector, the
tracker and the crop all work on the damaged frame as they will for a user; the manifest's `degraded`
column says what was done ("" for nothing). Ready-made crops are referenced as they are (they have no
frame; `fakescope train --degrade` damages crops).

Work is parallel over source files; an interrupted run picks up where it stopped when started again
with the same arguments. A file that cannot be read is reported and skipped, never fatal.
"""

from __future__ import annotations

import csv
import hashlib
import json
import multiprocessing
import os
import random
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from fakescope.data.crops import MANIFEST
from fakescope.data.datasets import CROP, MEDIA, SourceItem, read_dataset
from fakescope.data.split import assign_splits
from fakescope.errors import FakescopeError
from fakescope.faces import CROP_MARGIN, DEFAULT_DETECTOR
from fakescope.media.degrade import FrameDamage

ROWS = Path("work") / "rows.jsonl"
INFO = "prepare.json"
COLUMNS = ("path", "label", "dataset", "method", "video", "group", "track", "frame", "box", "landmarks", "split",
           "official_split", "source", "degraded")
# Settings that change what a crop is: resuming with other values would mix two kinds of crop in one cache.
CROP_SETTINGS = ("frames", "size", "margin", "detector", "detect_in_images", "jpeg_quality", "degrade",
                 "degrade_seed")


@dataclass
class PrepareOptions:
    frames: int = 16  # evenly spaced frames sampled per video
    size: int = 224  # side of the stored crops, in pixels
    margin: float = CROP_MARGIN  # crop side / face box side: the one crop policy (fakescope.faces.crop)
    detector: str = DEFAULT_DETECTOR
    detect_in_images: bool = False  # images are whole pictures, not face crops
    jpeg_quality: int = 95
    degrade: float = 0.0  # share of source files whose frames are damaged before faces are found (0 = off)
    degrade_seed: int = 0  # which files and which damage: the same seed gives the same crops
    workers: int = 2
    limit: int = 0  # at most this many source files, half of each class where possible (smoke runs)
    val: float = 0.15
    test: float = 0.15
    seed: int = 0


@dataclass
class PrepareSummary:
    cache: Path
    sources: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source, one-line reason)
    crops: int = 0
    split: dict = field(default_factory=dict)


# ---- per source file (runs in worker processes) -------------------------------------------------------
_detectors: dict[str, object] = {}


def _detector(name: str):
    """One detector per worker process, made on first use (OpenCV nets are not picklable)."""
    if name not in _detectors:
        from fakescope.faces import create_detector

        cv2.setNumThreads(1)  # parallelism comes from the worker processes
        _detectors[name] = create_detector(name)
    return _detectors[name]


def _fmt(values) -> str:
    return " ".join(f"{v:.4f}" for v in np.asarray(values, np.float64).reshape(-1))


def damage_for(key: str, opts: PrepareOptions, height: int, still: bool) -> FrameDamage | None:
    """The damage one source file gets (None: left as it is), drawn from `degrade_seed` and the file's
    `key` (its path inside the dataset) alone: the same on every run, in any worker, in any order, and
    wherever the dataset lies. One recipe per file, not per frame: footage is downscaled, graded and
    re-encoded as a whole video (FrameDamage)."""
    if not opts.degrade:
        return None
    seed = int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "little")
    rng = np.random.default_rng([opts.degrade_seed, seed])
    if rng.random() >= opts.degrade:
        return None
    return FrameDamage.sample(rng, height, still=still)


def _crop_rows(item: SourceItem, opts: PrepareOptions, cache: Path, key: str) -> list[dict]:
    """Cut every tracked face in the sampled frames (damaged first, when drawn) and write it; one row per
    crop. `key` draws the damage (damage_for). FakescopeError when no face was found."""
    from fakescope.faces.crop import crop_box
    from fakescope.media import read_media
    from fakescope.scan import crop_tracks, find_tracks

    info, frames = read_media(item.path, num_frames=opts.frames)
    damage = damage_for(key, opts, frames[0].image.shape[0], info.kind == "image") if frames else None
    if damage:
        # Downscaled, the small frame *is* the footage (scale 1): boxes and face sizes are at its scale.
        frames = [replace(f, image=img, scale=1.0 if damage.height else f.scale)
                  for f, img in zip(frames, damage.apply([f.image for f in frames]))]
    label = damage.label if damage else ""
    tracks = find_tracks(frames, _detector(opts.detector))
    if not tracks:
        raise FakescopeError("no face found" + (f" (frames damaged: {label})" if label else ""))
    crops = crop_tracks(frames, tracks, opts.size, opts.margin)
    digest = hashlib.sha1(str(item.path).encode()).hexdigest()
    folder = Path("crops") / digest[:2] / f"{item.video}-{digest[:8]}"
    (cache / folder).mkdir(parents=True, exist_ok=True)
    rows, k = [], 0
    for track in tracks:
        for pos, face in track.detections:
            frame = frames[pos]
            rel = folder / f"t{track.track_id}-f{frame.index:06d}.jpg"
            cv2.imwrite(str(cache / rel), cv2.cvtColor(crops[k], cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, opts.jpeg_quality])
            k += 1
            x0, y0, side = crop_box(face, opts.margin)
            lm = "" if face.landmarks is None else _fmt((face.landmarks - (x0, y0)) / side)
            rows.append({"path": str(rel), "track": track.track_id, "frame": frame.index,
                         "box": _fmt(np.asarray(face.box) * frame.scale), "landmarks": lm, "degraded": label})
    return rows


def _crop_landmarks(item: SourceItem, opts: PrepareOptions, cache: Path) -> list[dict]:
    """A ready-made crop: referenced in place, with the landmarks of its most confident face if found."""
    bgr = cv2.imread(str(item.path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FakescopeError("not a readable image")
    faces = _detector(opts.detector).detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    best = max(faces, key=lambda f: f.score, default=None)
    h, w = bgr.shape[:2]
    lm = "" if best is None or best.landmarks is None else _fmt(best.landmarks / (w, h))
    return [{"path": os.path.relpath(item.path, cache), "track": 0, "frame": 0, "box": "", "landmarks": lm}]


def process_source(item: SourceItem, opts: PrepareOptions, cache: Path, root: Path | None = None) -> dict:
    """One line of rows.jsonl: the crops of one source file, or why there are none. `root`: the folder the
    dataset's paths are relative to (what keys a file's damage)."""
    record = {"source": str(item.path)}
    key = os.path.relpath(item.path, root) if root else str(item.path)
    try:
        rows = _crop_landmarks(item, opts, cache) if item.kind == CROP else _crop_rows(item, opts, cache, key)
    except FakescopeError as exc:
        return {**record, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - one broken file must not stop a night's preparation
        return {**record, "error": f"{type(exc).__name__}: {str(exc)[:120]}"}
    common = {"label": "fake" if item.label else "real", "dataset": item.dataset, "method": item.method,
              "video": item.video, "group": item.group, "official_split": item.official_split,
              "source": str(item.path)}
    return {**record, "rows": [{**common, **r} for r in rows]}


# ---- the run -----------------------------------------------------------------------------------------
def _subset(items: list[SourceItem], limit: int, seed: int) -> list[SourceItem]:
    """At most `limit` files, as evenly split between the classes as they allow; stable for a seed."""
    if not limit or limit >= len(items):
        return items
    rng = random.Random(seed)
    by_class = [[it for it in items if it.label == c] for c in (0, 1)]
    for group in by_class:
        rng.shuffle(group)
    take_fake = min(len(by_class[1]), max(limit // 2, limit - len(by_class[0])))
    return sorted(by_class[0][:limit - take_fake] + by_class[1][:take_fake], key=lambda it: str(it.path))


def _read_records(cache: Path) -> dict[str, dict]:
    """Last record per source; a line cut short by a crash is ignored (that source is simply redone)."""
    records: dict[str, dict] = {}
    path = cache / ROWS
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            records[rec["source"]] = rec
    return records


def _check_resume(cache: Path, settings: dict) -> None:
    info_path = cache / INFO
    if not info_path.exists():
        return
    before = json.loads(info_path.read_text()).get("settings", {})
    # A setting a cache predates was at its default then (a cache from before --degrade was not degraded).
    if before:
        before = {**{k: getattr(PrepareOptions, k) for k in CROP_SETTINGS}, **before}
    changed = [k for k in settings if k in before and before[k] != settings[k]]
    if changed:
        raise FakescopeError(f"{cache} was prepared with other settings ({', '.join(changed)}); "
                             "use another --out or the same arguments to resume")


def _run(todo: list[SourceItem], opts: PrepareOptions, cache: Path, root: Path) -> Iterator[dict]:
    if opts.workers <= 1 or len(todo) <= 1:
        yield from (process_source(it, opts, cache, root) for it in todo)
        return
    # Spawned, not forked: a fork of a process whose OpenCV/FFmpeg threads hold locks can hang forever.
    with ProcessPoolExecutor(opts.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(process_source, it, opts, cache, root) for it in todo]
        for fut in as_completed(futures):
            yield fut.result()


def prepare(root: str | Path, fmt: str, out: str | Path, opts: PrepareOptions | None = None,
            progress: bool = True, log: Callable[[str], None] = print,
            prefix: str | Sequence[str] | None = None) -> PrepareSummary:
    """Read the dataset at `root` (layout `fmt`; only paths starting with `prefix`), crop every face, and
    write the cache at `out`."""
    from tqdm import tqdm

    opts = opts or PrepareOptions()
    if not 0 <= opts.degrade <= 1:
        raise FakescopeError(f"degrade is the share of source files damaged: give a value in [0, 1], "
                             f"not {opts.degrade}")
    cache = Path(out)
    root = Path(root).resolve()
    items = _subset(read_dataset(root, fmt, prefix), opts.limit, opts.seed)
    if opts.detect_in_images:
        items = [replace(it, kind=MEDIA) for it in items]
    ready = sum(it.kind == CROP for it in items)
    if opts.degrade and ready:
        log(f"degrade: {ready} ready-made crop(s) have no frame to damage and are referenced as they are "
            "(fakescope train --degrade damages crops)")
    settings = {"format": fmt, "root": str(root), **{k: getattr(opts, k) for k in CROP_SETTINGS}}
    _check_resume(cache, settings)
    (cache / ROWS).parent.mkdir(parents=True, exist_ok=True)
    _write_info(cache, settings, opts, {})  # marks the cache as ours before any work starts

    records = _read_records(cache)
    todo = [it for it in items if "rows" not in records.get(str(it.path), {})]
    if len(todo) < len(items):
        log(f"resuming: {len(items) - len(todo)} of {len(items)} files already done")
    bar = tqdm(total=len(todo), unit="file", disable=not progress, file=sys.stderr)
    with open(cache / ROWS, "a") as fh:
        for rec in _run(todo, opts, cache, root if root.is_dir() else root.parent):
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            records[rec["source"]] = rec
            if "error" in rec:
                bar.write(f"fakescope: skipped {rec['source']}: {rec['error']}", file=sys.stderr)
            bar.update(1)
    bar.close()
    return _finish(cache, items, records, settings, opts)


def _finish(cache: Path, items: list[SourceItem], records: dict[str, dict], settings: dict,
            opts: PrepareOptions) -> PrepareSummary:
    """Split by group over everything prepared so far and (re)write manifest.csv and prepare.json."""
    wanted = [records[str(it.path)] for it in items if str(it.path) in records]
    rows = [row for rec in wanted for row in rec.get("rows", [])]
    if not rows:
        raise FakescopeError(f"no face crops came out of {len(items)} file(s); see the messages above")
    sides, stats = assign_splits([r["group"] for r in rows], [int(r["label"] == "fake") for r in rows],
                                 val=opts.val, test=opts.test, seed=opts.seed)
    tmp = cache / f"{MANIFEST}.tmp"
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, COLUMNS)
        writer.writeheader()
        for row, side in zip(rows, sides):
            writer.writerow({**row, "split": side})
    os.replace(tmp, cache / MANIFEST)
    summary = PrepareSummary(cache=cache, sources=len(items), crops=len(rows),
                             failed=[(r["source"], r["error"]) for r in wanted if "error" in r],
                             split=asdict(stats))
    _write_info(cache, settings, opts, {"sources": summary.sources, "crops": summary.crops,
                                        "failed": summary.failed, "split": summary.split})
    return summary


def _write_info(cache: Path, settings: dict, opts: PrepareOptions, result: dict) -> None:
    info = {"settings": settings, "split_settings": {"val": opts.val, "test": opts.test, "seed": opts.seed},
            **result}
    (cache / INFO).write_text(json.dumps(info, indent=2) + "\n")


def cache_settings(cache: str | Path) -> dict:
    """The crop settings a cache was made with ({} for anything that is not a prepared cache)."""
    path = Path(cache) / INFO
    return json.loads(path.read_text()).get("settings", {}) if path.is_file() else {}
