"""Starting Python: later visits restore the memory snapshot the first visit saved (runtime/src/snapshot.js), and
a missing or damaged snapshot only ever means a normal start."""
from __future__ import annotations

import pytest

from conftest import open_module, run_tests, saved_snapshots, set_editor

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
