"""Accessibility in Chromium: axe-core finds no serious or critical violation on any page type in light and dark
(pages in the states a learner brings them to: results, errors, profile, a milestone run); Lighthouse scores
accessibility 100 on the home, a module, a milestone and the progress page; a whole module is done by keyboard."""
import pytest

import axe
import lighthouse
from conftest import open_module
from tinytorch_wasm import curriculum

TENSOR = curriculum.module("01")
PAGES = {"home": "", "module": "modules/01-tensor/", "milestone": "milestones/1958-perceptron/",
         "progress": "progress/", "not-found": "modules/99-no-such-module/"}


def bring_to_life(page, kind):
    """Put the page in the states whose colours and structure matter: results on show, an error, a run."""
    if kind == "module":
        page.evaluate("window.tinytorch.workbench.runTests()")
        page.wait_for_function("document.querySelector('.tt-workbench').dataset.tests")
        page.evaluate("document.querySelectorAll('.tt-exercise details, details.tt-folded').forEach((d) => d.open = true)")
        page.evaluate("""async () => { const w = window.tinytorch.workbench; w.scratch.text = "import sys\\n"
            + "print('a warning', file=sys.stderr)\\n1/0"; await w.runScratch(); }""")
        yield "tests, folded groups open, an error in the output"
        page.evaluate("async () => { await window.tinytorch.workbench.profile(); }")
        page.evaluate("window.tinytorch.workbench.show('profile')")
        yield "the profile panel"
    elif kind == "milestone":
        page.evaluate("async () => { await window.tinytorch.milestone.start(); }")
        yield "after a run, with its charts"
    elif kind == "progress":
        page.evaluate("window.tinytorch.state.saveCode('01', '# mine', 'x'); window.tinytorch.progress.render()")
        yield "with a module started"
    else:
        yield "as loaded"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_or_critical_axe_violation_on_any_page(server, browser_profile, tmp_path, scheme):
    context = browser_profile(tmp_path / scheme)
    axe.install(context)
    page = context.pages[0] if context.pages else context.new_page()
    page.emulate_media(color_scheme=scheme)
    found = {}
    for kind, path in PAGES.items():
        if kind in ("module", "milestone"):
            page = open_module(context, server.url + path)
        else:
            page.goto(server.url + path)
            if kind == "not-found":
                page.wait_for_url("**/not-found/**")
            if kind != "home":
                page.wait_for_function("window.tinytorch")
        expected = "slate" if scheme == "dark" else "default"
        assert page.evaluate("document.body.dataset.mdColorScheme") == expected
        for state in bring_to_life(page, kind):
            violations = axe.violations(page)
            if violations:
                found[f"{kind} ({state})"] = axe.describe(violations)
    assert not found, "\n".join(f"{where}:\n{text}" for where, text in found.items())


def test_lighthouse_accessibility_is_100(server):
    scores = {}
    for kind in ("home", "module", "milestone", "progress"):
        report = lighthouse.audit(server.url + PAGES[kind], ["accessibility"])
        scores[kind] = (lighthouse.score(report, "accessibility"), lighthouse.failed_audits(report, "accessibility"))
    print("\nLighthouse accessibility:", {k: v[0] for k, v in scores.items()})
    assert all(score == 100 for score, _ in scores.values()), scores


def test_the_dark_mode_toggle_by_mouse_and_keyboard_is_kept_across_pages_and_reloads(server, browser_profile):
    """The header's toggle (runtime/src/palette.js, in place of material's): a first visit follows the system's
    preference (in dark: the axe test above), a click or Enter switches, and the choice holds on the next page and
    after a reload."""
    page = browser_profile().new_page()
    page.emulate_media(color_scheme="light")
    page.goto(server.url)
    scheme = lambda: page.evaluate("document.body.dataset.mdColorScheme")  # noqa: E731
    shown = lambda: page.evaluate(  # noqa: E731
        "[...document.querySelectorAll('[data-tt-palette] label')].filter((l) => !l.hidden).map((l) => l.title)")
    assert (scheme(), shown()) == ("default", ["Dark mode"])
    page.click("[data-tt-palette] label:not([hidden])")
    assert (scheme(), shown()) == ("slate", ["Light mode"])
    assert page.evaluate("getComputedStyle(document.body).colorScheme") == "dark"
    assert page.evaluate("getComputedStyle(document.documentElement).colorScheme") == "dark"  # the page's scroll bar
    page.click(".md-nav--primary a[href*='progress']")
    page.wait_for_url("**/progress/")
    assert (scheme(), shown()) == ("slate", ["Light mode"])
    page.reload()
    assert (scheme(), shown()) == ("slate", ["Light mode"])
    page.focus("[data-tt-palette] input:checked")
    page.keyboard.press("Enter")
    assert (scheme(), shown()) == ("default", ["Dark mode"])
    page.reload()
    assert scheme() == "default"


def tab_to(page, predicate: str, limit=150, back=False):
    """Press Tab (Shift+Tab) until `predicate` (a JS expression over `el`, the focused element) holds. In an
    editor Tab indents: Escape first, then Tab moves on (as the home page tells learners)."""
    for _ in range(limit):
        if page.evaluate("!!document.activeElement.closest('.cm-content')"):
            page.keyboard.press("Escape")
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return !!({predicate}); }})()"):
            return
    raise AssertionError(f"Tab never reached: {predicate}")


def test_a_whole_module_by_keyboard_alone(server, browser_profile):
    """From the home page to a passing module 01 without the mouse: follow the link, write the file, run it, run
    the tests, move between result tabs, jump to a failure, run a measurement, and hear the results announced."""
    context = browser_profile()
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(server.url)
    tab_to(page, "el.matches('article a[href$=\"01-tensor/\"]')")
    page.keyboard.press("Enter")
    page.wait_for_function("window.tinytorch && window.tinytorch.runtime.state === 'ready'")

    tab_to(page, "el.closest('.tt-editor') && !el.closest('.tt-scratch-editor')")
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(TENSOR.starter_source().replace(
        "raise NotImplementedError(\"TODO: your code here\")", "raise NotImplementedError('not yet')", 1))
    page.keyboard.press("Control+Enter")  # Run
    page.wait_for_function("document.querySelector('.tt-announcer').textContent.startsWith('Run ')")
    page.keyboard.press("Escape")
    tab_to(page, "el.textContent === 'Run tests'")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('.tt-workbench').dataset.tests === 'failed'")
    tab_to(page, "el.getAttribute('role') === 'tab' && el.getAttribute('aria-selected') === 'true'")
    assert page.evaluate("document.activeElement.textContent") == "Tests"
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.textContent") == "Profile"
    page.keyboard.press("ArrowLeft")
    tab_to(page, "el.textContent === 'Go to the first failure'")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.classList.contains('tt-test')")

    tab_to(page, "el.closest('.tt-editor') && !el.closest('.tt-scratch-editor')", back=True)
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(TENSOR.reference_source())
    page.keyboard.press("Escape")
    tab_to(page, "el.textContent === 'Run tests'")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('.tt-workbench').dataset.tests === 'passed'")
    assert "Module complete" in page.inner_text(".tt-summary")

    tab_to(page, "el.classList.contains('tt-run-button')")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('.tt-announcer').textContent.startsWith('Measurement')",
                           timeout=120_000)
    assert "finished" in page.inner_text(".tt-announcer")
    outlines = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outlines != "none", "the focused button shows no focus ring"
