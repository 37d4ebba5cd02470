"""`fakescope serve` over real HTTP: a real server process (uvicorn, worker processes, SQLite on disk),
driven as a newsroom's tools would drive it. One server for the module; it is killed and restarted on the
same data folder to prove that nothing is lost.
"""

from __future__ import annotations

import base64
import io
import os
import re
import signal
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from fakescope.server.testing import ServerProcess, free_port

TOKEN = "s3cret-newsroom-token"
MAX_MB = 1.0
MAX_SECONDS = 6.0
FRAMES = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_model_path: Path) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("server")
    proc = ServerProcess(root / "data", ["--model", str(tiny_model_path), "--frames", str(FRAMES),
                                         "--max-upload-mb", str(MAX_MB), "--max-duration", str(MAX_SECONDS)],
                         env={"FAKESCOPE_TOKEN": TOKEN})
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def expected(tiny_model_path: Path, demo_media: dict[str, Path]) -> dict[str, dict]:
    """What the scanner says about each demo file in-process, with the server's settings."""
    from fakescope.scan import Scanner

    scanner = Scanner(model=tiny_model_path, num_frames=FRAMES)
    return {name: scanner.scan_file(path).to_dict() for name, path in demo_media.items()}


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory, astronaut: np.ndarray) -> Path:
    """8 s of video: over the server's 6 s limit."""
    from fakescope.demo import _ken_burns
    from fakescope.media.encode import write_video

    path = tmp_path_factory.mktemp("long") / "eight-seconds.mp4"
    write_video(path, _ken_burns(astronaut, 40, (160, 120)), fps=5)
    return path


def submit(client: httpx.Client, path: Path, name: str | None = None) -> httpx.Response:
    with open(path, "rb") as fh:
        return client.post("/api/scans", files={"file": (name or path.name, fh, "application/octet-stream")})


def wait_finished(client: httpx.Client, scan_id: str, timeout: float = 180.0) -> tuple[dict, list[dict]]:
    """Poll until done or failed; returns the final status and every status seen on the way."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/api/scans/{scan_id}")
        assert r.status_code == 200, r.text
        seen.append(r.json())
        if seen[-1]["status"] in ("done", "failed"):
            return seen[-1], seen
        time.sleep(0.05)
    raise AssertionError(f"scan {scan_id} did not finish in {timeout} s: {seen[-1]}")


def assert_error(r: httpx.Response, status: int, words: str) -> None:
    """A clear JSON error: the right code, a one-line message that says what happened, no traceback."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body == {"error": body["error"], "status": status}
    assert words in body["error"].lower(), body["error"]
    assert "\n" not in body["error"] and "Traceback" not in r.text and 'File "' not in r.text


def scan_folders(server: ServerProcess) -> set[str]:
    root = server.data_dir / "scans"
    return {p.name for p in root.iterdir()} if root.is_dir() else set()


