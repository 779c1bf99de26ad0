"""Moving between the course's pages in one tab keeps Python running (runtime/src/navigation.js, main.js): clicking
from module to module to milestone starts no new Python, each page is soon ready, code typed just before leaving is
kept, a run left behind is stopped, and Back works. At a host root and under a sub-path."""
import pytest

from conftest import open_module, set_editor
from test_not_found import sub_path_server  # noqa: F401 (a fixture: the course under /course/)

# Generous: measured at 0.08-0.25 s on a loaded 2-core machine (the benchmark's "page-to-page navigation" row);
# a page that started Python again needs 1-3 s.
READY_BOUND_MS = 1000


WINDING_DOWN = """import time
try:
    while True:
        pass
except KeyboardInterrupt:
    end = time.time() + 0.5
    while time.time() < end:
        pass
"""


def go(page, link_text, ready_when):
    """Click a link in the site's navigation and wait until the page it leads to is set up and Python is ready."""
    page.locator(".md-nav--primary a.md-nav__link", has_text=link_text).first.click()
    page.wait_for_function(f"window.tinytorch && ({ready_when}) && window.tinytorch.pageReadyMs !== undefined")
    return page.evaluate("""({marker: window.ttStillThisTab, workers: window.tinytorch.runtime.workersStarted,
        readyMs: window.tinytorch.pageReadyMs, state: window.tinytorch.runtime.state, path: location.pathname})""")


def module_is(module_id):
    return (f"window.tinytorch && window.tinytorch.workbench && "
            f"window.tinytorch.workbench.module.id === '{module_id}'")


@pytest.mark.parametrize("where", ["root", "sub-path"])
def test_module_to_module_to_milestone_keeps_python(where, server, sub_path_server, browser_profile):  # noqa: F811
    base = server.url if where == "root" else sub_path_server
    context = browser_profile()
    page = open_module(context, base + "modules/01-tensor/")
    page.evaluate("window.ttStillThisTab = true")  # gone if the tab loaded a page the usual way

    # Code typed a moment before leaving (its save was still scheduled) is kept.
    set_editor(page, "# typed just before leaving\n")
    second = go(page, "02 ·", module_is("02"))
    assert second["marker"] and second["workers"] == 1 and second["state"] == "ready", second
    assert second["readyMs"] <= READY_BOUND_MS, second

    # The next module's tests run on the same Python.
    page.locator(".tt-buttons button", has_text="Run tests").click()
    page.wait_for_function("document.querySelector('.tt-workbench').dataset.tests !== undefined "
                           "&& window.tinytorch.runtime.state === 'ready'")
    assert page.get_attribute(".tt-workbench", "data-tests") == "failed"  # the starter

    third = go(page, "03 ·", module_is("03"))
    assert third["marker"] and third["workers"] == 1 and third["readyMs"] <= READY_BOUND_MS, third

    # A run still going when the learner leaves is stopped (interrupted: the same Python stays), and the next page
    # is ready only once that Stop is done: this run takes half a second to wind down after the interrupt.
    page.evaluate("code => { window.tinytorch.workbench.scratch.text = code; }", WINDING_DOWN)
    page.locator("button", has_text="Run scratch").click()
    page.wait_for_function("window.tinytorch.runtime.state === 'busy'")
    milestone = go(page, "1958", "window.tinytorch.milestone !== undefined")
    assert milestone["marker"] and milestone["workers"] == 1 and milestone["state"] == "ready", milestone
    assert milestone["readyMs"] <= 2 * READY_BOUND_MS, milestone  # includes the Stop of the loop
    assert milestone["path"].endswith("/milestones/1958-perceptron/")
    assert page.locator(".tt-milestone button", has_text="Run milestone").is_enabled()

    # Back to module 01, by the browser's Back button twice: the code typed there was saved.
    page.go_back()
    page.wait_for_function(module_is("03") + " && window.tinytorch.pageReadyMs !== undefined")
    page.go_back()
    page.wait_for_function(module_is("02") + " && window.tinytorch.pageReadyMs !== undefined")
    page.go_back()
    page.wait_for_function(module_is("01") + " && window.tinytorch.pageReadyMs !== undefined")
    assert page.evaluate("window.tinytorch.workbench.editor.text") == "# typed just before leaving\n"
    assert page.evaluate("[window.ttStillThisTab, window.tinytorch.runtime.workersStarted]") == [True, 1]
    assert not page.tt_errors, page.tt_errors


