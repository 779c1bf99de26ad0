"""Starting Python: later visits restore the memory snapshot the first visit saved (runtime/src/snapshot.js), and
a missing or damaged snapshot only ever means a normal start."""
from __future__ import annotations

import re

import pytest

from benchmark import SentBytes
from conftest import ROOT, SNAPSHOT_FILE, Server, cached, open_module, run_tests, saved_snapshots, set_editor

from tinytorch_wasm import curriculum

MODULE = "modules/01-tensor/"


def visit(browser_profile, url, requests: list | None = None):
    """Open `url` in the profile; `requests` collects the addresses the page and its workers asked for."""
    context = browser_profile()
    if requests is not None:
        context.on("request", lambda request: requests.append(request.url))
    page = open_module(context, url)
    return context, page, page.evaluate("window.tinytorch.runtime.timings.pythonFrom")


def run(page, code: str) -> str:
    """What `code` printed in the page's Python (or its error)."""
    return page.evaluate("""async (code) => {
        let out = "";
        const reply = await window.tinytorch.runtime.request("run", {module: "01", learner: {}, code},
            {onOutput: (chunks) => chunks.forEach((c) => { out += c.text; })});
        return reply.ok ? out : reply.error; }""", code)


def random_draw(page) -> str:
    return run(page, "import random, numpy\nprint(random.random(), numpy.random.random())")


# A module of the standard library nothing imports before the snapshot: it comes from the zip the snapshot kept (its
# Python holds zipimport's table of that zip), compiled.
FIRST_IMPORT = """import sys
assert "colorsys" not in sys.modules
import colorsys
print(colorsys.__file__, colorsys.rgb_to_hsv(0.0, 0.0, 1.0))"""


def test_a_later_visit_restores_the_snapshot_and_runs_tests_on_it(server, browser_profile):
    """...and reads no wheel and no standard library: the files the wheels installed and the standard library's zip
    are saved with the snapshot."""
    first = []
    context, page, started_from = visit(browser_profile, server.url + MODULE, first)
    assert started_from == "start" and any(".whl" in url for url in first)
    [(folder, _)] = saved_snapshots(page)
    assert folder.startswith("tinytorch-pyodide-")  # a folder per Pyodide version: a new one drops the old
    context.close()

    draws = []
    for _ in range(2):
        later = []
        context, page, started_from = visit(browser_profile, server.url + MODULE, later)
        assert started_from == "snapshot"
        assert not [url for url in later if ".whl" in url or "python_stdlib" in url]
        draws.append(random_draw(page))
        assert run(page, FIRST_IMPORT) == "/lib/python312.zip/colorsys.pyc (0.6666666666666666, 1.0, 1.0)\n"
        context.close()
    assert draws[0] != draws[1], "every restore must reseed Python's random state"

    context, page, _ = visit(browser_profile, server.url + MODULE)
    set_editor(page, curriculum.module("01").reference_source())
    page.evaluate("""window.streamed = 0; window.tinytorch.runtime.addEventListener("python-event",
        (event) => { if (event.detail.kind === "test") window.streamed += 1; });""")
    result = run_tests(page)
    assert result["state"] == "passed" and result["failed"] == 0 and result["passed"] > 50, result
    # The harness came with the snapshot; the page's side of its events is registered after the restore.
    assert page.evaluate("window.streamed") >= result["passed"]
    assert not page.tt_errors


def test_a_snapshot_of_another_course_is_not_restored_and_the_new_one_replaces_it(server, browser_profile):
    """The snapshot holds the course's harness, so its name carries the course's version."""
    context, page, _ = visit(browser_profile, server.url + MODULE)
    [(folder, name)] = saved_snapshots(page)
    other = re.sub(r"course-\w+$", "course-0123456789ab", name)
    assert other != name
    page.evaluate("""async ([folder, name, other]) => { %s
        const bytes = await (await (await snapshotFile(folder, name)).getFile()).arrayBuffer();
        const folderHandle = await (await navigator.storage.getDirectory()).getDirectoryHandle(folder);
        const writer = await (await folderHandle.getFileHandle(other, {create: true})).createWritable();
        await writer.write(bytes);
        await writer.close();
        await folderHandle.removeEntry(name); }""" % SNAPSHOT_FILE, [folder, name, other])
    context.close()

    context, page, started_from = visit(browser_profile, server.url + MODULE)
    assert started_from == "start"
    page.wait_for_function("""async ([folder, name]) => {
        const names = [];
        const saved = await (await navigator.storage.getDirectory()).getDirectoryHandle(folder);
        for await (const [entry] of saved.entries()) names.push(entry);
        return names.join() === name; }""", arg=[folder, name], polling=200)


