"""Batch scanning (fakescope.batch, `fakescope scan --out X.jsonl --resume --csv --workers`): every file gets
exactly one result whatever happens to the driver, to a worker or to a file, and a re-run finishes the rest.

Every test that starts worker processes waits a bounded time and leaves no process behind.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fakescope.batch import JsonlWriter, LocalPool, Progress, Task, read_jsonl, scan_batch
from fakescope.batch.output import FileKey
from fakescope.errors import FakescopeError, OptionError
from fakescope.results import ERROR, FileResult

REPO = Path(__file__).resolve().parents[1]
WAIT = 120  # seconds any wait for worker processes may take before the test fails (a loaded CI machine)


def _lines(path: Path) -> list[dict]:
    """The complete lines (a driver killed mid-write may leave half a line after them)."""
    data = path.read_text()
    return [json.loads(line) for line in data[:data.rfind("\n") + 1].splitlines() if line.strip()]


def _as_doc(lines: list[dict]) -> str:
    """JSONL lines as the --json document they are the files of, for the schema checker."""
    return json.dumps({"schema": "fakescope.scan/2", "fakescope_version": "0", "model": "m",
                       "settings": {"num_frames": 4, "fps": None, "threshold": 0.5, "aggregate": "mean",
                                    "detector": "YuNetDetector", "input_size": 128},
                       "files": lines})


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _workers_of(pid: int) -> list[int]:
    """The scan worker processes of a fakescope driver (not multiprocessing's resource tracker)."""
    return [c for c in _children(pid) if "spawn_main" in _cmdline(c)]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"  # a zombie is gone too


@pytest.fixture
def batch_dir(tmp_path: Path, make_batch: Callable[..., Path]) -> Path:
    """Ten files: eight copies of the demo clip (about half a second each to scan), a photo, a face-less one."""
    return make_batch(tmp_path / "batch", clips=8)


@pytest.fixture
def spawn_cli() -> Iterator[Callable[..., subprocess.Popen]]:
    """`python -m fakescope ARGS` started in its own session; killed with everything it started at the end."""
    procs: list[subprocess.Popen] = []

    def start(*args) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "fakescope", *map(str, args)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True, env=os.environ.copy())
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate(timeout=WAIT)


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.05)


def test_jsonl_streams_the_json_layout_and_the_csv_sums_it_up(
        run_cli: Callable[..., subprocess.CompletedProcess], tiny_model_path: Path, batch_dir: Path,
        tmp_path: Path, check_schema: Callable[[str], dict]) -> None:
    out, table = tmp_path / "results.jsonl", tmp_path / "results.csv"
    missing = tmp_path / "missing.mp4"
    proc = run_cli("scan", batch_dir, missing, "--model", tiny_model_path, "--frames", "4", "--workers", "2",
                   "--out", out, "--csv", table, "--json")
    assert proc.returncode == 1, proc.stderr  # the face-less photo and the missing file
    doc = check_schema(proc.stdout)
    lines = _lines(out)
    check_schema(_as_doc(lines))
    # The same results as the --json document (which keeps the input order), one line per file.
    by_path = {d["path"]: d for d in lines}
    assert len(by_path) == len(lines) == 11
    assert [f["path"] for f in doc["files"]] == [str(p) for p in sorted(batch_dir.iterdir())] + [str(missing)]
    for f in doc["files"]:
        line = dict(by_path[f["path"]])
        key = FileKey.of(f["path"])
        assert (line.pop("size"), line.pop("mtime_ns")) == (key.size, key.mtime_ns)
        assert line == f
    assert by_path[str(missing)]["verdict"] == "ERROR" and by_path[str(missing)]["size"] is None
    rows = list(csv.DictReader(table.open()))
    assert list(rows[0]) == ["path", "verdict", "p_fake", "persons", "error"]
    assert {r["path"]: r["verdict"] for r in rows} == {d["path"]: d["verdict"] for d in lines}
    clip = next(r for r in rows if r["path"].endswith("clip0.mp4"))
    assert float(clip["p_fake"]) == pytest.approx(by_path[clip["path"]]["probability"], abs=1e-4)
    assert clip["persons"] == "1" and clip["error"] == ""
    assert next(r for r in rows if r["path"] == str(missing))["error"] == "no such file"


