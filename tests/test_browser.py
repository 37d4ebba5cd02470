"""The web page in a real browser: Debian's headless Chromium, driven by Selenium through Debian's
chromedriver (nothing downloads a browser). A person's path: open the page, choose a clip, watch the
progress, read the verdict, the timeline and the heatmaps, find the scan in the history.

Set FAKESCOPE_SCREENSHOTS=DIR to keep the screenshots; otherwise they go to pytest's temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from fakescope.server.testing import ServerProcess

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
TOKEN = "s3cret-newsroom-token"
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER) and not os.environ.get("CI"),  # in CI a missing browser is a failure
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_model_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("browser") / "data",
                         ["--model", str(tiny_model_path), "--frames", "8"]).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not try to fetch anything
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1100,1900", "--lang=en-US"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("FAKESCOPE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _wait(driver, seconds: float, condition):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.05).until(condition)


def test_upload_progress_verdict_timeline_heatmaps(server: ServerProcess, browser, demo_media: dict,
                                                   shots: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    # Two scans ahead in the queue, so the page has progress to show before the verdict.
    with httpx.Client(base_url=server.url, timeout=60) as api:
        for _ in range(2):
            with open(demo_media["clip"], "rb") as fh:
                assert api.post("/api/scans", files={"file": ("ahead.mp4", fh)}).status_code == 202

    browser.get(server.url + "/")
    browser.find_element(By.ID, "file").send_keys(str(demo_media["clip"]))  # as if chosen in the dialog
    _wait(browser, 60, ec.url_matches(r"/scans/[0-9a-f]{32}$"))
    scan_id = browser.current_url.rsplit("/", 1)[1]
    stage = _wait(browser, 30, ec.visibility_of_element_located((By.ID, "stage"))).text
    percent = browser.find_element(By.ID, "percent").text
    assert stage and re.fullmatch(r"\d{1,3}%", percent), (stage, percent)
    browser.save_screenshot(str(shots / "fakescope-progress.png"))

    verdict = _wait(browser, 180, ec.visibility_of_element_located((By.CSS_SELECTOR, ".fs-report .fs-verdict")))
    with httpx.Client(base_url=server.url, timeout=60) as api:
        result = api.get(f"/api/scans/{scan_id}/result").json()["files"][0]
    assert result["verdict"] in verdict.text
    assert f'{result["probability"]:.3f}' in browser.find_element(By.CSS_SELECTOR, ".fs-prob").text

    # Faces: a thumbnail per person, decoded by the browser.
    thumbs = browser.find_elements(By.CSS_SELECTOR, "img.fs-thumb")
    assert len(thumbs) == len(result["persons"]) >= 1
    assert all(browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", t) > 0
               for t in thumbs)

    # The timeline: drawn, one line per person, one dot per sampled frame, laid out at a real size.
    chart = browser.execute_script("""
        const svg = document.querySelector('svg.fs-timeline');
        const line = svg.querySelector('polyline');
        const box = line.getBBox(), shown = svg.getBoundingClientRect();
        return {lines: svg.querySelectorAll('polyline').length, dots: svg.querySelectorAll('circle').length,
                points: line.points.numberOfItems, width: box.width, shownWidth: shown.width,
                shownHeight: shown.height};""")
    assert chart["lines"] == len(result["persons"])
    assert chart["points"] == len(result["persons"][0]["frames"]) == 8
    assert chart["dots"] == sum(len(p["frames"]) for p in result["persons"])
    assert chart["width"] > 300 and chart["shownWidth"] > 500 and chart["shownHeight"] > 100

    # The heatmaps: loaded, and visibly different from the plain crop beside each (the overlay is there).
    pairs = browser.execute_script("""
        function pixels(img) {
            const c = document.createElement('canvas');
            c.width = img.naturalWidth; c.height = img.naturalHeight;
            const g = c.getContext('2d');
            g.drawImage(img, 0, 0);
            return g.getImageData(0, 0, c.width, c.height).data;
        }
        return [...document.querySelectorAll('.fs-frame')].map(fig => {
            const crop = fig.querySelector('img.fs-crop'), heat = fig.querySelector('img.fs-heatmap');
            const a = pixels(crop), b = pixels(heat);
            let diff = 0;
            for (let i = 0; i < a.length; i += 4) diff += Math.abs(a[i] - b[i]) + Math.abs(a[i + 2] - b[i + 2]);
            return {loaded: heat.complete, width: heat.naturalWidth, shown: heat.getBoundingClientRect().width,
                    meanDiff: diff / (a.length / 2)};
        });""")
    assert len(pairs) == 4
    for pair in pairs:
        assert pair["loaded"] and pair["width"] == 128 and pair["shown"] >= 100
        assert pair["meanDiff"] > 3, pair

    path = shots / "fakescope-result.png"
    browser.save_screenshot(str(path))
    assert path.stat().st_size > 20_000
    print(f"screenshots: {shots}")

    # The history lists it, and its link is the permanent link.
    browser.get(server.url + "/scans")
    link = browser.find_element(By.CSS_SELECTOR, f'a[href="/scans/{scan_id}"]')
    assert link.text == "astronaut-clip.mp4"
    link.click()
    _wait(browser, 30, ec.visibility_of_element_located((By.CSS_SELECTOR, "svg.fs-timeline")))


def test_a_bad_file_gets_a_clear_message(server: ServerProcess, browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    fake_video = tmp_path / "holiday.mp4"
    fake_video.write_text("this is a text file, whatever its name says\n")
    browser.get(server.url + "/")
    browser.find_element(By.ID, "file").send_keys(str(fake_video))
    error = _wait(browser, 60, ec.visibility_of_element_located((By.ID, "error")))
    assert "not an image or video" in error.text
    assert browser.current_url.rstrip("/") == server.url  # stayed on the page, nothing was queued


# ---- a forged request from another page (issue 11) -----------------------------------------------------------
ATTACK = """<!doctype html><title>loading</title>
<form id="form" method="post" action="{target}/api/scans" enctype="multipart/form-data" target="sink">
  <input name="file" value="BM forged by a plain form"></form>