# ---- the life of a scan ---------------------------------------------------------------------------------
def test_video_scan_from_upload_to_delete(server: ServerProcess, client: httpx.Client, demo_media: dict,
                                          expected: dict, check_schema) -> None:
    r = submit(client, demo_media["clip"])
    assert r.status_code == 202, r.text
    scan = r.json()
    assert re.fullmatch(r"[0-9a-f]{32}", scan["id"])
    assert r.headers["location"] == f"/api/scans/{scan['id']}" == scan["links"]["status"]
    assert scan["status"] == "queued" and scan["filename"] == "astronaut-clip.mp4" and scan["kind"] == "video"
    assert scan["size"] == demo_media["clip"].stat().st_size

    final, seen = wait_finished(client, scan["id"])
    assert final["status"] == "done" and final["error"] is None and final["progress"] == 1.0
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress), "progress went backwards"
    assert {s["stage"] for s in seen if s["status"] == "running"} <= {
        "starting", "decode", "detect", "classify", "explain", "report"}

    # The result: schema fakescope.scan/2, the client's file name, the scanner's own numbers.
    r = client.get(final["links"]["result"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = check_schema(r.text)
    (f,) = doc["files"]
    want = expected["clip"]
    assert f["path"] == "astronaut-clip.mp4"
    assert f["verdict"] == want["verdict"] == final["verdict"]
    assert f["probability"] == pytest.approx(want["probability"], abs=1e-4) == final["probability"]
    assert len(f["persons"]) == len(want["persons"])
    for got, ref in zip(f["persons"], want["persons"]):
        assert got["frames"] == ref["frames"] and got["scores"] == pytest.approx(ref["scores"], abs=1e-3)
    assert doc["settings"]["num_frames"] == FRAMES

    # The report: self-contained, with the verdict, the timeline and the heatmaps.
    r = client.get(final["links"]["report"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "<script" not in html and not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert f'<span class="fs-badge">{f["verdict"]}</span>' in html
    assert html.count("<polyline") == len(f["persons"])
    heatmaps = re.findall(r'class="fs-heatmap" src="data:image/png;base64,([^"]+)"', html)
    assert len(heatmaps) == 4
    assert Image.open(io.BytesIO(base64.b64decode(heatmaps[0]))).size == (128, 128)

    # History: in the list and on the page; the permanent link shows the report.
    listing = client.get("/api/scans").json()
    assert scan["id"] in [s["id"] for s in listing["scans"]] and listing["total"] >= 1
    assert "astronaut-clip.mp4" in client.get("/scans").text
    page = client.get(final["links"]["page"]).text
    assert "fs-timeline" in page and "fs-heatmap" in page and 'download="astronaut-clip.fakescope.json"' in page

    # The upload is gone once scanned; the report stays until the scan is deleted.
    folder = server.data_dir / "scans" / scan["id"]
    assert not (folder / "upload").exists() and (folder / "report.html").is_file()
    assert client.delete(f"/api/scans/{scan['id']}").status_code == 204
    assert not folder.exists()
    for path in (f"/api/scans/{scan['id']}", final["links"]["result"], final["links"]["report"]):
        assert_error(client.get(path), 404, "no scan")
    assert_error(client.delete(f"/api/scans/{scan['id']}"), 404, "no scan")


def test_image_and_faceless_image(client: httpx.Client, demo_media: dict, expected: dict) -> None:
    ids = {name: submit(client, demo_media[name]).json()["id"] for name in ("photo", "no_face")}
    photo, _ = wait_finished(client, ids["photo"])
    assert photo["status"] == "done" and photo["kind"] == "image"
    assert photo["verdict"] == expected["photo"]["verdict"]
    assert photo["probability"] == pytest.approx(expected["photo"]["probability"], abs=1e-4)
    no_face, _ = wait_finished(client, ids["no_face"])
    assert no_face["status"] == "done" and no_face["verdict"] == "NO_FACE" and no_face["probability"] is None
    assert "No face found" in client.get(no_face["links"]["report"]).text


def test_content_credentials_reach_the_page_and_the_result(client: httpx.Client, demo_media: dict,
                                                           tmp_path: Path) -> None:
    """A photo whose valid Content Credentials declare it AI-generated: the page says so before the face
    verdict, and the result carries the provenance object."""
    pytest.importorskip("cryptography")
    from fakescope.provenance.testing import AI_GENERATED, created, make_signer, manifest

    signed = tmp_path / "generated.jpg"
    signed.write_bytes(make_signer().sign(demo_media["photo"].read_bytes(), "image/jpeg",
                                          manifest([created(AI_GENERATED)])))
    status, _ = wait_finished(client, submit(client, signed).json()["id"])
    assert status["status"] == "done"
    provenance = client.get(status["links"]["result"]).json()["files"][0]["provenance"]
    assert provenance["ai_declared"] is True and provenance["credentials"]["state"] == "valid"
    page = client.get(status["links"]["page"]).text
    assert page.index('class="fs-ai-declared') < page.index('class="fs-verdict') and "Imaginary Generator Inc" in page
    assert "fs-ai-declared" in client.get(status["links"]["report"]).text


def test_a_custom_model_is_shown_by_name_not_path(client: httpx.Client, demo_media: dict, expected: dict,
                                                  tiny_model_path: Path) -> None:
    """The server was given a .safetensors path: clients see the model's name (its file stem here, as its
    config has none), never where the server keeps it. The Python API keeps the caller's own path."""
    assert expected["photo"]["model"] == str(tiny_model_path)
    status, _ = wait_finished(client, submit(client, demo_media["photo"]).json()["id"])
    doc = client.get(status["links"]["result"]).json()
    assert doc["model"] == doc["files"][0]["model"] == "tiny"
    report, page = client.get(status["links"]["report"]).text, client.get(status["links"]["page"]).text
    assert "model tiny" in report and "model tiny" in page
    folders = {str(tiny_model_path.parent), str(tiny_model_path.resolve().parent)}
    for text in (client.get(status["links"]["result"]).text, report, page):
        assert not any(folder in text for folder in folders)


def test_result_before_the_scan_is_done_is_409(client: httpx.Client, demo_media: dict) -> None:
    ids = [submit(client, demo_media["clip"]).json()["id"] for _ in range(2)]
    assert_error(client.get(f"/api/scans/{ids[1]}/result"), 409, "poll")  # queued behind the first
    assert_error(client.get(f"/api/scans/{ids[1]}/report.html"), 409, "poll")
    for scan_id in ids:
        assert wait_finished(client, scan_id)[0]["status"] == "done"


def test_delete_while_queued_or_running(server: ServerProcess, client: httpx.Client, demo_media: dict) -> None:
    ids = [submit(client, demo_media["clip"]).json()["id"] for _ in range(3)]
    running = _wait_running(client, ids)
    queued = next(i for i in ids if i != running and client.get(f"/api/scans/{i}").json()["status"] == "queued")
    for scan_id in (running, queued):
        assert client.delete(f"/api/scans/{scan_id}").status_code == 204
    for scan_id in ids:
        if scan_id not in (running, queued):
            assert wait_finished(client, scan_id)[0]["status"] == "done"
    for scan_id in (running, queued):  # abandoned: no row, no files, even after the worker got to its end
        assert_error(client.get(f"/api/scans/{scan_id}"), 404, "no scan")
        assert not (server.data_dir / "scans" / scan_id).exists()


# ---- bad input ------------------------------------------------------------------------------------------
def test_token_protects_the_api_and_pages(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as anon:
        r = anon.get("/api/scans")
        assert_error(r, 401, "token")
        assert r.headers["www-authenticate"] == "Bearer"
        assert_error(anon.get("/api/scans", headers={"Authorization": "Bearer wrong"}), 401, "token")
        assert_error(anon.post("/api/scans", files={"file": ("a.jpg", b"\xff\xd8\xff" + bytes(9))}), 401, "token")
        assert anon.get("/api/health").status_code == 200  # liveness stays open
        r = anon.get("/scans", headers={"Accept": "text/html"})
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/scans"
        assert anon.post("/login", data={"token": "wrong", "next": "/scans"}).status_code == 401
        r = anon.post("/login", data={"token": TOKEN, "next": "//evil.example/"})
        assert r.status_code == 303 and r.headers["location"] == "/"  # never redirected off the site
        assert anon.get("/scans").status_code == 200  # the cookie now lets the person in
        assert anon.get("/api/scans").status_code == 200


def test_too_large_is_413_and_leaves_nothing(server: ServerProcess, client: httpx.Client) -> None:
    before = scan_folders(server)
    big = b"\xff\xd8\xff\xe0" + os.urandom(int(1.5 * MAX_MB * 2**20))
    assert_error(client.post("/api/scans", files={"file": ("big.jpg", big)}), 413, "too large")
    # A body declared far beyond the limit is refused before it is read.
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(b"POST /api/scans HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN.encode() +
                  b"\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 10000000000\r\n\r\n")
        head = s.recv(4096).decode()
    assert head.startswith("HTTP/1.1 413"), head
    assert scan_folders(server) == before


def test_wrong_content_is_415(client: httpx.Client, bad_media: dict, server: ServerProcess) -> None:
    before = scan_folders(server)
    # Named like a video, but the bytes say otherwise: the name is not trusted.
    assert_error(submit(client, bad_media["text_mp4"]), 415, "not an image or video")
    assert_error(submit(client, bad_media["html_mp4"]), 415, "not an image or video")
    # Not multipart at all.
    assert_error(client.post("/api/scans", content=b"\xff\xd8\xff\xe0" + bytes(100),
                             headers={"Content-Type": "image/jpeg"}), 415, "multipart")
    assert scan_folders(server) == before


def test_malformed_uploads_are_400(client: httpx.Client, server: ServerProcess) -> None:
    before = scan_folders(server)
    assert_error(client.post("/api/scans", data={"note": "no file"}, files={"other": ("a.jpg", b"\xff\xd8\xff")}),
                 400, "no file")
    assert_error(client.post("/api/scans", files={"file": ("empty.mp4", b"")}), 400, "empty")
    assert_error(client.post("/api/scans", content=b"--b\r\nnot a header line at all\r\n\r\n\x00\x01",
                             headers={"Content-Type": "multipart/form-data; boundary=b"}), 400, "")
    assert scan_folders(server) == before


def test_too_long_video_and_bad_parameters_are_422(client: httpx.Client, long_clip: Path) -> None:
    assert_error(submit(client, long_clip), 422, "8 s long")
    assert_error(client.get("/api/scans", params={"limit": 0}), 422, "limit")
    assert_error(client.get("/api/scans", params={"offset": "x"}), 422, "offset")


def test_unknown_ids_are_404_and_ids_are_never_paths(client: httpx.Client) -> None:
    for scan_id in ("0" * 32, "nope", "..%2F..%2Ffakescope.sqlite3", "%2E%2E", "0" * 31 + "g"):
        assert_error(client.get(f"/api/scans/{scan_id}"), 404, "")
        assert_error(client.get(f"/api/scans/{scan_id}/result"), 404, "")
        assert_error(client.delete(f"/api/scans/{scan_id}"), 404, "")
    assert_error(client.get("/api/nothing-here"), 404, "not found")


def test_file_names_are_only_displayed(server: ServerProcess, client: httpx.Client, demo_media: dict) -> None:
    root = server.data_dir.parent
    names = {"../../../evil.jpg": "evil.jpg", "..\\..\\windows.jpg": "windows.jpg",
             "<img src=x onerror=alert(1)>.jpg": "<img src=x onerror=alert(1)>.jpg", "\x1b[31mred\x7f.jpg": "[31mred.jpg"}
    for sent, shown in names.items():
        r = submit(client, demo_media["photo"], name=sent)
        assert r.status_code == 202, r.text
        status, _ = wait_finished(client, r.json()["id"])
        assert status["filename"] == shown
        page = client.get(status["links"]["page"]).text
        assert "<img src=x" not in page  # escaped wherever it is shown
    assert not list(root.rglob("evil.jpg")) and not list(root.parent.glob("evil.jpg"))
    assert all(re.fullmatch(r"[0-9a-f]{32}", name) for name in scan_folders(server))
    assert "&lt;img src=x" in client.get("/scans").text


def test_corrupt_upload_fails_alone(client: httpx.Client, bad_media: dict, demo_media: dict) -> None:
    r = submit(client, bad_media["truncated_mp4"])  # an mp4 header, then half the file: accepted, then fails
    assert r.status_code == 202, r.text
    status, _ = wait_finished(client, r.json()["id"])
    assert status["status"] == "failed" and status["verdict"] == "ERROR"
    assert status["error"] and "\n" not in status["error"] and "Traceback" not in status["error"]
    doc = client.get(status["links"]["result"]).json()
    assert doc["files"][0]["error"] == status["error"]
    assert status["error"] in client.get(status["links"]["report"]).text
    # The server carries on.
    ok, _ = wait_finished(client, submit(client, demo_media["photo"]).json()["id"])
    assert ok["status"] == "done"


def test_openapi_schema_describes_the_api(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert {"post", "get"} <= set(paths["/api/scans"])
    assert {"get", "delete"} <= set(paths["/api/scans/{scan_id}"])
    assert "get" in paths["/api/scans/{scan_id}/result"] and "get" in paths["/api/scans/{scan_id}/report.html"]
    upload = paths["/api/scans"]["post"]
    assert upload["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
    assert {"202", "400", "401", "413", "415", "422"} <= set(upload["responses"])
    assert any(s.get("scheme") == "bearer" for s in schema["components"]["securitySchemes"].values())
    assert "/" not in paths and "/scans" not in paths  # pages are not API


def test_serve_refuses_bad_set_ups_in_one_line(server: ServerProcess, run_cli, tiny_model_path: Path,
                                                tmp_path: Path) -> None:
    cases = [(server.data_dir, tiny_model_path, free_port(), "in use by another fakescope serve"),
             (tmp_path / "a", tmp_path / "missing.safetensors", free_port(), "not found"),
             (tmp_path / "b", tiny_model_path, server.port, "cannot listen")]
    for data_dir, model, port, message in cases:
        done = run_cli("serve", "--data-dir", data_dir, "--model", model, "--port", port)
        assert done.returncode == 1 and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and done.stderr.count("fakescope: error") == 1


def test_serve_refuses_bad_trust_anchors_in_one_line(run_cli, tmp_path: Path) -> None:
    done = run_cli("serve", "--data-dir", tmp_path / "data", "--trust-anchors", tmp_path / "missing.pem",
                   "--port", free_port())
    assert done.returncode == 1 and "cannot read the trust anchors file" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("fakescope: error") == 1


# ---- crashes and restarts -------------------------------------------------------------------------------
def _rows(server: ServerProcess) -> list[dict]:
    with sqlite3.connect(server.data_dir / "fakescope.sqlite3") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT id, status, worker_pid, attempts FROM scans")]


def _wait_running(client: httpx.Client, ids: list[str]) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for s in client.get("/api/scans", params={"limit": 500}).json()["scans"]:
            if s["id"] in ids and s["status"] == "running":
                return s["id"]
        time.sleep(0.01)
    raise AssertionError("no scan started running")


def test_worker_crash_fails_that_scan_only(server: ServerProcess, client: httpx.Client, demo_media: dict) -> None:
    ids = [submit(client, demo_media["clip"]).json()["id"] for _ in range(4)]
    running = _wait_running(client, ids)
    pid = next(r["worker_pid"] for r in _rows(server) if r["id"] == running)
    os.kill(pid, signal.SIGKILL)
    finals = {scan_id: wait_finished(client, scan_id)[0] for scan_id in ids}
    crashed = [s for s in finals.values() if s["status"] == "failed"]
    assert len(crashed) == 1 and "scanner process died" in crashed[0]["error"], finals
    assert not (server.data_dir / "scans" / crashed[0]["id"] / "upload").exists()  # a failed scan keeps nothing
    assert sum(s["status"] == "done" for s in finals.values()) == 3  # a fresh worker took over
    assert client.get("/api/health").json()["workers_alive"] == 1


def test_restart_with_scans_in_flight_loses_nothing(server: ServerProcess, demo_media: dict,
                                                    expected: dict) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as c:
        finished_before = {s["id"]: s for s in c.get("/api/scans", params={"limit": 500}).json()["scans"]}
        ids = [submit(c, demo_media["clip"]).json()["id"] for _ in range(4)]
        _wait_running(c, ids)
    server.kill()  # SIGKILL: no clean-up at all, a scan is mid-way
    server.start()
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as c:
        finals = [wait_finished(c, scan_id)[0] for scan_id in ids]
        assert all(s["status"] == "done" for s in finals), finals
        assert max(s["attempts"] for s in finals) == 2  # the one in flight was resumed, not dropped
        for s in finals:
            assert s["probability"] == pytest.approx(expected["clip"]["probability"], abs=1e-4)
        after = {s["id"]: s for s in c.get("/api/scans", params={"limit": 500}).json()["scans"]}
        for scan_id, before in finished_before.items():  # earlier results are all still there, unchanged
            assert after[scan_id]["status"] == before["status"] and after[scan_id]["verdict"] == before["verdict"]
            if before["status"] == "done":
                assert c.get(before["links"]["result"]).status_code == 200


def test_recovery_rules(tmp_path: Path) -> None:
    """At start-up: interrupted scans resume until they have been interrupted too often, then fail with the
    reason; queued scans whose upload vanished fail; half-received uploads are removed."""
    from fakescope.server.app import recover
    from fakescope.server.db import Database, ScanRow

    db = Database(tmp_path / "db.sqlite3")
    db.create()
    for scan_id, status, attempts, has_upload in [("a" * 32, "running", 1, True), ("b" * 32, "running", 3, True),
                                                  ("c" * 32, "queued", 0, False), ("d" * 32, "done", 1, False)]:
        db.insert(ScanRow(id=scan_id, filename="x.mp4", kind="video", size=1, status=status, attempts=attempts,
                          created_at=time.time()))
        folder = tmp_path / "scans" / scan_id
        folder.mkdir(parents=True)
        if has_upload:
            (folder / "upload").write_bytes(b"x")
    (tmp_path / "scans" / ("e" * 32)).mkdir()  # an upload that never completed: no row
    recover(db, tmp_path, max_attempts=3)
    assert db.get("a" * 32).status == "queued"
    failed = db.get("b" * 32)
    assert failed.status == "failed" and "stopped during this scan 3 times" in failed.error
    assert db.get("c" * 32).status == "failed" and "missing" in db.get("c" * 32).error
    assert db.get("d" * 32).status == "done"
    assert not (tmp_path / "scans" / ("e" * 32)).exists()
    assert db.count() == 4
