"""What reading provenance (Content Credentials + metadata) adds to a file. Target: at most 50 ms a file.

    python bench/bench_provenance.py [--repeat 7] [--videos DIR ...]

For the demo media (a 3 s 640x480 H.264 clip, a JPEG, a PNG) and a 60 s 1280x720 H.264 clip, the same four
signed with Content Credentials (a throwaway test CA; needs `cryptography`, in the dev extra), and every
video in ../shared/data/videos (skipped when absent; its largest MP4 is signed too): the median seconds of `ProvenanceReader.read`, split
into credentials (C2PA) and metadata, over `--repeat` runs, after one warm-up read (the first read of a
process loads the c2pa library: that once-per-process cost is printed on its own). A signed file costs
more: c2pa hashes the whole file to check its binding.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fakescope.demo import make_demo_media
from fakescope.media import VIDEO_SUFFIXES
from fakescope.provenance import ProvenanceReader
from fakescope.provenance.metadata import read_metadata

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos"
TARGET_MS = 50.0
MIME = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".png": "image/png"}


def _signed_copies(paths: list[Path], out: Path) -> list[Path]:
    from fakescope.provenance.testing import AI_GENERATED, created, make_signer, manifest

    try:
        signer = make_signer()
    except ImportError:  # cryptography is not installed
        print("(cryptography not installed: no signed files)", file=sys.stderr)
        return []
    signed = []
    for path in paths:
        dest = out / f"signed-{path.name}"
        dest.write_bytes(signer.sign(path.read_bytes(), MIME[path.suffix], manifest([created(AI_GENERATED)])))
        signed.append(dest)
    return signed


def _long_clip(out: Path) -> Path:
    """60 s of 1280x720 at 25 fps (a slowly changing gradient), H.264: an ordinary upload's size."""
    import av
    import numpy as np

    path = out / "minute-720p.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        ramp = np.linspace(0, 255, 1280, dtype=np.float32)[None, :, None]
        for i in range(60 * 25):
            img = np.broadcast_to((ramp + i) % 256, (720, 1280, 3)).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def bench_one(reader: ProvenanceReader, path: Path, repeat: int) -> dict:
    total, creds, meta = [], [], []
    reader.read(path)  # warm the page cache, as a scan that has just decoded the file has
    for _ in range(repeat):
        t = time.perf_counter()
        p = reader.read(path)
        total.append(time.perf_counter() - t)
        t = time.perf_counter()
        reader.credentials.read(path)
        creds.append(time.perf_counter() - t)
        t = time.perf_counter()
        read_metadata(path, "video" if path.suffix in VIDEO_SUFFIXES else "image")
        meta.append(time.perf_counter() - t)
    return {"name": path.name, "mb": path.stat().st_size / 2**20, "state": p.credentials.state,
            "total": statistics.median(total), "credentials": statistics.median(creds),
            "metadata": statistics.median(meta)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--videos", nargs="*", type=Path, help="more videos or folders (default: shared videos)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        demo = make_demo_media(out / "demo")
        reader = ProvenanceReader()
        t = time.perf_counter()
        reader.read(demo[1])
        first = time.perf_counter() - t
        videos = []
        for d in args.videos or ([SHARED] if SHARED.is_dir() else []):
            videos += sorted(p for p in d.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES) if d.is_dir() else [d]
        made = [*demo, _long_clip(out)]
        largest_mp4 = max((v for v in videos if v.suffix.lower() == ".mp4"), key=lambda v: v.stat().st_size, default=None)
        paths = [*made, *_signed_copies(made + ([largest_mp4] if largest_mp4 else []), out), *videos]
        rows = [bench_one(reader, p, args.repeat) for p in paths]

    print(f"first read in a process (loads c2pa): {first * 1000:.1f} ms")
    print(f"{'file':<34} {'MiB':>7} {'state':<8} {'total ms':>9} {'C2PA ms':>8} {'metadata ms':>12}")
    for r in rows:
        print(f"{r['name'][:34]:<34} {r['mb']:7.2f} {r['state']:<8} {r['total'] * 1000:9.1f} "
              f"{r['credentials'] * 1000:8.1f} {r['metadata'] * 1000:12.1f}")
    worst = max(rows, key=lambda r: r["total"])
    median = statistics.median(r["total"] for r in rows) * 1000
    print(f"median over {len(rows)} files: {median:.1f} ms; slowest {worst['name']} {worst['total'] * 1000:.1f} ms "
          f"(target <= {TARGET_MS:.0f} ms: {'met' if worst['total'] * 1000 <= TARGET_MS else 'NOT met'} for every file)")


if __name__ == "__main__":
    main()