def test_resume_skips_what_is_done_and_rescans_a_truncated_last_line_and_changed_files(
        tiny_model_path: Path, batch_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    files = sorted(batch_dir.iterdir())[:4]
    first = scan_batch(files, out=out, model=tiny_model_path, num_frames=4, workers=2)
    assert first.total == 4 and len(_lines(out)) == 4
    # A crash in the middle of writing the last line, and one file changed since.
    data = out.read_bytes()
    out.write_bytes(data[:-40])
    cut = json.loads(data[:-1].rsplit(b"\n", 1)[-1])["path"]
    changed = next(p for p in files if str(p) != cut)
    os.utime(changed, ns=(time.time_ns(), time.time_ns()))
    kept = [line for line in data.decode().splitlines()[:-1] if json.loads(line)["path"] != str(changed)]

    with pytest.raises(FakescopeError, match="--resume"):  # not overwritten by mistake
        scan_batch(files, out=out, model=tiny_model_path)
    second = scan_batch(sorted(batch_dir.iterdir()), out=out, resume=True, model=tiny_model_path, num_frames=4,
                        workers=2, keep=True)
    assert second.skipped == 2 and second.total == 10 and len(second.files) == 10
    text = out.read_text()
    assert all(line in text.splitlines() for line in kept)  # byte for byte: not scanned again
    lines = _lines(out)
    paths = [d["path"] for d in lines]
    # Every file once, except the changed one: its old line stays, the new one (last) wins on a resume.
    assert sorted(paths) == sorted([str(p) for p in batch_dir.iterdir()] + [str(changed)])
    done, _ = read_jsonl(out)
    assert FileKey.of(changed) in done
    third = scan_batch(sorted(batch_dir.iterdir()), out=out, resume=True, model=tiny_model_path, workers=2)
    assert third.skipped == 10 and out.read_text() == text  # nothing left: nothing scanned, nothing written


def test_a_line_that_is_not_a_result_is_refused_not_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    out.write_text('{"path": "a.mp4", "verdict": "REAL"}\nnot json\n{"path": "b.mp4", "verdict": "REAL"}\n')
    with pytest.raises(FakescopeError, match="line 2 is not a fakescope result"):
        JsonlWriter(out, resume=True)
    assert out.read_text().count("\n") == 3


def test_kill_9_of_the_driver_loses_only_the_files_in_flight(
        spawn_cli: Callable[..., subprocess.Popen], run_cli: Callable[..., subprocess.CompletedProcess],
        tiny_model_path: Path, batch_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    args = ("scan", batch_dir, "--model", tiny_model_path, "--frames", "8", "--workers", "2", "--out", out)
    proc = spawn_cli(*args)
    _wait_for(lambda: out.exists() and out.read_text().count("\n") >= 2, "two results")
    workers = _workers_of(proc.pid)
    proc.kill()
    proc.wait(WAIT)
    # Its workers notice the driver is gone and exit by themselves.
    _wait_for(lambda: all(_gone(w) for w in workers), "the orphaned workers to exit")
    before = _lines(out)
    assert 2 <= len(before) < 10
    again = run_cli(*args, "--resume")
    assert again.returncode == 1 and again.stderr.count("\n") == 1, again.stderr  # the coffee: NO_FACE
    lines = _lines(out)
    assert lines[:len(before)] == before
    assert sorted(d["path"] for d in lines) == sorted(str(p) for p in batch_dir.iterdir())  # each once
    assert all(d["verdict"] != ERROR for d in lines)
    assert again.stdout.splitlines()[-1].startswith("10 files: ") and f"({len(before)} from an earlier run)" in \
        again.stdout


def test_kill_9_of_a_worker_mid_batch_retries_its_file_on_a_fresh_worker(
        spawn_cli: Callable[..., subprocess.Popen], tiny_model_path: Path, batch_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    proc = spawn_cli("scan", batch_dir, "--model", tiny_model_path, "--frames", "8", "--workers", "2",
                     "--out", out, "-v")
    _wait_for(lambda: out.exists() and out.read_text().count("\n") >= 1, "a first result")
    victim = _workers_of(proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=WAIT)
    assert proc.returncode == 1, stderr
    lines = _lines(out)
    assert sorted(d["path"] for d in lines) == sorted(str(p) for p in batch_dir.iterdir())  # nothing lost or twice
    assert all(d["verdict"] != ERROR for d in lines)  # the file in flight was scanned again
    assert stderr.count("\n") == 1 and "coffee.png: no face found" in stderr
    # -v: one line a file, in input order; then the summary.
    assert [line.split(":")[0] for line in stdout.splitlines()[:-1]] == [
        str(p) for p in sorted(batch_dir.iterdir()) if p.name != "coffee.png"]


def test_a_poisoned_file_is_an_error_and_the_batch_goes_on(tiny_model_path: Path, batch_dir: Path,
                                                           tmp_path: Path) -> None:
    """A file that hangs its worker is cut off at the time limit; one that kills its worker, every time, is
    ERROR after `tries`; both workers are replaced and every other file gets its verdict."""
    from batch_faults import FaultyScanner

    hang, crash = tmp_path / "hang.mp4", tmp_path / "crash.mp4"
    shutil.copy(batch_dir / "clip0.mp4", hang)
    shutil.copy(batch_dir / "clip0.mp4", crash)
    files = [hang, *sorted(batch_dir.iterdir())[:3], crash, batch_dir / "photo.jpg"]
    pool = LocalPool(functools.partial(FaultyScanner, model=tiny_model_path, num_frames=4), workers=2,
                     timeout=8, tries=2)
    results: dict[int, list[FileResult]] = {}
    started = time.monotonic()
    pool.run([Task(i, str(p)) for i, p in enumerate(files)], lambda i, r: results.setdefault(i, []).append(r))
    assert time.monotonic() - started < WAIT
    assert sorted(results) == list(range(len(files))) and all(len(r) == 1 for r in results.values())
    verdicts = {files[i].name: r[0] for i, r in results.items()}
    assert verdicts["hang.mp4"].verdict == ERROR and "longer than 8 s" in verdicts["hang.mp4"].error
    assert verdicts["crash.mp4"].verdict == ERROR
    assert verdicts["crash.mp4"].error == "the scanner process died (signal SIGKILL) while scanning this file (2 tries)"
    assert all(verdicts[p.name].verdict in ("FAKE", "REAL") for p in files if p not in (hang, crash))
    assert pool.replaced == 3 and pool.pids() == []  # hang once, crash twice; all stopped at the end


@pytest.mark.parametrize("workers", [1, 2])
def test_each_worker_uses_its_share_of_the_cores(workers: int, tiny_model_path: Path, batch_dir: Path,
                                                  tmp_path: Path) -> None:
    """N workers on C cores: each one's thread pools (ONNX Runtime, torch through OMP_NUM_THREADS, the video
    decoder) use C // N threads (at least 1; ONNX Runtime at most 2; the decoder, as FFmpeg counts, one
    more when that is over 1), not C each."""
    from batch_faults import FaultyScanner

    from fakescope.threads import process_cores

    probe = tmp_path / "threads.mp4"
    shutil.copy(batch_dir / "clip0.mp4", probe)
    pool = LocalPool(functools.partial(FaultyScanner, model=tiny_model_path, num_frames=4), workers=workers)
    results: list[FileResult] = []
    pool.run([Task(i, str(probe)) for i in range(workers)], lambda i, r: results.append(r))
    share = max(1, process_cores() // workers)
    assert pool.threads == share
    for r in results:
        got = json.loads(r.error)
        assert got["share"] == int(got["omp"]) == share and got["onnx"] == min(2, share)
        assert got["decoder"] == (share + 1 if share > 1 else 1)


def test_a_broken_setup_is_one_error_not_a_result_per_file(tiny_model_path: Path, demo_media: dict[str, Path]
                                                           ) -> None:
    files = [demo_media["photo"], demo_media["clip"]]
    with pytest.raises(OptionError, match="num_frames must be at least 1"):  # before any worker starts
        scan_batch(files, model=tiny_model_path, num_frames=0, workers=2)
    with pytest.raises(FakescopeError, match="not found"):
        scan_batch(files, model="no-such-model", workers=2)


@pytest.mark.parametrize("where", ["missing_folder", "folder", "full_disk"])
def test_unwritable_or_full_output_is_one_line(where: str, run_cli: Callable[..., subprocess.CompletedProcess],
                                               tiny_model_path: Path, demo_media: dict[str, Path],
                                               tmp_path: Path) -> None:
    out = {"missing_folder": tmp_path / "no" / "such" / "r.jsonl", "folder": tmp_path / "d.jsonl",
           "full_disk": tmp_path / "full.jsonl"}[where]
    if where == "folder":
        out.mkdir()
    if where == "full_disk":
        out.symlink_to("/dev/full")
    proc = run_cli("scan", demo_media["photo"], demo_media["clip"], "--model", tiny_model_path, "--frames", "4",
                   "--workers", "1", "--out", out)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith("fakescope: error: ") and str(out) in line
    if where == "full_disk":
        assert "No space left on device" in line


def test_progress_says_done_rate_eta_and_errors() -> None:
    import io

    stream = io.StringIO()
    p = Progress(10, skipped=2, stream=stream, every=0.0, tty=False)
    p.file_done(error=False)
    p.file_done(error=True)
    line = stream.getvalue().splitlines()[-1]
    assert line.startswith("fakescope: 4/10 files (2 from an earlier run), ") and "files/h, ETA " in line
    assert "1 error," in line
    stream = io.StringIO()
    p = Progress(3, stream=stream, tty=True)
    p.file_done(error=False)
    p.clear()
    assert stream.getvalue().startswith("\r\x1b[K1/3 files") and stream.getvalue().endswith("\r\x1b[K")


def _imports(code: str) -> set[str]:
    """Top-level modules a fresh interpreter has imported after running `code`."""
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, timeout=WAIT, check=True, env=os.environ.copy())
    return {m.split(".")[0] for m in out.stdout.split()}


def test_start_up_imports_no_torch(tiny_model_path: Path, demo_media: dict[str, Path]) -> None:
    from fakescope.scan import Scanner

    assert "torch" not in _imports("import fakescope")
    assert "torch" not in _imports("from fakescope.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass")
    assert "av" not in _imports("from fakescope.cli import main\ntry: main(['--version'])\nexcept SystemExit: pass")
    Scanner(model=tiny_model_path).classifier._cached_onnx()  # the graph is exported (with torch) once
    mods = _imports(f"import fakescope\nr = fakescope.scan({str(demo_media['photo'])!r}, "
                    f"model={str(tiny_model_path)!r})\nassert r.files[0].verdict in ('FAKE', 'REAL')")
    assert "torch" not in mods and "onnxruntime" in mods