def test_a_damaged_snapshot_means_a_normal_start_and_is_replaced(server, browser_profile):
    context, page, _ = visit(browser_profile, server.url + MODULE)
    [(folder, name)] = saved_snapshots(page)
    page.evaluate("""async ([folder, name]) => { %s
        const writer = await (await snapshotFile(folder, name)).createWritable();
        await writer.write(new Uint8Array(1 << 20).fill(7));
        await writer.close(); }""" % SNAPSHOT_FILE, [folder, name])
    context.close()

    context, page, started_from = visit(browser_profile, server.url + MODULE)
    assert started_from == "start"
    set_editor(page, curriculum.module("01").reference_source())
    assert run_tests(page)["state"] == "passed"
    assert saved_snapshots(page) == [[folder, name]]
    context.close()

    context, page, started_from = visit(browser_profile, server.url + MODULE)
    assert started_from == "snapshot"


# The saved form (runtime/src/snapshot.js): [xxh32 of the rest][u32 length][description JSON, padded to 16][Pyodide's
# snapshot]. Rewriting the description (and the checksum, with the runtime's own, so the damage is not caught before
# the restore) makes a snapshot that is intact as bytes but wrong about where NumPy's libraries go.
CHECKSUM = (ROOT / "runtime" / "src" / "checksum.js").read_text().replace("export function", "function")
MISPLACE = """async ([folder, name, change]) => { %s %s
    const file = await snapshotFile(folder, name);
    const bytes = new Uint8Array(await (await file.getFile()).arrayBuffer());
    const length = new DataView(bytes.buffer).getUint32(4, true);
    const head = Math.ceil((8 + length) / 16) * 16;
    const description = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
    if (change === "table") description.tableBefore += 1;
    else description.libraries.find((l) => l.path.includes(change)).tableBase += 1;
    const text = new TextEncoder().encode(JSON.stringify(description));
    const out = new Uint8Array(Math.ceil((8 + text.length) / 16) * 16 + bytes.length - head);
    const view = new DataView(out.buffer);
    view.setUint32(4, text.length, true);
    out.set(text, 8);
    out.set(bytes.subarray(head), out.length - (bytes.length - head));
    view.setUint32(0, xxh32(out.subarray(4)), true);
    const writer = await file.createWritable();
    await writer.write(out);
    await writer.close();
    return description.libraries.length; }""" % (SNAPSHOT_FILE, CHECKSUM)


@pytest.mark.parametrize("change", ["table", "_multiarray_umath"])
def test_the_snapshot_holds_numpy_and_one_that_fails_its_checks_means_a_normal_start(server, browser_profile,
                                                                                   change):
    """A snapshot that restores but finds a function table of another length, or puts NumPy's core library
    elsewhere than the snapshot had it, is caught by the checks: that worker is replaced by one that starts normally,
    tests run, and this browser keeps a snapshot without NumPy (restored on the next visit) instead of failing the
    same way again."""
    context, page, _ = visit(browser_profile, server.url + MODULE)
    [(folder, name)] = saved_snapshots(page)
    assert "-numpy-" in name
    assert page.evaluate(MISPLACE, [folder, name, change]) >= 19  # NumPy 2.0.2 has 19 compiled libraries
    context.close()

    context, page, started_from = visit(browser_profile, server.url + MODULE)
    assert started_from == "start" and page.evaluate("window.tinytorch.runtime.timings.snapshotHolds") == "pytest"
    set_editor(page, curriculum.module("01").reference_source())
    assert run_tests(page)["state"] == "passed"
    [(_, core)] = saved_snapshots(page)
    assert "-pytest-" in core
    context.close()

    context, page, started_from = visit(browser_profile, server.url + MODULE)
    assert started_from == "snapshot" and page.evaluate("window.tinytorch.runtime.timings.snapshotHolds") == "pytest"
    assert run_tests(page)["state"] == "passed"  # the reference, saved in the visit before


