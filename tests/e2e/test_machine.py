"""The harness's view of the machine, in the tab: tinytorch_wasm.machine tells a cross-origin isolated page from one
that is not, and module 14's clock measurement finds the coarser clock browsers give a page without isolation."""
import re

from conftest import open_module, set_editor
from tinytorch_wasm import curriculum

PROFILING = curriculum.module("14")
CLOCK = re.compile(r"this tab, (NOT )?cross-origin isolated: smallest step of time\.perf_counter\(\) ([\d.]+) µs, "
                   r"median step ([\d.]+) µs")


def run_block(page, index):
    block = page.locator(".tt-experiment").nth(index)
    block.locator(".tt-run-button").click()
    page.wait_for_function("button => !button.disabled", arg=block.locator(".tt-run-button").element_handle(),
                           timeout=180_000)
    output = block.locator(".tt-output").inner_text()
    assert "Measurement finished" in output, output[-2000:]
    return output


def clock(page):
    """(isolated, smallest step µs, median step µs) as the lesson's first measurement reports them."""
    set_editor(page, PROFILING.reference_source())
    found = CLOCK.search(run_block(page, 0))
    assert found, "the clock measurement did not report this tab's clock"
    return found[1] is None, float(found[2]), float(found[3])


def test_the_clock_measurement_tells_isolated_from_not(server, plain_server, browser_profile, tmp_path):
    path = f"modules/{PROFILING.id}-{PROFILING.slug}/"
    page = open_module(browser_profile(tmp_path / "isolated"), server.url + path)
    assert page.evaluate("crossOriginIsolated") is True
    isolated, step, median = clock(page)
    assert isolated, "served with COOP/COEP, the worker should report crossOriginIsolated"
    memory = run_block(page, 3)
    assert re.search(r"WebAssembly memory: +\d+ MB before", memory), memory[-1000:]

    # A host that sends no headers, and no service worker to add them: the page is not isolated.
    plain = open_module(browser_profile(tmp_path / "plain"), plain_server.url + path + "?no-sw")
    assert plain.evaluate("crossOriginIsolated") is False
    plain_isolated, plain_step, plain_median = clock(plain)
    assert not plain_isolated, "without COOP/COEP the worker must not claim to be isolated"
    assert plain_step > step, (f"the browser's clock should be coarser without isolation: {plain_step} µs against "
                               f"{step} µs isolated")
    print(f"perf_counter in Chromium: isolated smallest step {step} µs (median {median}), "
          f"not isolated {plain_step} µs (median {plain_median})")
