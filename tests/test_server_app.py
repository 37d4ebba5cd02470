"""`fakescope serve`'s app in-process, through Starlette's test client: what a real server process cannot
easily show (a bug inside a request, a request that came over HTTPS). No worker processes are started."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from fakescope.server.app import COOKIE, ServerConfig, create_app
from fakescope.server.db import Database

TOKEN = "s3cret-newsroom-token"
SECRET = "disk I/O error in /srv/private/fakescope.sqlite3"


@pytest.fixture
def app_client(tmp_path: Path) -> Callable[..., TestClient]:
    """A client for an app on a fresh data folder; use it in a `with` block so start-up and shut-down run."""

    def make(base_url: str = "http://testserver", raise_server_exceptions: bool = False, **config) -> TestClient:
        """(raise_server_exceptions=False: the client gets what a real client would, not the exception.)"""
        config.setdefault("allowed_hosts", ("testserver", "news.example"))
        app = create_app(ServerConfig(data_dir=tmp_path / "data", workers=0, **config))
        return TestClient(app, base_url=base_url, raise_server_exceptions=raise_server_exceptions,
                          follow_redirects=False)

    return make


def test_unexpected_error_is_a_500_without_internals(app_client, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    def broken(self, status: str | None = None) -> int:
        raise RuntimeError(SECRET)

    monkeypatch.setattr(Database, "count", broken)
    with app_client() as client, caplog.at_level(logging.ERROR, logger="fakescope.server"):
        r = client.get("/api/health")
        page = client.get("/scans", headers={"Accept": "text/html"})

    assert r.status_code == 500 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body == {"error": body["error"], "status": 500}  # the shape of every other error
    assert "server log" in body["error"] and "\n" not in body["error"]
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    for text in (r.text, page.text):
        assert "private" not in text and "RuntimeError" not in text and "Traceback" not in text

    # The operator gets the whole story: what failed where, then (from uvicorn) the traceback, once.
    logged = [rec.getMessage() for rec in caplog.records
              if rec.name == "fakescope.server" and rec.levelno == logging.ERROR]
    assert logged == [f"unhandled error on GET {path}: RuntimeError: {SECRET}" for path in ("/api/health", "/scans")]
    with app_client(raise_server_exceptions=True) as server_side, pytest.raises(RuntimeError, match=SECRET):
        server_side.get("/api/health")  # handed on after the response, for the server to log


@pytest.mark.parametrize("base_url, secure", [("http://127.0.0.1:8000", False), ("https://news.example", True)])
def test_login_cookie_is_secure_over_https(app_client, base_url: str, secure: bool) -> None:
    with app_client(base_url=base_url, token=TOKEN) as client:
        r = client.post("/login", data={"token": TOKEN, "next": "/scans"}, headers={"Origin": base_url})
        assert r.status_code == 303 and r.headers["location"] == "/scans"
        (cookie,) = r.headers.get_list("set-cookie")
        name, *attributes = [part.strip().lower() for part in cookie.split(";")]
        assert name.startswith(f"{COOKIE}=") and TOKEN.lower() not in name  # a session, not the token
        assert "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
        assert ("secure" in attributes) == secure
        assert client.get("/scans").status_code == 200  # and the client sends it back, either way