def test_a_page_without_python_starts_it_when_the_learner_moves_to_a_module(server, browser_profile):
    context = browser_profile()
    page = context.new_page() if not context.pages else context.pages[0]
    page.goto(server.url + "progress/")
    page.wait_for_selector(".tt-progress-page table")
    assert page.evaluate("window.tinytorch.runtime") is None  # the progress page does not start Python
    page.evaluate("window.ttStillThisTab = true")
    first = go(page, "01 ·", module_is("01"))
    assert first["marker"] and first["workers"] == 1 and first["state"] == "ready", first
    home = page.locator(".md-nav--primary a.md-nav__link", has_text="Home").first
    home.click()
    page.wait_for_function("!document.querySelector('.tt-workbench')")
    second = go(page, "02 ·", module_is("02"))
    assert second["marker"] and second["workers"] == 1 and second["readyMs"] <= READY_BOUND_MS, second


# When the first search results show, and when Python was ready (null if not yet), in ms since navigation.
FIRST_RESULTS = """async () => {
    const deadline = performance.now() + 60_000;
    while (!document.querySelector(".md-search-result__item") && performance.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
    return {resultsAt: document.querySelector(".md-search-result__item") ? performance.now() : null,
            readyAt: (window.tinytorch && window.tinytorch.runtime && window.tinytorch.runtime.readyAt) || null}; }"""


def test_site_search_waits_for_python_on_its_pages_unless_the_learner_reaches_for_it(server, browser_profile,
                                                                                    tmp_path):
    """mkdocs-material builds its search index in a worker as a page loads; on a page that starts Python that is
    held until Python is ready (runtime/src/search-later.js), or until the learner reaches for the search field. On a
    page without Python, search is material's own."""
    # A query that arrives without the field being focused (material reads it on keyup) waits for Python...
    page = browser_profile(tmp_path / "unfocused").new_page()
    page.goto(server.url + "modules/01-tensor/", wait_until="domcontentloaded")
    page.evaluate("""() => { const field = document.querySelector(".md-search__input"); field.value = "autograd";
        field.dispatchEvent(new KeyboardEvent("keyup")); }""")
    shown = page.evaluate(FIRST_RESULTS)
    assert shown["resultsAt"] and shown["readyAt"] and shown["resultsAt"] >= shown["readyAt"], shown

    # ... and one typed into the field is answered at once, while Python is still starting: held here (its package
    # list is not answered until then), since a cold visit can now be ready before the index is built.
    context, held = browser_profile(tmp_path / "typed"), []
    context.route("**/pyodide-lock.json", lambda route: held.append(route))
    page = context.new_page()
    page.goto(server.url + "modules/01-tensor/", wait_until="domcontentloaded")
    # Typed key by key, as a learner does: material reads the field on keyup (and on focus, and when its index is
    # ready). A `fill` makes no keyup, and on a loaded machine its query was lost (2 runs in 3 with both cores busy).
    page.locator(".md-search__input").press_sequentially("autograd")
    shown = page.evaluate(FIRST_RESULTS)
    assert shown["resultsAt"] and not shown["readyAt"] and held, shown
    for route in held:
        route.continue_()

    page.goto(server.url)
    page.locator(".md-search__input").press_sequentially("perceptron")
    assert page.evaluate(FIRST_RESULTS)["resultsAt"], "no search results on the home page"
    assert "1958" in page.inner_text(".md-search-result")
