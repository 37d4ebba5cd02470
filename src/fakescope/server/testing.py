"""Run `fakescope serve` as a child process and wait until it answers: for tests, benchmarks and scripts
that drive the server over real HTTP, as a newsroom's tools would (not through an in-process test client).

    >>> server = ServerProcess(data_dir, ["--model", "m.safetensors"]).start()
    >>> server.url                     # http://127.0.0.1:PORT
    >>> server.kill(); server.start()  # a crash and a restart on the same data folder and port
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A port nothing listens on now (the OS picks it); the server binds it a moment later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`python -m fakescope serve` on 127.0.0.1 with its output in DATA_DIR.log."""

    def __init__(self, data_dir: str | os.PathLike, args: list[str] | None = None, port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.args = list(args or [])
        self.port = port or free_port()
        self.env = {**os.environ, **(env or {})}
        self.log_path = self.data_dir.with_name(self.data_dir.name + ".log")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180.0) -> ServerProcess:
        """Start and wait until /api/health answers with a live worker; raises with the log's tail if not."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "fakescope", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--data-dir", str(self.data_dir), *self.args], stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fakescope serve exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/api/health", timeout=2) as response:
                    if json.load(response)["workers_alive"] >= 1:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"fakescope serve did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        """A clean stop (SIGTERM, as a service manager would): workers are stopped too."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def kill(self) -> None:
        """A crash (SIGKILL): nothing gets to clean up; orphaned workers notice and exit by themselves."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"
