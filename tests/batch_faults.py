"""A Scanner that misbehaves on purpose, for the batch tests: worker processes import it by name (they are
spawned, so a monkeypatch in the test process would not reach them).

A file whose name contains "hang" never finishes (a decoder stuck in a bad stream); one whose name contains
"crash" kills the worker process outright (as the OOM killer or a decoder crash would); for one whose name
contains "threads" (a video) the worker tells, in the result's `error`, the threads its pools were given;
anything else is scanned normally.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from pathlib import Path

from fakescope.results import ERROR, FileResult
from fakescope.scan import Scanner


class FaultyScanner(Scanner):
    def scan_file(self, path, on_stage=None):
        name = os.path.basename(str(path))
        if "hang" in name:
            while True:
                time.sleep(1)
        if "crash" in name:
            os.kill(os.getpid(), signal.SIGKILL)
        if "threads" in name:
            return FileResult(path=str(path), verdict=ERROR, error=json.dumps(self.threads(path)))
        return super().scan_file(path, on_stage)

    def threads(self, path) -> dict:
        from fakescope.media.decode import _open_video
        from fakescope.threads import thread_share

        container, stream = _open_video(Path(path))
        with container:
            decoder = stream.codec_context.thread_count
        return {"share": thread_share(), "decoder": decoder, "omp": os.environ.get("OMP_NUM_THREADS"),
                "onnx": self.classifier._onnx_session().get_session_options().intra_op_num_threads,
                "cores": sorted(os.sched_getaffinity(0))}


def scanner_elsewhere(**kwargs) -> FaultyScanner:
    """A scanner on a node that sees none of the driver's relative paths: it works in an empty folder."""
    os.chdir(tempfile.mkdtemp(prefix="fakescope-elsewhere-"))
    return FaultyScanner(**kwargs)
