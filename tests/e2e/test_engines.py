"""The core journey in Firefox ESR and WebKitGTK (Safari's engine), as in Chromium: boot, the starter fails, the
reference passes, Stop ends a loop, a reload keeps the code, the course works offline after a first visit, and no
request leaves 127.0.0.1 (a trap proxy stands for every other host)."""
from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from engines import ENGINES, Firefox, Trap, missing, wait_for
from tinytorch_wasm import curriculum

TENSOR = curriculum.module("01")
PAGE = "modules/01-tensor/"
READY = "window.tinytorch && window.tinytorch.runtime.state === 'ready'"
# The browser's own background traffic (Firefox's remote settings, whatever prefs say), not the course's.
BROWSER_OWN = re.compile(r"(^|\.)(mozilla\.(com|net|org)|firefox\.com)(:\d+)?$").search


@pytest.fixture(params=list(ENGINES))
def engine(request):
    why = missing(request.param)
    if why:
        pytest.fail(f"{request.param}: {why} (python build.py test installs it as root)")
    trap = Trap()
    browser = ENGINES[request.param](trap)
    browser.trap = trap
    yield browser
    print(machine_state())  # shown only when the test failed
    browser.close()
    trap.stop()


def machine_state() -> str:
    processes = subprocess.run(["ps", "-eo", "pid,stat,etime,pcpu,rss,comm"], capture_output=True, text=True).stdout
    browsers = [line for line in processes.splitlines()[1:] if re.search(r"WebKit|MiniBrowser|firefox|Xvfb", line)]
    space = subprocess.run(["df", "-h", "/dev/shm", "/tmp"], capture_output=True, text=True).stdout
    return (f"--- the machine: load {os.getloadavg()}\n{space}" + "\n".join(browsers))


def run_tests(engine) -> dict:
    engine.js("delete document.querySelector('.tt-workbench').dataset.tests;"
              "[...document.querySelectorAll('.tt-buttons button')].find((b) => b.textContent === 'Run tests')"
              ".click();")
    wait_for(engine, f"document.querySelector('.tt-workbench').dataset.tests !== undefined && {READY}",
             what="test results")
    return engine.js("return {state: document.querySelector('.tt-workbench').dataset.tests,"
                     "passed: document.querySelectorAll('.tt-test[data-outcome=passed]').length,"
                     "failed: document.querySelectorAll('.tt-test:not([data-outcome=passed])').length};")


# A browser that stops answering its driver (a WebDriver command unanswered, or the whole journey far past its
# usual minute) gets one more try, with a fresh browser and server; anything else fails at once. The driver's log
# and the machine's state are printed with a failure.
DRIVER_STOPPED_ANSWERING = ["Read timed out", "timed out", "Timeout \\(>"]


