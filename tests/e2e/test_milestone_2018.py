"""The 2018 optimisation olympics in Chromium, in its quick configuration: with the reference package every criterion
is reached, and the compiled WebAssembly kernel (which exists only in the tab) makes the baseline measurably faster;
with a learner's set_backend that changes nothing, that row shows no speed-up. (After pruning, the matrices are small
enough that the kernel's row is not reliably faster than the pruned one: not checked.)"""
from conftest import open_module
from tinytorch_wasm import curriculum, milestones

MILESTONE = milestones.milestone("2018")
HEAP_LIMIT = 256 * 2**20
INSTALL = "    _install(name)\n"  # the line of the reference set_backend that puts the kernel into the Tensor


def run(page):
    page.evaluate("delete document.querySelector('.tt-milestone').dataset.result")
    page.locator("button", has_text="Run milestone").click()
    page.wait_for_function("document.querySelector('.tt-milestone').dataset.result !== undefined", timeout=300_000)
    result = page.evaluate("window.tinytorch.milestone.lastResult")
    rows = [p["metrics"] for p in result["history"] if "row_kb" in p["metrics"]]
    return page.get_attribute(".tt-milestone", "data-result"), result, dict(zip(
        ["compiled matmul", "int8", "pruned", "pruned + int8", "pruned + compiled matmul"], rows))


def open_page(server, context):
    return open_module(context, f"{server.url}milestones/{MILESTONE.id}-{MILESTONE.slug}/?config=quick")


def test_2018_passes_and_the_kernel_speeds_up_its_rows_in_the_tab(server, browser_profile):
    page = open_page(server, browser_profile())
    outcome, result, rows = run(page)
    assert outcome == "passed", result["error"] or result["criteria"]
    assert rows["compiled matmul"]["row_speedup_low"] > 1.5, rows["compiled matmul"]
    saved = page.evaluate(f"window.tinytorch.state.progress().milestones['{MILESTONE.id}']")
    assert saved["passed"] and 0 < saved["peakWasmBytes"] <= HEAP_LIMIT, saved
    assert page.locator(".tt-milestone .tt-chart").count() >= 4  # speed-up, size, Pareto front, the GPT
    assert not page.tt_errors, page.tt_errors


def test_2018_a_set_backend_that_changes_nothing_shows_no_speed_up_in_the_tab(server, browser_profile):
    source = curriculum.module("17").reference_source()
    assert source.count(INSTALL) == 1, "the reference set_backend changed: update INSTALL"
    page = open_page(server, browser_profile())
    page.evaluate("code => { window.tinytorch.state.saveCode('17', code, 'x'); "
                  "window.tinytorch.state.chooseSource('17', 'mine'); }",
                  source.replace(INSTALL, "    pass  # remembers the name, installs nothing\n"))
    page.reload()
    page.wait_for_function("window.tinytorch && window.tinytorch.runtime.state === 'ready'")
    assert "17 yours" in page.inner_text(".tt-source-summary")
    _, result, rows = run(page)
    assert rows["compiled matmul"]["row_speedup"] < 1.2, rows["compiled matmul"]
    assert result["criteria"][0]["reached"], "pruning alone still makes the MLP at least 2x faster in the tab"
