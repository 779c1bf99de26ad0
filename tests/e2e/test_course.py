"""The course across modules in Chromium: every module passes with its reference entered, deep links fall back to
the reference visibly, milestones reach their criterion (and fail honestly on broken code), and export/import."""
import json

import pytest

from conftest import open_module, run_measurement, run_tests, set_editor
from tinytorch_wasm import curriculum, milestones

MODULES = curriculum.modules()


def module_url(server, module):
    return f"{server.url}modules/{module.id}-{module.slug}/"


def test_every_module_passes_with_its_reference_entered(server, browser_profile):
    context = browser_profile()
    for module in MODULES[1:]:  # module 01 has its own tests
        page = open_module(context, module_url(server, module))
        set_editor(page, module.reference_source())
        result = run_tests(page)
        assert result["state"] == "passed", f"module {module.id}: {result['summary']}"
        assert result["failed"] == 0


def test_a_deep_linked_module_runs_on_the_reference_and_says_so(server, browser_profile):
    layers = curriculum.module("03")
    page = open_module(browser_profile(), module_url(server, layers))
    summary = page.inner_text(".tt-source-summary")
    assert summary == "01 reference, 02 reference"
    assert run_tests(page)["state"] == "failed"  # the starter of 03 itself
    set_editor(page, layers.reference_source())
    assert run_tests(page)["state"] == "passed"

    # The learner's own (broken) Tensor saved: the reference still stands in, and the page says why. Chosen
    # explicitly, theirs is used, visibly so; they can switch back.
    broken = curriculum.module("01").starter_source()
    page.evaluate("code => window.tinytorch.state.saveCode('01', code, 'x')", broken)
    page.reload()
    page.wait_for_function("window.tinytorch && window.tinytorch.runtime.state === 'ready'")
    assert page.inner_text(".tt-source-summary").startswith("01 reference")
    assert "does not pass its tests yet" in page.inner_text("li[data-module='01']")
    page.locator("li[data-module='01'] button", has_text="use mine").click()
    assert page.inner_text(".tt-source-summary").startswith("01 yours")
    assert run_tests(page)["state"] == "failed"
    page.locator("li[data-module='01'] button", has_text="use the reference").click()
    assert page.inner_text(".tt-source-summary").startswith("01 reference")
    assert run_tests(page)["state"] == "passed"
    assert page.evaluate("window.tinytorch.state.code('01').code") == broken, "the learner's own code was touched"


def run_milestone(page):
    page.evaluate("delete document.querySelector('.tt-milestone').dataset.result")
    page.locator("button", has_text="Run milestone").click()
    page.wait_for_function("document.querySelector('.tt-milestone').dataset.result !== undefined", timeout=180_000)
    return page.get_attribute(".tt-milestone", "data-result"), page.inner_text(".tt-milestone .tt-summary")


# A milestone with a text box after its run has a test of its own (test_milestone_artifacts.py), which runs it once.
@pytest.mark.parametrize("milestone", [m for m in milestones.milestones() if not m.interact], ids=lambda m: m.id)
def test_each_milestone_reaches_its_criterion_with_the_reference(server, browser_profile, milestone):
    quick = "?config=quick" if "quick" in milestone.configs else ""  # the real configuration is the benchmark's
    page = open_module(browser_profile(), f"{server.url}milestones/{milestone.id}-{milestone.slug}/{quick}")
    outcome, text = run_milestone(page)
    assert outcome == "passed", text
    assert page.locator(".tt-milestone .tt-chart").count() >= 1
    saved = page.evaluate(f"window.tinytorch.state.progress().milestones['{milestone.id}']")
    assert saved["passed"] and saved["value"] >= milestone.target


