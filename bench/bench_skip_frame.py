"""Decoding only what sampling needs: the same frames, bit for bit, in how much of the time?

    python bench/bench_skip_frame.py [--videos DIR_OR_FILE ...] [--frames 32]

Every video under ../shared/data/videos (or --videos) is read twice in the same run with read_media, as a
scan reads it: with every frame decoded (decode.SKIP_UNSAMPLED = False, what fakescope did before) and
with the non-reference frames that are not sampled left undecoded (the default). The two runs alternate
which goes first. Printed: how many videos gave identical samples (same frame numbers, times and pixels,
np.array_equal), how many fell back to decoding every frame (the decoder did not give the frames the
packets promised), the frames decoded per video, and for the 1080p clips the median decode time of each
and the median of the per-clip ratio. Skips cleanly when the shared data is absent.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos"
SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}


def _videos(given: list[Path] | None) -> list[Path]:
    roots = given or ([SHARED] if SHARED.is_dir() else [])
    return [p for r in roots for p in (sorted(f for f in r.rglob("*") if f.suffix.lower() in SUFFIXES)
                                       if r.is_dir() else [r])]


class _Counts:
    """Frames the decoder gives out and times a video is opened to be decoded (twice: a fallback)."""

    def __init__(self, decode) -> None:
        self.frames = self.opens = 0
        real_frames, real_open = decode._frames, decode._open_video

        def frames(*args):
            for frame in real_frames(*args):
                self.frames += 1
                yield frame

        def opened(*args):
            self.opens += 1
            return real_open(*args)

        decode._frames, decode._open_video = frames, opened


def _read(decode, path: Path, skip: bool, counts: _Counts, frames: int) -> tuple[float, list, int, int]:
    decode.SKIP_UNSAMPLED = skip
    counts.frames = counts.opens = 0
    t = time.perf_counter()
    _, got = decode.read_media(path, num_frames=frames)
    return time.perf_counter() - t, got, counts.frames, counts.opens


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", nargs="*", type=Path)
    ap.add_argument("--frames", type=int, default=32, help="samples per video (the scan's default: 32)")
    args = ap.parse_args()
    videos = _videos(args.videos)
    if not videos:
        print(f"({SHARED} absent and no --videos: nothing to measure)")
        return
    import av

    from fakescope.errors import MediaError
    from fakescope.media import decode

    counts = _Counts(decode)
    same, fallbacks, errors, decoded = 0, [], [], {True: [], False: []}
    hd: dict[bool, list[float]] = {True: [], False: []}
    ratios = []
    for i, path in enumerate(videos):
        runs = {}
        try:
            for skip in ((False, True) if i % 2 == 0 else (True, False)):
                runs[skip] = _read(decode, path, skip, counts, args.frames)
        except MediaError as exc:
            errors.append(f"{path.name}: {exc}")
            continue
        (t_all, every, n_all, _), (t_few, fewer, n_few, opens) = runs[False], runs[True]
        identical = ([(f.index, f.time, f.scale) for f in every] == [(f.index, f.time, f.scale) for f in fewer]
                     and all(np.array_equal(a.image, b.image) for a, b in zip(every, fewer)))
        same += identical
        if not identical:
            print(f"  DIFFERENT: {path}", flush=True)
        if opens > 1:
            fallbacks.append(path.name)
        decoded[False].append(n_all)
        decoded[True].append(n_few)
        with av.open(str(path)) as c:
            s = c.streams.video[0].codec_context
            if max(s.width, s.height) >= 1920:
                hd[False].append(t_all)
                hd[True].append(t_few)
                ratios.append(t_few / t_all)
    n = len(videos) - len(errors)
    print(f"{len(videos)} videos under {', '.join(str(v) for v in (args.videos or [SHARED]))}, {args.frames} samples "
          f"each; {len(errors)} unreadable (left out)")
    print(f"identical samples (frame numbers, times, pixels): {same}/{n}; fell back to every frame: "
          f"{len(fallbacks)}" + (f" ({', '.join(fallbacks[:5])})" if fallbacks else ""))
    print(f"frames decoded per video, median: every frame {statistics.median(decoded[False]):.0f}, "
          f"sampled + reference only {statistics.median(decoded[True]):.0f} "
          f"(total {sum(decoded[True])} of {sum(decoded[False])})")
    if ratios:
        print(f"{len(ratios)} clips of 1080p or more, read_media s/clip median: every frame "
              f"{statistics.median(hd[False]):.3f}, fewer {statistics.median(hd[True]):.3f}; "
              f"per-clip ratio median {statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f})")
    for line in errors[:5]:
        print(f"  unreadable: {line}")
    print(f"(one run, python {sys.version.split()[0]}; times on a shared machine are noisy, the identity is not)")


if __name__ == "__main__":
    main()
