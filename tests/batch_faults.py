"""A Scanner that misbehaves on purpose, for the batch tests: worker processes import it by name (they are
spawned, so a monkeypatch in the test process would not reach them).

A file whose name contains "hang" never finishes (a decoder stuck in a bad stream); one whose name contains
"crash" kills the worker process outright (as the OOM killer or a decoder crash would); anything else is scanned normally.
"""

from __future__ import annotations

import os
import signal
import time

from fakescope.scan import Scanner


class FaultyScanner(Scanner):
    def scan_file(self, path, on_stage=None):
        name = os.path.basename(str(path))
        if "hang" in name:
            while True:
                time.sleep(1)
        if "crash" in name:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().scan_file(path, on_stage)