def archives_sent(host, browser_profile, folder) -> list[tuple[str, str, bool]]:
    """Open a module page on `host` in a fresh profile and check NumPy works; [(file name, encoding, whether from
    stored/)] of the wheels and the standard library's zip as the server sent them."""
    with SentBytes(host) as sent:
        page = open_module(browser_profile(folder), host.url + MODULE)
        assert page.evaluate("""async () => (await window.tinytorch.runtime.request("run", {module: "01",
            learner: {}, code: "import numpy\\nassert numpy.arange(4).sum() == 6"})).ok""")
    return [(path.rsplit("/", 1)[1], encoding, "/stored/" in path) for _, encoding, path in sent.sent
            if "/pyodide/" in path and path.endswith((".whl", ".zip"))]


def test_wheels_and_the_standard_library_come_as_compressed_stored_twins_where_the_host_compresses(
        server, plain_server, browser_profile, tmp_path):
    """The build ships each wheel, and the standard library, again with its files stored (pyodide/<v>/stored/) and a
    brotli copy, a quarter to a third smaller on the wire. serve.py sends that copy, so the worker uses the twins and
    never the originals; a plain host would send the twin as it is (several times the archive), so there the worker
    takes the originals."""
    compressed = archives_sent(server, browser_profile, tmp_path / "compressed")
    names = {name for name, *_ in compressed}
    assert all(part in " ".join(names) for part in ("pytest", "numpy", "python_stdlib")), names
    assert all(encoding == "br" and stored for _, encoding, stored in compressed), compressed
    plain = archives_sent(plain_server, browser_profile, tmp_path / "plain")
    assert {name for name, _, stored in plain if not stored} == names, plain


def test_a_twin_that_is_not_the_wheel_it_names_is_not_used(built_site, browser_profile, tmp_path):
    """A stored twin whose bytes are not those the lock file names (here NumPy's address answers with pytest's
    twin) is dropped for the original wheel, which the browser checks against its sha256; NumPy works."""
    host = Server(isolation=True)
    handler = host.httpd.RequestHandlerClass.func  # this server's own class
    pytest_twin = next(built_site.glob("pyodide/*/stored/pytest-*.whl")).name
    answer = handler.translate_path
    handler.translate_path = lambda h, path: answer(h, re.sub(r"/stored/numpy-[^?]*", f"/stored/{pytest_twin}",
                                                              path))
    try:
        sent = archives_sent(host, browser_profile, tmp_path / "swapped")
    finally:
        host.stop()
    numpy = [(encoding, stored) for name, encoding, stored in sent if name.startswith("numpy-")]
    assert ("br", True) in numpy and ("identity", False) in numpy, sent


def test_a_snapshot_kept_by_an_older_build_in_cache_storage_is_dropped(server, browser_profile):
    """Builds before 2026-12-01 kept the snapshot (about 44 MB) in the runtime's Cache Storage; the service worker
    deletes it when it takes over."""
    context = browser_profile()
    page = context.new_page()
    page.goto(server.url + "course/course.json")
    version = page.evaluate("(async () => (await fetch('/sw.js')).text())()").split('"pyodide": "')[1].split('"')[0]
    old = f"{server.url}pyodide/{version}/memory-snapshot-v3-numpy-0123"
    page.evaluate("""async ([cache, old]) => (await caches.open(cache)).put(old, new Response(new Uint8Array(1024)))""",
                  [f"tinytorch-pyodide-{version}", old])
    page = open_module(context, server.url + MODULE)
    page.wait_for_function("""async () => {
        const registration = await navigator.serviceWorker.getRegistration();
        return registration && registration.active && registration.active.state === "activated"; }""", polling=200)
    assert not [url for _, url in cached(page, "memory-snapshot")]
    assert cached(page, "pyodide.asm.wasm")  # the runtime's cache itself is kept


