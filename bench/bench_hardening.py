"""Figures for the hardening of issue 11, measured on whatever fakescope is imported (run it with
PYTHONPATH pointing at another checkout's src/ to compare):

    python bench/bench_hardening.py [--model M.safetensors]

1. peak memory (VmHWM) of a process that reads each decompression bomb, PIL's pixel limit lifted;
2. median time of a request on a reused keep-alive connection to `fakescope serve` (TCP_NODELAY);
3. how many of 300 connections with unfinished headers and 10 stalled uploads the server still holds
   after 35 s (the defaults: 10 s for headers, 30 s of silence in a body).

Bombs are made here in a few bytes; the server listens on 127.0.0.1; every loop is bounded.
"""

from __future__ import annotations

import argparse
import importlib.util
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _bomb_makers():
    """This checkout's media/testing.py, loaded by path: the fakescope measured may be another version."""
    path = Path(__file__).resolve().parents[1] / "src" / "fakescope" / "media" / "testing.py"
    spec = importlib.util.spec_from_file_location("bomb_makers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

PEAK = ("import re, sys; from PIL import Image; Image.MAX_IMAGE_PIXELS = None\n"
        "from fakescope.media import read_media\n"
        "try:\n    read_media(sys.argv[1]); print('decoded')\nexcept Exception as exc:\n"
        "    print(type(exc).__name__, str(exc)[:70])\n"
        "print(int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]) // 1024)")


def bomb_memory(folder: Path) -> None:
    makers = _bomb_makers()
    webp_bomb, png_bomb = makers.webp_bomb, makers.png_bomb
    bombs = {"38-byte WebP 16383x16383": webp_bomb(folder / "flat.webp"),
             "46 KB 1-bit PNG 19500x19500": png_bomb(folder / "scan.png", 19500, 19500),
             "RGB PNG 10000x10000": png_bomb(folder / "rgb.png", 10000, 10000, 8, 2)}
    for name, path in bombs.items():
        done = subprocess.run([sys.executable, "-c", PEAK, str(path)], capture_output=True, text=True,
                              timeout=600, check=False)
        said, peak = done.stdout.strip().rsplit("\n", 1) if done.stdout.strip() else ("crashed", "?")
        print(f"bomb {name} ({path.stat().st_size} bytes): peak {peak} MB; {said}")


def keep_alive(url: str) -> None:
    import httpx

    with httpx.Client(base_url=url, timeout=10) as client:
        client.get("/api/health")
        times = []
        for _ in range(30):
            t = time.perf_counter()
            client.get("/api/scans")
            times.append(time.perf_counter() - t)
    print(f"keep-alive request: median {statistics.median(times) * 1000:.1f} ms over 30 on one connection")


def slow_connections(port: int, wait: float = 35.0) -> None:
    socks = []
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"POST /api/scans HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b"
                  b"\r\nContent-Length: 100000\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; "
                  b"filename=\"a.jpg\"\r\n\r\n\xff\xd8\xff")
        socks.append(s)
    time.sleep(0.5)
    for _ in range(300):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        socks.append(s)
    time.sleep(wait)
    held = 0
    for s in socks:
        s.setblocking(False)
        try:
            s.recv(4096)  # b"" (closed) or an answer: not held silently
        except BlockingIOError:
            held += 1  # nothing to read and not closed
        except OSError:
            pass  # reset: closed
        s.close()
    print(f"slow connections: {held} of {len(socks)} still held after {wait:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="checkpoint for the server (default: the bundled model)")
    args = parser.parse_args()
    import fakescope
    from fakescope.server.testing import ServerProcess

    print(f"fakescope {fakescope.__version__} from {Path(fakescope.__file__).parent}")
    with tempfile.TemporaryDirectory() as tmp:
        bomb_memory(Path(tmp))
        server = ServerProcess(Path(tmp) / "data", ["--model", args.model] if args.model else []).start()
        try:
            keep_alive(server.url)
            slow_connections(server.port)
        finally:
            server.kill()


if __name__ == "__main__":
    main()
