"""The training scripts' stage rule (scripts/stage.sh): a chain of stages re-run after a cut-short session
must neither train a finished stage again nor start a half-trained one afresh."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).parents[1] / "scripts"


@pytest.fixture
def recorded(tmp_path: Path):
    """Runs `train_stage OUT ARGS...` with a stand-in `fakescope` on PATH that writes down its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.txt"
    stub = bin_dir / "fakescope"
    stub.write_text(f'#!/usr/bin/env bash\necho "$*" >> {log}\n')
    stub.chmod(0o755)

    def run(out: Path, *args: str) -> list[str]:
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        subprocess.run(["bash", "-c", 'set -euo pipefail; source "$0"; train_stage "$@"', SCRIPTS / "stage.sh",
                        out, *args], env=env, check=True, capture_output=True, text=True)
        return log.read_text().splitlines() if log.exists() else []

    return run


def test_a_new_stage_trains_from_the_start(recorded, tmp_path):
    out = tmp_path / "s1"
    assert recorded(out, "data.csv", "--seed", "0") == [f"train data.csv --seed 0 --out {out}"]


def test_a_stage_cut_short_resumes(recorded, tmp_path):
    out = tmp_path / "s1"
    out.mkdir()
    (out / "state.pt").write_bytes(b"")
    assert recorded(out, "data.csv") == [f"train data.csv --out {out} --resume"]


def test_a_finished_stage_is_skipped(recorded, tmp_path):
    out = tmp_path / "s1"
    out.mkdir()
    (out / "state.pt").write_bytes(b"")
    (out / "history.json").write_text("{}")
    assert recorded(out, "data.csv") == []


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.sh")))
def test_every_training_script_parses(script):
    subprocess.run(["bash", "-n", str(SCRIPTS / script)], check=True)
