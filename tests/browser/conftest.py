"""Browser tests: `streamlit run app.py` on a free localhost port, driven by Debian's headless Chromium
through Playwright (no browser download: `executable_path` points at /usr/bin/chromium).

The webcam is Chromium's fake camera playing a sample video that the fixture converts to .y4m with PyAV.
Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from benchmarks.common import stop_process
from helpers import chromium_path, launch

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-output" / "screenshots"
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_y4m(source: Path, target: Path, seconds: float = 2.4) -> Path:
    """Re-encode the first seconds of `source` as raw YUV 4:2:0 in a Y4M file (Chromium's fake camera)."""
    import av

    with av.open(str(source)) as src, av.open(str(target), mode="w", format="yuv4mpegpipe") as dst:
        in_stream = src.streams.video[0]
        fps = in_stream.average_rate or 30
        out = dst.add_stream("rawvideo", rate=fps)
        out.width, out.height = in_stream.width - in_stream.width % 2, in_stream.height - in_stream.height % 2
        out.pix_fmt = "yuv420p"
        for frame in src.decode(in_stream):
            if frame.time is not None and frame.time > seconds:
                break
            image = frame.reformat(width=out.width, height=out.height, format="yuv420p")
            image.pts = None
            for packet in out.encode(image):
                dst.mux(packet)
        for packet in out.encode():
            dst.mux(packet)
    return target


@pytest.fixture(scope="session")
def y4m_file(tmp_path_factory) -> Path:
    return make_y4m(REPO / "samples" / "videos" / "single_face.mp4", tmp_path_factory.mktemp("camera") / "face.y4m")


def make_run_command() -> list[str]:
    """`streamlit run ...` exactly as `make run` starts it (its flags read from the Makefile), on this Python."""
    out = subprocess.run(["make", "-s", "-n", "run"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if "streamlit run " in line)
    args = shlex.split(line)
    return [sys.executable, "-m", "streamlit", *args[args.index("run"):]]


class Server(str):
    """The server's base URL (a str), with the process id of `streamlit run`."""

    pid: int


def _started(proc: subprocess.Popen, url: str, log_path: Path) -> bool:
    """Whether the server answers its health check (False when it exited first, e.g. its port was taken)."""
    deadline = time.time() + 60
    while proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return True
        except OSError:
            pass
        if time.time() > deadline:
            stop_process(proc)
            raise RuntimeError(f"streamlit did not start within 60 s; see {log_path}")
        time.sleep(0.3)
    return False


@contextlib.contextmanager
def streamlit_server(log_name: str, user_models: Path, server_root: Path | None = None) -> Iterator[Server]:
    """`streamlit run app.py` started as `make run` starts it (file watcher off, bound to 127.0.0.1, no usage
    statistics) on a free port, models trained on the Training page going to `user_models` (never the
    repository's user_models/), and the tests' temporary folder `server_root` among the folders whose paths
    the pages open (FER_SERVER_ROOTS); stopped, by its own pid, on exit."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1", ... when `make test` runs tests in parallel
    log_path = REPO / "test-output" / (f"{Path(log_name).stem}-{worker}.log" if worker else log_name)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "FER_USER_MODELS_DIR": str(user_models)}
    if server_root is not None:
        env["FER_SERVER_ROOTS"] = str(server_root)
    # A free port can be taken by another process before streamlit binds it: then start again on another.
    for attempt in range(3):
        port = free_port()
        log = open(log_path, "w")
        proc = subprocess.Popen([*make_run_command(), "--server.port", str(port)], cwd=REPO, stdout=log,
                                stderr=subprocess.STDOUT, env=env)
        url = Server(f"http://127.0.0.1:{port}")
        url.pid = proc.pid
        if _started(proc, url, log_path):
            break
        log.close()
        if attempt == 2 or "is not available" not in log_path.read_text(errors="replace"):
            raise RuntimeError(f"streamlit exited early; see {log_path}")
    try:
        yield url
    finally:
        stop_process(proc)
        log.close()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory) -> Iterator[Server]:
    """The server every browser test shares, for the whole session."""
    with streamlit_server("streamlit-server.log", tmp_path_factory.mktemp("user_models"),
                          tmp_path_factory.getbasetemp()) as server:
        yield server


@pytest.fixture()
def fresh_server(tmp_path) -> Iterator[Server]:
    """A server no browser has visited yet, for what only a first visitor meets."""
    with streamlit_server("streamlit-fresh-server.log", tmp_path / "user_models", tmp_path) as server:
        yield server


@pytest.fixture(scope="session")
def app_url(app_server) -> str:
    return str(app_server)


@pytest.fixture(scope="session")
def playwright():
    if chromium_path() is None:
        pytest.skip("Debian's chromium is not installed (run `make browser-deps`).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright, y4m_file):
    """The shared browser: the camera is the fake one playing a sample video, and allowed without asking."""
    browser = launch(playwright, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                     f"--use-file-for-fake-video-capture={y4m_file}")
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture()
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, base_url=app_url)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
