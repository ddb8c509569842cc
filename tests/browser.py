"""A real browser for the web tests: Playwright for Python driving Debian's `chromium`
through `executable_path` (Playwright never downloads a browser here; `make test` installs
the apt package when it is missing). Use the `page` fixture; `screenshot(page, name)`
writes under the test's temporary folder (docs/console.md and docs/invoices.md show them)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "") if p and Path(p).exists()),
                None)
# Chromium on a closed network: no background connections, no first-run work.
ARGS = ["--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


class _SharedChromium:
    """One Playwright and one chromium for the whole session. Every test module imports the
    fixtures, so pytest holds one `browser` definition per module; a second sync Playwright
    in the same thread fails, so they all share this one (stopped when the last is done)."""

    def __init__(self):
        self.users = 0
        self.playwright = None
        self.chromium = None

    def acquire(self):
        if self.users == 0:
            from playwright.sync_api import sync_playwright

            self.playwright = sync_playwright().start()
            self.chromium = self.playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        self.users += 1
        return self.chromium

    def release(self) -> None:
        self.users -= 1
        if self.users == 0:
            self.chromium.close()
            self.playwright.stop()


_shared = _SharedChromium()


@pytest.fixture(scope="session")
def browser():
    if CHROMIUM is None:
        pytest.fail("Debian's chromium is not installed: `make test` installs it (apt-get install chromium)")
    yield _shared.acquire()
    _shared.release()


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    yield page
    context.close()


class LiveServer:
    """The ASGI app served by uvicorn on a free loopback port in a thread, for the browser."""

    def __init__(self, app):
        import socket

        import uvicorn

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the web application did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)


def screenshot(page, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
