"""Browser tests: the real built site (dist/), served on 127.0.0.1, in Debian's Chromium driven by Playwright.

No request may leave 127.0.0.1: Chromium is told to resolve no other host, and every test fails if its page asked
for one anyway.
"""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
sys.path.insert(0, str(ROOT / "runtime"))
from serve import make_server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
# The tests and the benchmark start a browser for each visit they need (a warm visit is a new browser on the same
# profile). Chromium 156 builds its omnibox popup as a web page of its own when it starts, even headless: 0.7-0.8 s
# of one core in that renderer and about 0.25 s more in the browser, in the very seconds of the visit being
# measured, on a 2-core machine. A learner's browser did that when it started, not when they opened the course, so
# it is turned off here.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
BOOT_TIMEOUT_MS = 120_000


def _wait_for_function(page, expression, *, arg=None, timeout=None, polling=None):
    """Page.wait_for_function that works under the course's Content-Security-Policy. Playwright's own compiles the
    predicate inside the page with `new Function`, which the policy refuses (as it should any eval); this polls
    from the test through page.evaluate, which the browser's DevTools protocol runs outside the page's policy."""
    deadline = time.monotonic() + (BOOT_TIMEOUT_MS if timeout is None else timeout) / 1000
    interval = polling / 1000 if isinstance(polling, (int, float)) else 0.05
    while True:
        try:
            value = page.evaluate(expression, arg) if arg is not None else page.evaluate(expression)
        except Exception as error:  # noqa: BLE001 - a page being reloaded has no context for a moment
            if "context was destroyed" not in str(error) and "navigat" not in str(error):
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout or BOOT_TIMEOUT_MS} ms for: {expression}")
        time.sleep(interval)


from playwright.sync_api import Page  # noqa: E402

Page.wait_for_function = _wait_for_function


class ThreadedServer:
    """An HTTP server on 127.0.0.1 (its own port) answering from a thread until `stop()`."""

    def __init__(self, httpd):
        self.httpd = httpd
        self.url = f"http://127.0.0.1:{httpd.server_port}/"
        threading.Thread(target=httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Server(ThreadedServer):
    """dist/ (or another built site) served as serve.py does; stoppable mid-test to prove the offline cache works."""

    def __init__(self, isolation: bool, directory: Path = DIST, precompressed: bool = True):
        super().__init__(make_server(directory, 0, isolation, precompressed))


@pytest.fixture(scope="session")
def built_site():
    if not (DIST / "index.html").exists():
        pytest.fail("dist/ is not built: run the tests with `python build.py test`")
    return DIST


@pytest.fixture
def server(built_site):
    s = Server(isolation=True)
    yield s
    s.stop()


@pytest.fixture
def plain_server(built_site):
    """A host that cannot send headers (like GitHub Pages or `python -m http.server`): no COOP/COEP, and every file
    as it is (no compressed copies)."""
    s = Server(isolation=False, precompressed=False)
    yield s
    s.stop()


@pytest.fixture(scope="session")
def playwright():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        yield p


@pytest.fixture
def browser_profile(playwright, tmp_path):
    """Open a fresh browser profile; call it again with the same folder for a second visit (warm caches)."""
    contexts, requests = [], []

    def open_profile(folder: Path = tmp_path / "profile"):
        context = playwright.chromium.launch_persistent_context(
            str(folder), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context.on("request", lambda request: requests.append(request.url))
        context.set_default_timeout(BOOT_TIMEOUT_MS)
        contexts.append(context)
        return context

    yield open_profile
    for context in contexts:
        context.close()
    foreign = sorted({u for u in requests if urlsplit(u).hostname not in ("127.0.0.1", None)
                      and not u.startswith(("data:", "blob:"))})
    assert not foreign, f"requests left 127.0.0.1: {foreign}"


def open_module(context, url: str):
    """Open a module page and wait until Python is ready to run tests."""
    page = context.pages[0] if context.pages else context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_function("window.tinytorch && window.tinytorch.runtime.state === 'ready'",
                           timeout=BOOT_TIMEOUT_MS)
    page.tt_errors = errors
    return page


def set_editor(page, text: str):
    page.evaluate("text => { window.tinytorch.workbench.editor.text = text; }", text)


def run_measurement(page, block, button: str) -> str:
    """Click the lesson measurement `block`'s `button` (a CSS selector), wait until it can be pressed again, and
    return the block's output."""
    block.locator(button).click()
    page.wait_for_function("b => !b.disabled", arg=block.locator(button).element_handle(), timeout=180_000)
    return block.locator(".tt-output").inner_text()


def run_tests(page) -> dict:
    """Click Run tests and return the counts the page shows."""
    page.evaluate("delete document.querySelector('.tt-workbench').dataset.tests")
    page.locator(".tt-buttons button", has_text="Run tests").click()
    page.wait_for_function("document.querySelector('.tt-workbench').dataset.tests !== undefined "
                           "&& window.tinytorch.runtime.state === 'ready'")
    return {"summary": page.inner_text(".tt-summary"),
            "state": page.get_attribute(".tt-workbench", "data-tests"),
            "passed": page.locator(".tt-test[data-outcome=passed]").count(),
            "failed": page.locator(".tt-test:not([data-outcome=passed])").count()}


CACHED = """async (part) => {
    const found = [];
    for (const name of await caches.keys())
        for (const request of await (await caches.open(name)).keys())
            if (request.url.includes(part)) found.push([name, request.url]);
    return found; }"""


def cached(page, part: str) -> list:
    """[cache, address] of what this profile's Cache Storage holds whose address includes `part`."""
    return page.evaluate(CACHED, part)


SNAPSHOTS = """async () => {
    const found = [];
    for await (const [folder, handle] of (await navigator.storage.getDirectory()).entries())
        if (handle.kind === "directory")
            for await (const [name, file] of handle.entries())  // empty until its writer closes (the bytes are
                if (/^memory-snapshot-[^.]+$/.test(name) && (await file.getFile()).size)  // in a .crswap till then)
                    found.push([folder, name]);
    return found; }"""


def saved_snapshots(page) -> list:
    """[folder, file name] of the Python snapshots saved in this profile's private file system
    (runtime/src/snapshot-store.js), once there is one (it is written in the background)."""
    deadline = time.monotonic() + BOOT_TIMEOUT_MS / 1e3
    while not (found := page.evaluate(SNAPSHOTS)) and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    return found


# JavaScript for page.evaluate: `snapshotFile(folder, name)`, the file handle of a saved snapshot.
SNAPSHOT_FILE = """const snapshotFile = async (folder, name) =>
    (await (await navigator.storage.getDirectory()).getDirectoryHandle(folder)).getFileHandle(name);
"""