<iframe name="sink"></iframe>
<script>
const body = new FormData();
body.append("file", new Blob(["BM forged by a no-cors fetch"]), "forged.bmp");
fetch("{target}/api/scans", {{method: "POST", mode: "no-cors", credentials: "include", body}})
  .catch(() => null)
  .finally(() => {{ document.getElementById("form").submit(); document.title = "sent"; }});
</script>"""


@contextmanager
def attacker_site(target: str) -> Iterator[str]:
    """A page on another port of 127.0.0.1 (same site, so SameSite cookies go along) that tries a no-cors
    fetch and a form POST to `target`. Served from a thread, shut down on exit."""
    page = ATTACK.format(target=target).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory, tiny_model_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("browser-token") / "data",
                         ["--model", str(tiny_model_path), "--frames", "8"], env={"FAKESCOPE_TOKEN": TOKEN}).start()
    yield proc
    proc.stop()


@pytest.mark.parametrize("which", ["no token", "token and login cookie"])
def test_another_page_cannot_make_the_server_scan(which: str, server: ServerProcess, token_server: ServerProcess,
                                                  browser) -> None:
    """Chromium sends the forged requests (the server logs refusing both); no scan is created. Before, both
    created scans: on the tokenless server from any site, on a token server through the login cookie."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    target = server if which == "no token" else token_server
    headers = {"Authorization": f"Bearer {TOKEN}"} if target is token_server else {}
    if target is token_server:  # a person signed in: the browser holds the session cookie
        browser.get(target.url + "/login")
        browser.find_element(By.NAME, "token").send_keys(TOKEN)
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        _wait(browser, 30, ec.url_to_be(target.url + "/"))
    with httpx.Client(base_url=target.url, headers=headers, timeout=30) as api:
        before = api.get("/api/scans").json()["total"]
        refused_before = target.log_tail(10**6).count("refused POST /api/scans: cross-site")
        with attacker_site(target.url) as page:
            browser.get(page)
            _wait(browser, 30, ec.title_is("sent"))
            deadline = time.monotonic() + 20
            while (target.log_tail(10**6).count("refused POST /api/scans: cross-site") < refused_before + 2
                   and time.monotonic() < deadline):
                time.sleep(0.2)
        assert target.log_tail(10**6).count("refused POST /api/scans: cross-site") == refused_before + 2
        assert api.get("/api/scans").json()["total"] == before
    if target is token_server:  # and our own page still uploads with the same cookie
        browser.get(target.url + "/")
        _wait(browser, 30, ec.presence_of_element_located((By.ID, "file")))