@pytest.mark.timeout(480)
@pytest.mark.flaky(reruns=1, only_rerun=DRIVER_STOPPED_ANSWERING)
def test_the_core_journey(engine, server):
    engine.open(server.url + PAGE)
    wait_for(engine, READY, what="Python ready")
    assert engine.js("return self.crossOriginIsolated")
    cold = engine.js("return window.tinytorch.runtime.readyMs")

    starter = run_tests(engine)
    assert starter["state"] == "failed" and starter["passed"] == 0 and starter["failed"] >= 15, starter
    engine.js("window.tinytorch.workbench.editor.text = arguments[0]; window.tinytorch.workbench.save();",
              TENSOR.reference_source())
    reference = run_tests(engine)
    assert reference["state"] == "passed" and reference["failed"] == 0 and reference["passed"] >= 15, reference

    engine.js("const w = window.tinytorch.workbench; delete w.root.dataset.lastStop;"
              "w.scratch.text = 'while True:\\n    pass\\n'; w.runScratch();")
    wait_for(engine, "window.tinytorch.runtime.state === 'busy'", what="the loop running")
    engine.js("setTimeout(() => window.tinytorch.workbench.stop(), 300);")
    # Interrupted, or (when the interrupt does not land within a second: WebKit on a loaded machine) restarted.
    stopped = wait_for(engine, "document.querySelector('.tt-workbench').dataset.lastStop", what="Stop")
    assert stopped in ("interrupt", "restart"), stopped
    wait_for(engine, READY)
    said = engine.js("return document.querySelector('.tt-output').textContent")
    if not engine.js("return typeof SharedArrayBuffer !== 'undefined'"):  # WebKitGTK: isolated, yet none
        assert stopped == "restart" and "this browser gives no way to interrupt Python" in said, said
    engine.js("window.tinytorch.workbench.scratch.text = 'print(6 * 7)'; window.tinytorch.workbench.runScratch();")
    wait_for(engine, "document.querySelector('.tt-output').textContent.includes('42')", what="Python after Stop")

    engine.reload()
    wait_for(engine, READY, what="Python ready after a reload")
    assert engine.js("return window.tinytorch.workbench.editor.text") == TENSOR.reference_source()
    warm = engine.js("return window.tinytorch.runtime.readyMs")

    engine.js("navigator.serviceWorker.getRegistration().then((r) => { window.ttActive = !!(r && r.active && "
              "r.active.state === 'activated'); });")
    wait_for(engine, "(navigator.serviceWorker.getRegistration().then((r) => { window.ttActive = !!(r && r.active "
             "&& r.active.state === 'activated'); }), window.ttActive)", what="the course precached offline")
    server.stop()
    engine.open(server.url + PAGE)
    wait_for(engine, READY, what="Python ready offline")
    assert run_tests(engine)["state"] == "passed"
    print(f"{engine.name}: ready cold {cold / 1e3:.2f} s, after a reload {warm / 1e3:.2f} s, Stop by {stopped}")

    # The canary: a navigation (the pages' Content-Security-Policy keeps their own requests on the site).
    try:
        engine.open("http://canary.invalid/trap")
    except Exception:  # noqa: BLE001 - the trap answers 403; some drivers call that page an error
        pass
    deadline = time.monotonic() + 30
    while not any(h.startswith("canary.invalid") for h in engine.trap.hosts) and time.monotonic() < deadline:
        time.sleep(0.2)
    foreign = [h for h in engine.trap.hosts if not h.startswith("canary.invalid") and not BROWSER_OWN(h)]
    assert any(h.startswith("canary.invalid") for h in engine.trap.hosts), "the trap proxy saw no request at all"
    assert not foreign, f"requests left 127.0.0.1: {sorted(set(foreign))}"


SNAPSHOT_IN_CACHE_STORAGE = """caches.keys().then((names) => Promise.all(names.filter((name) =>
    name.startsWith("tinytorch-pyodide-")).map((name) => caches.open(name).then((cache) => cache.keys()))))
    .then((lists) => lists.flat().some((request) => request.url.includes("memory-snapshot-")))"""


@pytest.mark.timeout(300)
def test_a_firefox_private_window_keeps_the_code_and_python_across_a_reload(server):
    """Learners on shared computers: in a private window (no OPFS) the course starts, keeps the code typed for as long
    as the window lives, and a reload restores Python from its snapshot (kept in the window's Cache Storage)."""
    why = missing("firefox")
    if why:
        pytest.fail(f"firefox: {why} (python build.py test installs it as root)")
    trap = Trap()
    browser = Firefox(trap, private=True)
    try:
        browser.open(server.url + PAGE)
        wait_for(browser, READY, what="Python ready")
        assert browser.js("return typeof navigator.storage.getDirectory === 'function' && "
                          "navigator.storage.getDirectory().then(() => 'opfs', () => 'no opfs')") == "no opfs"
        browser.js("window.tinytorch.workbench.editor.text = arguments[0]; window.tinytorch.workbench.save();",
                   TENSOR.reference_source())
        wait_for(browser, SNAPSHOT_IN_CACHE_STORAGE, what="the snapshot saved")  # written once Python is idle
        browser.reload()
        wait_for(browser, READY, what="Python ready after a reload")
        assert browser.js("return window.tinytorch.workbench.editor.text") == TENSOR.reference_source()
        assert browser.js("return window.tinytorch.runtime.timings.pythonFrom") == "snapshot"
        assert run_tests(browser)["state"] == "passed"
    finally:
        browser.close()
        trap.stop()
