"""`fakescope serve`: a web page and a REST API over the scanner, for a newsroom's desk or a deployment.

The web process only takes uploads, answers reads and serves pages; the scanning happens in worker
processes (`worker.py`) that share the SQLite database and the data folder with it:

    DATA_DIR/fakescope.sqlite3        every scan, its status, and its result JSON (schema fakescope.scan/2)
    DATA_DIR/scans/<id>/upload        the uploaded bytes, until the scan finishes
    DATA_DIR/scans/<id>/report.html   the report section (verdict, faces, timeline, heatmaps)

Scan ids are random, and file names from clients are only ever displayed. With a token (`--token` or
FAKESCOPE_TOKEN) every API call needs `Authorization: Bearer TOKEN`; the pages ask for it once and keep a
signed, expiring login session (never the token) in a same-site, HttpOnly cookie (Secure over HTTPS).
`guard.py` refuses other Host names and cross-site state changes; `http.py` times out slow connections.

(No `from __future__ import annotations` here: FastAPI reads the route signatures at run time, and some
name objects local to `create_app`.)
"""

import json
import logging
import os
import re
import secrets
import shutil
import sqlite3
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import IO, Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from fakescope import __version__
from fakescope.errors import FakescopeError
from fakescope.media import SUPPORTED_FORMATS, probe_duration, sniff_kind
from fakescope.models import DEFAULT_MODEL
from fakescope.options import ScanOptions
from fakescope.report.html import HEADLINES, render_document, report_css
from fakescope.server.db import QUEUED, RUNNING, Database, ScanRow, new_scan_id
from fakescope.server.guard import SESSION_COOKIE, HostGuard, Sessions, cross_site_reason
from fakescope.server.http import listen_socket, timed_protocol
from fakescope.server.uploads import FILE_FIELD, UploadError, receive_upload
from fakescope.server.worker import WorkerConfig, WorkerPool, disk_full, scan_dir

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one server per data folder is then up to the operator
    fcntl = None

log = logging.getLogger("fakescope.server")

TOKEN_ENV = "FAKESCOPE_TOKEN"
COOKIE = SESSION_COOKIE
SCAN_ID = re.compile(r"[0-9a-f]{32}")
PAGE_SIZE = 50
MAX_OFFSET = 2**40  # far past any history; SQLite's OFFSET overflows at 2**63
DISK_FULL = "the server's disk is full; try again later"
STAGE_NAMES = {"queued": "Waiting in the queue", "starting": "Starting", "decode": "Decoding",
               "detect": "Finding faces", "classify": "Scoring faces", "explain": "Computing heatmaps",
               "report": "Writing the report"}


@dataclass
class ServerConfig:
    data_dir: Path = Path("fakescope-data")
    model: str = DEFAULT_MODEL  # bundled name or .safetensors path
    token: str | None = None  # None: no authentication (local use)
    workers: int = 1  # scan processes; each uses about two cores at its busiest
    frames: int = ScanOptions.num_frames  # frames sampled per video
    max_upload_mb: float = 500.0
    max_duration: float = 3600.0  # seconds of video; 0 for no limit
    max_attempts: int = 3  # a scan interrupted by this many server restarts fails instead of resuming
    trust_anchors: str | None = None  # PEM file: Content Credentials signed under these read as trusted
    host: str = "127.0.0.1"  # the address listened on: a Host name answered (see guard.HostGuard)
    allowed_hosts: tuple[str, ...] = ()  # more Host names to answer: a proxy's public name
    header_timeout: float = 10.0  # seconds for a request's headers to arrive
    body_timeout: float = 30.0  # seconds a request body may go silent
    max_connections: int = 100  # past this many at once, requests get 503


# ---- API models (they make the OpenAPI schema) --------------------------------------------------------
class Links(BaseModel):
    status: str
    result: str
    report: str
    page: str


