"""The browser tests' machinery: Debian's Chromium driven by Playwright, the real server (uvicorn on
a free loopback port, in a thread of this process so it can use a small deterministic matching
engine) on its own data directory, a real SMTP server (aiosmtpd) for the mail it sends, and the
checks every page gets: no console errors, no horizontal scrolling, no axe violations."""

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
# axe-core 4.14.1 (npm package axe-core, dist file axe.min.js, MPL-2.0: vendor/axe-core-LICENSE.txt),
# read into the page under test by the test; never served by the app.
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def chromium_available() -> bool:
    if not CHROMIUM.exists():  # `make test` installs it first; try once more when run on its own
        subprocess.run([str(REPO / "scripts" / "install-browser.sh")], check=False, capture_output=True)
    return CHROMIUM.exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running(app: Any) -> Iterator[str]:
    """The app served by uvicorn on a loopback port, in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="e2e-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class ConsoleWatch:
    """Console errors (CSP violations among them) and uncaught exceptions of one browser tab.

    A page answered with an error status (a form sent back with its errors, 422) makes Chromium log
    "Failed to load resource" for the page itself: that is the page doing its job, not a broken
    resource, so it is left out; the same message for a style sheet, a script or an htmx request counts.
    """

    def __init__(self, tab: Any) -> None:
        self.errors: list[str] = []
        self.pages: set[str] = set()
        tab.on("framenavigated", lambda frame: self.pages.add(frame.url) if frame.parent_frame is None else None)
        tab.on("console", self._console)
        tab.on("pageerror", lambda error: self.errors.append(str(error)))

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        if message.text.startswith("Failed to load resource") and message.location.get("url") in self.pages:
            return
        self.errors.append(f"{message.text} ({message.location.get('url')})")


def horizontal_overflow(tab: Any) -> int:
    """How many pixels the page is wider than the window (0: no horizontal scrolling)."""
    return tab.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def axe_violations(tab: Any) -> list[str]:
    """axe-core's violations on the page, each as 'rule: first element'. axe is evaluated through the
    DevTools protocol, so the page's Content-Security-Policy stays as strict as the app sends it."""
    if not tab.evaluate("typeof window.axe !== 'undefined'"):
        tab.evaluate(AXE.read_text())
    found = tab.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))"
    )
    return list(found)
