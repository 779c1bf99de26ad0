"""Starting Python: later visits restore the memory snapshot the first visit saved (runtime/src/snapshot.js), and
a missing or damaged snapshot only ever means a normal start."""
from __future__ import annotations

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