class ScanStatus(BaseModel):
    id: str
    filename: str
    kind: str | None
    size: int
    status: Literal["queued", "running", "done", "failed"]
    stage: str | None
    progress: float
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    verdict: str | None
    probability: float | None
    threshold: float | None
    error: str | None
    links: Links


class ScanList(BaseModel):
    scans: list[ScanStatus]
    total: int
    limit: int
    offset: int


class ErrorBody(BaseModel):
    error: str
    status: int


class Health(BaseModel):
    status: Literal["ok", "degraded", "down"]  # down (HTTP 503): nothing is scanning
    version: str
    workers_alive: int
    workers: int  # how many the server runs when all is well
    queued: int
    running: int
    problem: str | None  # what is wrong, when status is not ok


ERRORS = {code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 415, 422, 507)}
UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": [FILE_FIELD],
    "properties": {FILE_FIELD: {"type": "string", "format": "binary",
                                "description": "a video (MP4, MOV, MKV, WebM, AVI) or image (JPEG, PNG, WebP, BMP)"}},
}}}}}


def _time(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def _status(row: ScanRow) -> ScanStatus:
    api = f"/api/scans/{row.id}"
    return ScanStatus(
        id=row.id, filename=row.filename, kind=row.kind, size=row.size, status=row.status, stage=row.stage,
        progress=row.progress, attempts=row.attempts, created_at=_time(row.created_at),
        started_at=_time(row.started_at), finished_at=_time(row.finished_at), verdict=row.verdict,
        probability=row.probability, threshold=row.threshold, error=row.error,
        links=Links(status=api, result=f"{api}/result", report=f"{api}/report.html", page=f"/scans/{row.id}"))


def _download_name(filename: str, suffix: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(filename).stem)[:80] or "scan"
    return f"{stem}.fakescope{suffix}"


@cache
def _pages() -> Environment:
    env = Environment(loader=PackageLoader("fakescope.server", "templates"), autoescape=select_autoescape(),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = lambda t: "" if t is None else datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")
    env.globals.update(report_css=Markup(report_css()), version=__version__, stage_names=STAGE_NAMES,
                       headlines=HEADLINES)
    return env


def _page(name: str, status_code: int = 200, **context) -> HTMLResponse:
    return HTMLResponse(_pages().get_template(name).render(**context), status_code=status_code)


DB_NAME = "fakescope.sqlite3"
PARTIAL_UPLOAD = "upload.part"  # what the web process writes while an upload arrives


def check_store(data_dir: Path) -> None:
    """Before listening: a database that cannot be read, or a missing or empty one beside stored scans, is
    a one-line FakescopeError saying what to do. Starting on an empty database would have called every scan
    folder a partial upload and removed it."""
    db_path, root = data_dir / DB_NAME, data_dir / "scans"
    if db_path.is_dir():
        raise FakescopeError(f"{db_path} is a folder, not fakescope's database: move it away")
    if not db_path.exists() or db_path.stat().st_size == 0:
        folders = sum(1 for _ in root.iterdir()) if root.is_dir() else 0
        if folders:
            raise FakescopeError(
                f"the database {db_path} is {'empty' if db_path.exists() else 'missing'} but {root} holds "
                f"{folders} scan folder(s): restore the database from a backup, or move {root} away to start "
                "an empty history (nothing was changed)")
        return
    Database(db_path).check()


def recover(db: Database, data_dir: Path, max_attempts: int) -> None:
    """Start-up bookkeeping after any stop, clean or not: resume or fail interrupted scans (with the
    reason), fail queued scans whose upload is gone, and remove folders of uploads that never finished.
    A folder the database does not explain is never removed: only one holding nothing but a half-received
    upload is; anything else is left where it is, with a warning."""
    requeued, failed = db.recover(max_attempts)
    for scan_id in failed:  # a failed scan's upload has no further use
        (scan_dir(data_dir, scan_id) / "upload").unlink(missing_ok=True)
    lost = 0
    for scan_id in db.queued_ids():
        if not (scan_dir(data_dir, scan_id) / "upload").is_file():
            db.fail(scan_id, "the uploaded file is missing from the server's data folder")
            lost += 1
    known = db.ids()
    root = data_dir / "scans"
    partial, unknown = [], []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder.name in known:
            continue
        if (folder.is_dir() and not folder.is_symlink() and SCAN_ID.fullmatch(folder.name)
                and {f.name for f in folder.iterdir()} <= {PARTIAL_UPLOAD}):
            partial.append(folder)
        else:
            unknown.append(folder)
    for folder in partial:
        shutil.rmtree(folder, ignore_errors=True)
    if requeued or failed or lost or partial:
        log.warning("after restart: %d scan(s) resumed, %d failed after repeated interruptions, %d lost their "
                    "upload; %d partial upload(s) removed", requeued, len(failed), lost, len(partial))
    if unknown:
        log.warning("%d folder(s) under %s are not in the database (left as they are): %s", len(unknown), root,
                    ", ".join(f.name for f in unknown[:5]) + (" ..." if len(unknown) > 5 else ""))


def create_app(config: ServerConfig) -> FastAPI:
    data_dir = Path(config.data_dir).resolve()
    db = Database(data_dir / DB_NAME)
    pool = WorkerPool(WorkerConfig(db_path=str(db.path), data_dir=str(data_dir), model=str(config.model),
                                   frames=config.frames, trust_anchors=config.trust_anchors), config.workers, db)
    max_bytes = int(config.max_upload_mb * 2**20)
    hosts = HostGuard(config.host, config.allowed_hosts)
    sessions = Sessions()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        check_store(data_dir)
        db.create()
        recover(db, data_dir, config.max_attempts)
        pool.start()
        yield
        pool.stop()

    app = FastAPI(title="fakescope", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Scan videos and images for manipulated faces. Submit a file, poll its status, "
                              "fetch the result (schema fakescope.scan/2) or a self-contained HTML report.")
    app.mount("/static", StaticFiles(packages=[("fakescope.server", "static")]), name="static")
    bearer = HTTPBearer(auto_error=False, description=f"needed only when the server has a token ({TOKEN_ENV})")

    def authorized(request: Request) -> bool:
        """The bearer token (API clients), else the login session the form set (people)."""
        if not config.token:
            return True
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return secrets.compare_digest(value.strip().encode(), config.token.encode())
        return sessions.valid(request.cookies.get(COOKIE, ""))

    class Guard:
        """Before any route, static files included: a Host this server is for, and for a state-changing
        request from a browser, proof that it comes from our own pages (see guard.py)."""

        def __init__(self, app) -> None:
            self.app = app

        async def __call__(self, scope, receive, send) -> None:
            if scope["type"] == "http":
                request = Request(scope)
                refusal = None
                if not hosts.allows(request.headers.get("host", "")):
                    refusal = (400, (f"this server does not answer to the host name "
                                    f"{request.headers.get('host', '')[:80]!r} (start it with --allowed-host "
                                    "NAME to add one)"))
                else:
                    why = cross_site_reason(request.method, dict(request.headers), request.url.scheme, hosts,
                                            cookie_auth=bool(config.token) and COOKIE in request.cookies)
                    if why:
                        refusal = (403, (f"cross-site request refused ({why}): use this server's own page, "
                                        "or send 'Authorization: Bearer TOKEN'"))
                if refusal:
                    log.warning("refused %s %s: %s", request.method, request.url.path,
                                f"cross-site ({why})" if refusal[0] == 403 else "host not allowed")
                    await error_response(request, *refusal)(scope, receive, send)
                    return
            await self.app(scope, receive, send)

    app.add_middleware(Guard)

    def require_token(request: Request,
                      _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        """(`bearer` only puts the scheme into the OpenAPI schema; `authorized` also accepts the cookie.)"""
        if not authorized(request):
            raise HTTPException(401, "missing or wrong token: send 'Authorization: Bearer TOKEN'",
                                headers={"WWW-Authenticate": "Bearer"})

    def scan_or_404(scan_id: str) -> ScanRow:
        row = db.get(scan_id) if SCAN_ID.fullmatch(scan_id) else None
        if row is None:
            raise HTTPException(404, f"no scan with id {scan_id[:64]!r}")
        return row

    # ---- errors: one-line JSON for the API, a page for people, never a traceback -----------------------
    def error_response(request: Request, status: int, message: str, headers: dict | None = None) -> Response:
        if request.url.path.startswith("/api") or "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)
        return _page("error.html", status, code=status, message=message)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return error_response(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = " ".join(str(part) for part in first.get("loc", ()))
        return error_response(request, 422, f"{where}: {first.get('msg', 'invalid request')}".strip(": "))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        # No traceback here: Starlette hands the exception on to uvicorn, which logs it right after this line.
        log.error("unhandled error on %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        return error_response(request, 500, "internal server error (details are in the server log)")

    # ---- REST API ----------------------------------------------------------------------------------
    api = APIRouter(prefix="/api", dependencies=[Depends(require_token)], responses={401: ERRORS[401]})

    @api.post("/scans", status_code=202, response_model=ScanStatus, openapi_extra=UPLOAD_BODY,
              responses={c: ERRORS[c] for c in (400, 403, 413, 415, 422, 507)})
    async def submit_scan(request: Request) -> JSONResponse:
        """Upload a video or image to scan. Answers at once (202) with the scan's status; poll its link."""
        scan_id = new_scan_id()
        folder = scan_dir(data_dir, scan_id)
        part = folder / PARTIAL_UPLOAD
        try:
            folder.mkdir(parents=True)
            filename = await receive_upload(dict(request.headers), request.stream(), part, max_bytes,
                                            idle_timeout=config.body_timeout)
            kind = sniff_kind(part)
            if kind is None:
                raise UploadError(415, "not an image or video this server can scan (by its content): "
                                       f"send {SUPPORTED_FORMATS}")
            if kind == "video" and config.max_duration:
                duration = await run_in_threadpool(probe_duration, part)
                if duration is not None and duration > config.max_duration:
                    raise UploadError(422, f"video is {duration:.0f} s long; this server scans up to "
                                           f"{config.max_duration:g} s")
            os.replace(part, folder / "upload")
            row = ScanRow(id=scan_id, filename=filename, kind=kind, size=(folder / "upload").stat().st_size,
                          status=QUEUED, stage="queued", created_at=time.time())
            db.insert(row)
        except UploadError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise HTTPException(exc.status, exc.message) from None
        except ClientDisconnect:  # the client went away (or was timed out) mid-upload: nobody to answer
            shutil.rmtree(folder, ignore_errors=True)
            return Response(status_code=400)
        except (OSError, sqlite3.OperationalError) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            if disk_full(exc):
                log.error("upload refused: %s", exc)
                raise HTTPException(507, DISK_FULL) from None
            raise
        except BaseException:  # a bug: leave nothing behind
            shutil.rmtree(folder, ignore_errors=True)
            raise
        status = _status(row)
        return JSONResponse(status.model_dump(mode="json"), status_code=202, headers={"Location": status.links.status})

    @api.get("/scans", response_model=ScanList, responses={422: ERRORS[422]})
    def list_scans(limit: Annotated[int, Query(ge=1, le=500)] = PAGE_SIZE,
                   offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> ScanList:
        """Scans, newest first."""
        return ScanList(scans=[_status(r) for r in db.list(limit, offset)], total=db.count(), limit=limit,
                        offset=offset)

    @api.get("/scans/{scan_id}", response_model=ScanStatus, responses={404: ERRORS[404]})
    def get_scan(scan_id: str) -> ScanStatus:
        """A scan's status: stage and progress (0 to 1) while it runs, verdict or error when finished."""
        return _status(scan_or_404(scan_id))

    def finished_row(scan_id: str) -> ScanRow:
        row = scan_or_404(scan_id)
        if row.status in (QUEUED, RUNNING):
            raise HTTPException(409, f"scan is {row.status}; poll /api/scans/{scan_id} until it is done")
        if row.result is None:
            raise HTTPException(409, f"scan failed without a result: {row.error}")
        return row

    @api.get("/scans/{scan_id}/result", responses={200: {"description": "schema fakescope.scan/2"},
                                                   404: ERRORS[404], 409: ERRORS[409]})
    def get_result(scan_id: str) -> Response:
        """The result as JSON, the same schema as `fakescope scan --json` (fakescope.scan/2)."""
        return Response(finished_row(scan_id).result, media_type="application/json")

    @api.get("/scans/{scan_id}/report.html", response_class=HTMLResponse, responses={404: ERRORS[404],
                                                                                     409: ERRORS[409]})
    def get_report(scan_id: str) -> HTMLResponse:
        """A self-contained HTML report (images inline, no scripts) to save or send on."""
        row = finished_row(scan_id)
        fragment = scan_dir(data_dir, scan_id) / "report.html"
        if not fragment.is_file():
            raise HTTPException(404, "this scan's report is missing from the server's data folder")
        html = render_document([Markup(fragment.read_text(encoding="utf-8"))], row.filename,
                               json.loads(row.result).get("model"))
        name = _download_name(row.filename, ".html")
        return HTMLResponse(html, headers={"Content-Disposition": f"inline; filename=\"{name}\""})

    @api.delete("/scans/{scan_id}", status_code=204, responses={404: ERRORS[404]})
    def delete_scan(scan_id: str) -> Response:
        """Delete a scan, its result and its files (a running scan is abandoned)."""
        if not (SCAN_ID.fullmatch(scan_id) and db.delete(scan_id)):
            raise HTTPException(404, f"no scan with id {scan_id[:64]!r}")
        shutil.rmtree(scan_dir(data_dir, scan_id), ignore_errors=True)
        return Response(status_code=204)

    app.include_router(api)

    @app.get("/api/health", response_model=Health, tags=["health"], responses={503: {"model": Health}})
    def health() -> JSONResponse:
        """Liveness without a token: "ok" when every worker process is alive; "degraded" when some are not,
        "down" (HTTP 503) when none is, so nothing queued would ever be scanned; `problem` says why."""
        alive, problem = pool.alive(), pool.problem()
        status = "ok" if alive >= pool.n and problem is None else "down" if alive == 0 and pool.n else "degraded"
        if status != "ok" and problem is None:
            problem = f"{pool.n - alive} of {pool.n} scan worker(s) not running"
        body = Health(status=status, version=__version__, workers_alive=alive, workers=pool.n,
                      queued=db.count(QUEUED), running=db.count(RUNNING), problem=problem)
        return JSONResponse(body.model_dump(mode="json"), status_code=503 if status == "down" else 200)

    # ---- pages ----------------------------------------------------------------------------------
    def page_guard(request: Request) -> None:
        if not authorized(request):
            raise _LoginRedirect(request.url.path)

    @app.exception_handler(_LoginRedirect)
    async def login_redirect(request: Request, exc: _LoginRedirect) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next)}", status_code=303)

    pages = APIRouter(include_in_schema=False, dependencies=[Depends(page_guard)])

    @pages.get("/")
    def index_page() -> HTMLResponse:
        return _page("index.html", max_mb=config.max_upload_mb, max_duration=config.max_duration)

    @pages.get("/scans")
    def history_page(page: Annotated[int, Query(ge=1, le=MAX_OFFSET // PAGE_SIZE)] = 1) -> HTMLResponse:
        total = db.count()
        rows = db.list(PAGE_SIZE, (page - 1) * PAGE_SIZE)
        return _page("history.html", rows=rows, page=page, total=total,
                     more=page * PAGE_SIZE < total)

    @pages.get("/scans/{scan_id}")
    def scan_page(scan_id: str) -> HTMLResponse:
        row = scan_or_404(scan_id)
        fragment = scan_dir(data_dir, scan_id) / "report.html"
        report = Markup(fragment.read_text(encoding="utf-8")) if row.finished and fragment.is_file() else None
        return _page("scan.html", row=row, report=report, status=_status(row).model_dump(mode="json"),
                     json_name=_download_name(row.filename, ".json"),
                     html_name=_download_name(row.filename, ".html"))

    app.include_router(pages)

    @app.get("/login", include_in_schema=False)
    def login_page(next: str = "/") -> HTMLResponse:
        return _page("login.html", next=next, wrong=False)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await request.form()
        token, target = str(form.get("token", "")), str(form.get("next", "/"))
        if not target.startswith("/") or target.startswith(("//", "/\\")):
            target = "/"  # only ever back into this site
        if not config.token or not secrets.compare_digest(token.encode(), config.token.encode()):
            return _page("login.html", 401, next=target, wrong=bool(config.token))
        response = RedirectResponse(target, status_code=303)
        # A session, not the token: signed with a key this process made, so it expires, a restart revokes
        # it, and a service on another port of this host that receives it does not learn the token. Secure
        # over HTTPS (uvicorn takes the scheme from a trusted proxy's X-Forwarded-Proto).
        response.set_cookie(COOKIE, sessions.issue(), max_age=int(sessions.lifetime), httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        sessions.revoke(request.cookies.get(COOKIE, ""))
        response = RedirectResponse("/login" if config.token else "/", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    return app


class _LoginRedirect(Exception):
    """A page was asked for without the token: send the person to the login form, then back."""

    def __init__(self, next_path: str) -> None:
        self.next = next_path


def _lock_data_dir(data_dir: Path) -> IO[str]:
    """Hold an exclusive lock on the data folder for this process's life: a second server on the same
    folder would take the first one's running scans for interrupted ones. The OS drops the lock when the
    process ends, however it ends, so a crash never leaves the folder locked."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        handle = open(data_dir / "server.lock", "w")  # noqa: SIM115 (held until the process exits)
    except OSError as exc:
        raise FakescopeError(f"cannot use the data folder {data_dir}: {exc.strerror}") from None
    try:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise FakescopeError(f"{data_dir} is in use by another fakescope serve (one server per data folder)"
                             ) from None
    return handle


def serve(config: ServerConfig, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Check the model, lock the data folder, bind the port, and run until interrupted (Ctrl-C or SIGTERM
    stop the workers cleanly)."""
    import uvicorn

    from fakescope.models import FaceClassifier
    from fakescope.models.classifier import resolve_model_path

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config.model = str(resolve_model_path(config.model).resolve())
    FaceClassifier.load(config.model)  # a broken model fails here, with its reason, not in every scan
    if config.workers < 1:
        raise FakescopeError("--workers must be at least 1")
    data_dir = Path(config.data_dir).resolve()
    lock = _lock_data_dir(data_dir)
    check_store(data_dir)  # a damaged or missing database is one line, before anything listens
    sock = listen_socket(host, port)
    config.host = host
    if not config.token and host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("listening on %s without a token: anyone who can reach this port can scan and read "
                    "results; set %s or --token", host, TOKEN_ENV)
    shown = f"[{host}]" if ":" in host else host
    log.info("fakescope %s serving http://%s:%d/ (data in %s)", __version__, shown, sock.getsockname()[1], data_dir)
    server = uvicorn.Server(uvicorn.Config(
        create_app(config), log_level="info", access_log=False, timeout_graceful_shutdown=5,
        http=timed_protocol(config.header_timeout, config.body_timeout), limit_concurrency=config.max_connections,
        timeout_keep_alive=5))
    try:
        server.run(sockets=[sock])
    finally:
        lock.close()