def test_a_milestone_fails_visibly_on_a_broken_learner_linear(server, browser_profile):
    page = open_module(browser_profile(), f"{server.url}milestones/1969-xor/")
    layers = curriculum.module("03")
    broken = layers.reference_source().replace("def forward(self, x):", "def forward(self, x):\n        return x * 0.0", 1)
    assert broken != layers.reference_source()
    page.evaluate("code => { window.tinytorch.state.saveCode('03', code, 'x'); "
                  "window.tinytorch.state.chooseSource('03', 'mine'); }", broken)  # untested code: only by choice
    page.reload()
    page.wait_for_function("window.tinytorch && window.tinytorch.runtime.state === 'ready'")
    assert "03 yours" in page.inner_text(".tt-source-summary")
    outcome, text = run_milestone(page)
    assert outcome == "not-passed" and "reached:" not in text


def test_export_clear_import_restores_everything(server, browser_profile, tmp_path):
    context = browser_profile()
    page = open_module(context, module_url(server, MODULES[0]))
    set_editor(page, MODULES[0].reference_source())
    assert run_tests(page)["state"] == "passed"
    page.evaluate("code => window.tinytorch.state.saveCode('02', code, 'x')", "# my activations\n")
    page.goto(server.url + "progress/")
    page.wait_for_selector("tr[data-module='01'][data-state='passed']")
    with page.expect_download() as download:
        page.locator("button", has_text="Export all work").click()
    backup = tmp_path / "backup.json"
    download.value.save_as(backup)
    saved = json.loads(backup.read_text())
    assert saved["modules"]["01"]["code"] == MODULES[0].reference_source()

    page.evaluate("localStorage.clear()")
    page.reload()
    page.wait_for_selector("tr[data-module='01'][data-state='not-started']")
    page.once("dialog", lambda dialog: dialog.accept())
    page.set_input_files(".tt-import-file", str(backup))
    page.wait_for_selector(".tt-notices .success")
    assert page.get_attribute("tr[data-module='01']", "data-state") == "passed"
    assert page.get_attribute("tr[data-module='02']", "data-state") == "started"
    assert page.evaluate("window.tinytorch.state.code('01').code") == MODULES[0].reference_source()


@pytest.mark.parametrize("content, reason", [
    ("{not json", "not valid JSON"),
    (json.dumps({"format": "something-else"}), "not a TinyTorch course backup"),
    (json.dumps({"format": "tinytorch-browser-progress", "schema": 99, "modules": {}, "progress": {}}), "version 99"),
    (json.dumps({"format": "tinytorch-browser-progress", "schema": 1, "modules": {"99": {"code": ""}},
                 "progress": {}}), "module this course does not have"),
    ("x" * (6 * 1024 * 1024), "too large"),
])
def test_a_bad_import_is_refused_and_changes_nothing(server, browser_profile, tmp_path, content, reason):
    page = open_module(browser_profile(), module_url(server, MODULES[0]))
    set_editor(page, "# keep me\n")
    page.goto(server.url + "progress/")
    page.wait_for_selector("tr[data-module='01'][data-state='started']")
    before = page.evaluate("JSON.stringify(Object.entries(localStorage).sort())")
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    page.set_input_files(".tt-import-file", str(bad))
    page.wait_for_selector(".tt-notices .failure")
    message = page.inner_text(".tt-notices")
    assert reason in message and "Nothing was changed" in message
    assert page.evaluate("JSON.stringify(Object.entries(localStorage).sort())") == before


@pytest.mark.parametrize("module", MODULES, ids=lambda m: f"{m.id}-{m.slug}")
def test_every_lesson_measurement_runs_in_the_tab(server, browser_profile, module):
    """Each ```{.python .tt-run} block of each lesson runs with the reference package and draws what it promises."""
    page = open_module(browser_profile(), module_url(server, module))
    set_editor(page, module.reference_source())
    blocks = page.locator(".tt-experiment")
    assert blocks.count() >= 1
    for i in range(blocks.count()):
        block = blocks.nth(i)
        code = block.evaluate("node => node.previousElementSibling.textContent")
        output = run_measurement(page, block, ".tt-run-button")
        assert "Measurement finished" in output and block.locator(".tt-error").count() == 0, output[-2000:]
        if "plot." in code:
            assert block.locator(".tt-chart").count() >= 1, f"block {i} of module {module.id} drew no chart"
