"""Hostile Content Credentials: damage signed files at random and check that reading them never fails.

    python bench/fuzz_provenance.py [--n 1500] [--seed 1]

Signs a JPEG, a PNG and the demo MP4 with a throwaway CA (needs `cryptography`), then `--n` times picks one,
overwrites, inserts or deletes a few runs of bytes (mostly inside the manifest), and reads it with
`ProvenanceReader`. A Python exception or a crash of the native library ends the run; otherwise it prints
how the damaged files read (mostly `invalid`) and the slowest read.
"""

from __future__ import annotations

import argparse
import io
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from fakescope.demo import make_demo_media
from fakescope.provenance import ProvenanceReader
from fakescope.provenance.testing import AI_GENERATED, created, make_signer, manifest


def _damage(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    start, end = max(0, data.find(b"jumb") - 16), min(len(b), data.find(b"c2pa.signature") + 400)
    for _ in range(rng.choice((1, 2, 4, 16))):
        at = rng.randrange(start, end) if rng.random() < 0.8 else rng.randrange(len(b))
        n = rng.choice((1, 4, 32))
        b[at:at + n] = rng.randbytes(n) if rng.random() < 0.7 else (b"" if rng.random() < 0.5 else rng.randbytes(2 * n))
    return bytes(b)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    definition = manifest([created(AI_GENERATED)])
    sign = make_signer().sign
    rgb = (np.random.default_rng(args.seed).random((128, 128, 3)) * 255).astype(np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        signed = []
        for fmt, mime in (("JPEG", "image/jpeg"), ("PNG", "image/png")):
            buf = io.BytesIO()
            Image.fromarray(rgb).save(buf, fmt)
            signed.append((sign(buf.getvalue(), mime, definition), fmt.lower()))
        clip = make_demo_media(out / "demo")[0]
        signed.append((sign(clip.read_bytes(), "video/mp4", definition), "mp4"))
        reader = ProvenanceReader()
        states: Counter[str] = Counter()
        slowest = 0.0
        for _ in range(args.n):
            data, ext = rng.choice(signed)
            path = out / f"damaged.{ext}"
            path.write_bytes(_damage(data, rng))
            t = time.perf_counter()
            p = reader.read(path)
            slowest = max(slowest, time.perf_counter() - t)
            assert "\n" not in p.summary
            states[p.credentials.state] += 1
    print(f"{args.n} damaged files, seed {args.seed}: {dict(states)}; no exception, no crash; "
          f"slowest read {slowest * 1000:.1f} ms")


if __name__ == "__main__":
    main()
