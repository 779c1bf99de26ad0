"""Starting Python: later visits restore the memory snapshot the first visit saved (runtime/src/snapshot.js), and
a missing or damaged snapshot only ever means a normal start."""
from __future__ import annotations

import re

import pytest

from benchmark import SentBytes
from conftest import Server, open_module, run_tests, saved_snapshots, set_editor

from tinytorch_wasm import curriculum

MODULE = "modules/01-tensor/"


def visit(browser_profile, url):
    context = browser_profile()
    page = open_module(context, url)
    return context, page, page.evaluate("window.tinytorch.runtime.timings.pythonFrom")


def random_draw(page) -> str:
    return page.evaluate("""async () => {
        let out = "";
        const reply = await window.tinytorch.runtime.request("run", {module: "01", learner: {},
            code: "import random, numpy\\nprint(random.random(), numpy.random.random())"},
            {onOutput: (chunks) => chunks.forEach((c) => { out += c.text; })});
        return reply.ok ? out : reply.error; }""")


def test_a_later_visit_restores_the_snapshot_and_runs_tests_on_it(server, browser_profile):
    context, page, started_from = visit(browser_profile, server.url + MODULE)
    assert started_from == "start"
    [(cache, _)] = saved_snapshots(page)
    assert cache.startswith("tinytorch-pyodide-")  # dropped with its Pyodide version by the service worker
    context.close()

    draws = []
    for _ in range(2):
        context, page, started_from = visit(browser_profile, server.url + MODULE)
        assert started_from == "snapshot"
        draws.append(random_draw(page))
        context.close()
    assert draws[0] != draws[1], "every restore must reseed Python's random state"

    context, page, _ = visit(browser_profile, server.url + MODULE)
    set_editor(page, curriculum.module("01").reference_source())
    result = run_tests(page)
    assert result["state"] == "passed" and result["failed"] == 0 and result["passed"] > 50, result
    assert not page.tt_errors


def test_a_damaged_snapshot_means_a_normal_start_and_is_replaced(server, browser_profile):
    context, page, _ = visit(browser_profile, server.url + MODULE)
    [(cache, key)] = saved_snapshots(page)
    page.evaluate("""async ([cache, key]) => {
        const garbage = new Uint8Array(1 << 20).fill(7);
        await (await caches.open(cache)).put(key, new Response(garbage)); }""", [cache, key])
    context.close()

    context, page, started_from = visit(browser_profile, server.url + MODULE)
    assert started_from == "start"
    set_editor(page, curriculum.module("01").reference_source())
    assert run_tests(page)["state"] == "passed"
    assert saved_snapshots(page) == [[cache, key]]
    context.close()

    context, page, started_from = visit(browser_profile, server.url + MODULE)
    assert started_from == "snapshot"


# The saved form (runtime/src/snapshot.js): [u32 length][description JSON, padded to 16][Pyodide's snapshot], with
# the sha256 of all of it in a header. Rewriting the description (and the digest, so the damage is not caught
# before the restore) makes a snapshot that is intact as bytes but wrong about where NumPy's libraries go.
MISPLACE = """async ([cache, key, change]) => {
    const store = await caches.open(cache);
    const bytes = new Uint8Array(await (await store.match(key)).arrayBuffer());
    const length = new DataView(bytes.buffer).getUint32(0, true);
    const head = Math.ceil((4 + length) / 16) * 16;
    const description = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length)));
    if (change === "table") description.tableBefore += 1;
    else description.libraries.find((l) => l.path.includes(change)).tableBase += 1;
    const text = new TextEncoder().encode(JSON.stringify(description));
    const out = new Uint8Array(Math.ceil((4 + text.length) / 16) * 16 + bytes.length - head);
    new DataView(out.buffer).setUint32(0, text.length, true);
    out.set(text, 4);
    out.set(bytes.subarray(head), out.length - (bytes.length - head));
    const digest = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", out)),
        (b) => b.toString(16).padStart(2, "0")).join("");
    await store.put(key, new Response(out, {headers: {"x-tinytorch-sha256": digest}}));
    return description.libraries.length; }"""


@pytest.mark.parametrize("change", ["table", "_multiarray_umath"])
def test_the_snapshot_holds_numpy_and_one_that_fails_its_checks_means_a_normal_start(server, browser_profile,
                                                                                   change):
    """A snapshot that restores but finds a function table of another length, or puts NumPy's core library
    elsewhere than the snapshot had it, is caught by the checks: that worker is replaced by one that starts normally,
    tests run, and this browser keeps a snapshot without NumPy (restored on the next visit) instead of failing the
    same way again."""
    context, page, _ = visit(browser_profile, server.url + MODULE)
    [(cache, key)] = saved_snapshots(page)
    assert "-numpy-" in key
    assert page.evaluate(MISPLACE, [cache, key, change]) >= 19  # NumPy 2.0.2 has 19 compiled libraries
    context.close()

    context, page, started_from = visit(browser_profile, server.url + MODULE)
    assert started_from == "start" and page.evaluate("window.tinytorch.runtime.timings.snapshotHolds") == "pytest"
    set_editor(page, curriculum.module("01").reference_source())
    assert run_tests(page)["state"] == "passed"
    [(_, core_key)] = saved_snapshots(page)
    assert "-pytest-" in core_key
    context.close()

    context, page, started_from = visit(browser_profile, server.url + MODULE)
    assert started_from == "snapshot" and page.evaluate("window.tinytorch.runtime.timings.snapshotHolds") == "pytest"
    assert run_tests(page)["state"] == "passed"  # the reference, saved in the visit before


def wheels_sent(host, browser_profile, folder) -> list[tuple[str, str, bool]]:
    """Open a module page on `host` in a fresh profile and check NumPy works; [(wheel file name, encoding, whether
    from stored/)] as the server sent them."""
    with SentBytes(host) as sent:
        page = open_module(browser_profile(folder), host.url + MODULE)
        assert page.evaluate("""async () => (await window.tinytorch.runtime.request("run", {module: "01",
            learner: {}, code: "import numpy\\nassert numpy.arange(4).sum() == 6"})).ok""")
    return [(path.rsplit("/", 1)[1], encoding, "/stored/" in path) for _, encoding, path in sent.sent
            if path.endswith(".whl")]


def test_wheels_come_as_compressed_stored_twins_where_the_host_compresses_and_as_they_are_elsewhere(
        server, plain_server, browser_profile, tmp_path):
    """The build ships each wheel again with its files stored (pyodide/<v>/stored/) and a brotli copy, a quarter to
    a third smaller on the wire. serve.py sends that copy, so the worker uses the twins and never the originals; a
    plain host would send the twin as it is (several times the wheel), so there the worker takes the originals."""
    compressed = wheels_sent(server, browser_profile, tmp_path / "compressed")
    names = {name for name, *_ in compressed}
    assert "pytest" in " ".join(names) and "numpy" in " ".join(names)
    assert all(encoding == "br" and stored for _, encoding, stored in compressed), compressed
    plain = wheels_sent(plain_server, browser_profile, tmp_path / "plain")
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
        sent = wheels_sent(host, browser_profile, tmp_path / "swapped")
    finally:
        host.stop()
    numpy = [(encoding, stored) for name, encoding, stored in sent if name.startswith("numpy-")]
    assert ("br", True) in numpy and ("identity", False) in numpy, sent