def test_two_tabs_opened_at_once_both_restore_the_snapshot(server, browser_profile):
    """A file's synchronous handle is exclusive: the tab that does not get it reads the file the shared way."""
    context, page, _ = visit(browser_profile, server.url + MODULE)
    saved_snapshots(page)
    context.close()

    context = browser_profile()
    tabs = [context.pages[0] if context.pages else context.new_page(), context.new_page()]
    for tab in tabs:  # both start before either is ready
        tab.goto(server.url + MODULE, wait_until="commit")
    for tab in tabs:
        tab.wait_for_function("window.tinytorch && window.tinytorch.runtime.state === 'ready'")
        assert tab.evaluate("window.tinytorch.runtime.timings.pythonFrom") == "snapshot"


# A Python loop stopped by an interrupt, then a loop of NumPy products stopped by a restart (the interrupt cannot land
# in NumPy's C code), as in the time-limit drill; then the new Python's start. Each step is logged in `window.steps`,
# so that a step that never ends fails the test with where it stopped, not hangs it.
STOP_THEN_RESTART = """() => {
    const runtime = window.tinytorch.runtime;
    window.steps = [];
    const stopAfter = async (code, ms) => {
        const running = runtime.request("run", {module: "01", learner: {}, code});
        // Counted from when the worker began the run: Python may still be starting, or busy just after its start.
        while (!(runtime.pending || {}).startedAt) await new Promise((resolve) => setTimeout(resolve, 10));
        await new Promise((resolve) => setTimeout(resolve, ms));
        window.steps.push("stopping");
        const stopped = await runtime.stop();
        await running;
        window.steps.push(stopped.how);
    };
    (async () => {
        await stopAfter("while True:\\n    pass\\n", 1000);
        await stopAfter("import numpy as np\\na = np.ones((1024, 1024))\\nwhile True:\\n    a @ a\\n", 3000);
        await runtime.start();
        window.steps.push("ready from " + runtime.timings.pythonFrom);
    })(); }"""

DROP_SNAPSHOTS = """async (saved) => {
    const root = await navigator.storage.getDirectory();
    for (const [folder, name] of saved) await (await root.getDirectoryHandle(folder)).removeEntry(name); }"""


def test_a_normal_start_right_after_a_restart_from_inside_numpy_gets_ready(server, browser_profile):
    """Python stopped inside NumPy's compiled code is restarted: its worker is terminated mid-WebAssembly. A new
    worker that then starts normally (no snapshot saved yet) loads NumPy's libraries again. Compiling them
    asynchronously there sometimes never finished in Chromium 156 (the time-limit drill hung 4 runs in 10; these
    steps, rarely), so they are compiled synchronously. Three rounds, each without a snapshot."""
    context, page, _ = visit(browser_profile, server.url + MODULE)
    for _ in range(3):
        page.evaluate(DROP_SNAPSHOTS, saved_snapshots(page))  # the last worker's save has ended: it has content
        page.evaluate(STOP_THEN_RESTART)
        try:
            page.wait_for_function("window.steps.length === 5", timeout=60_000)
        finally:
            assert page.evaluate("window.steps") == ["stopping", "interrupt", "stopping", "restart", "ready from start"]
    set_editor(page, curriculum.module("01").reference_source())
    assert run_tests(page)["state"] == "passed"


# Python's big files on a first visit: its WebAssembly, its standard library and the wheels.
PYTHON_DOWNLOADS = re.compile(r"/pyodide/[^/]+/(stored/)?(pyodide\.asm\.(wasm|js)|python_stdlib|.*\.whl)")


def test_a_first_visit_downloads_python_only_once_the_page_has_drawn_its_panel(server, browser_profile):
    """On a 2-core machine, decoding Python's 7.5 MB and compiling it beside a page still laying itself out doubled
    the page's work (runtime/src/snapshot.js, pageSettled): each of Python's big files is asked for only once the
    workbench's buttons are on the page (a page that asked for them at once would not have them yet)."""
    context = browser_profile()
    page = context.pages[0]
    asked = []  # (file, whether the panel was there when the file was asked for)

    def held(route):
        asked.append((route.request.url.rsplit("/", 1)[1],
                      page.evaluate("document.querySelectorAll('.tt-workbench .tt-buttons button').length > 0")))
        route.continue_()

    context.route(PYTHON_DOWNLOADS, held)
    open_module(context, server.url + MODULE)
    assert len(asked) >= 5 and all(drawn for _, drawn in asked), asked
