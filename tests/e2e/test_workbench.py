"""Module 01 end to end in Chromium: boot, tests, saving, Stop, offline, and the warnings a learner must see."""
import re
import time

from conftest import cached, open_module, run_tests, set_editor
from tinytorch_wasm import curriculum

TENSOR = curriculum.module("01")
PAGE = "modules/01-tensor/"


def wait_idle(page):
    page.wait_for_function("window.tinytorch.runtime.state === 'ready'")


def run_scratch(page, code):
    page.evaluate("code => { window.tinytorch.workbench.scratch.text = code; }", code)
    page.locator("button", has_text="Run scratch").click()


def test_starter_fails_reference_passes_and_reload_keeps_the_code(server, browser_profile):
    context = browser_profile()
    page = open_module(context, server.url + PAGE)
    assert page.evaluate("self.crossOriginIsolated")
    first = run_tests(page)
    assert first["state"] == "failed" and first["passed"] == 0 and first["failed"] >= 15

    set_editor(page, TENSOR.reference_source())
    second = run_tests(page)
    assert second["state"] == "passed" and second["failed"] == 0 and second["passed"] >= 15
    assert "Module complete" in second["summary"]
    assert page.locator(".tt-exercise").count() == len(TENSOR.exercises)

    page.wait_for_function("document.querySelector('.tt-saved').textContent === 'Saved'")
    page.reload()
    page.wait_for_function("window.tinytorch && window.tinytorch.workbench")
    assert page.evaluate("window.tinytorch.workbench.editor.text") == TENSOR.reference_source()
    assert not page.tt_errors


def test_the_editor_is_built_when_the_learner_reaches_it_and_nothing_typed_is_lost(server, browser_profile):
    """CodeMirror is most of the page's script: the editor is a text area holding the code until the learner
    reaches it; then CodeMirror takes over with the same text, caret and focus, and keys typed meanwhile count."""
    page = open_module(browser_profile(), server.url + PAGE)
    editor = ".tt-editor:not(.tt-scratch-editor)"
    assert page.locator(".cm-editor").count() == 0 and page.evaluate("window.tinytorch.workbench.editor.view") is None
    assert page.input_value(f"{editor} textarea") == TENSOR.starter_source()
    assert page.get_attribute(f"{editor} textarea", "aria-label") == f"Your file {TENSOR.package_path}"

    page.evaluate("area => { area.setSelectionRange(0, 0); area.focus(); }",
                  page.locator(f"{editor} textarea").element_handle())
    page.keyboard.type("# mine\n")  # typed as the editor is being built
    page.wait_for_selector(f"{editor} .cm-editor")
    page.keyboard.type("# and this\n")
    assert page.evaluate("!!document.activeElement.closest('.cm-content')")
    text = page.evaluate("window.tinytorch.workbench.editor.text")
    assert text == "# mine\n# and this\n" + TENSOR.starter_source()
    assert page.locator(f"{editor} textarea").count() == 0
    page.wait_for_function("document.querySelector('.tt-saved').textContent === 'Saved'")

    page.focus(".tt-scratch-editor textarea")  # the scratch cell too, and Ctrl+Enter runs it
    page.wait_for_selector(".tt-scratch-editor .cm-editor")
    page.evaluate("window.tinytorch.workbench.scratch.text = 'print(6 * 7)'")
    page.keyboard.press("Control+Enter")
    page.wait_for_function("document.querySelector('.tt-output').textContent.includes('42')")
    assert not page.tt_errors


def test_results_stream_in_while_the_tests_run(server, browser_profile):
    """Each test's result reaches the page as it comes: a count, and the first failures in full; the grouped list
    replaces them at the end."""
    page = open_module(browser_profile(), server.url + PAGE)
    seen = page.evaluate("""async () => {
        const workbench = window.tinytorch.workbench, seen = [];
        const running = workbench.runTests();
        const progress = workbench.testProgress;
        new MutationObserver(() => seen.push([progress.firstChild.textContent, progress.lastChild.childElementCount]))
          .observe(progress, { subtree: true, childList: true, characterData: true });
        await running;
        return seen; }""")
    counts = [tuple(map(int, re.match(r"(\d+) of (\d+) tests ran", text).groups())) for text, _ in seen]
    total = counts[-1][1]
    assert total >= 15 and counts[-1] == (total, total) and len(counts) > 1
    assert [done for done, _ in counts] == sorted(done for done, _ in counts)
    assert "0 passed" in seen[-1][0] and f"{total} failed so far" in seen[-1][0]
    assert 0 < seen[-1][1] <= 10  # the first failures, in full, while the rest ran
    assert page.locator(".tt-test-progress").count() == 0
    assert page.locator(".tt-test").count() == total
    assert not page.tt_errors


def test_errors_point_at_the_learners_lines(server, browser_profile):
    page = open_module(browser_profile(), server.url + PAGE)
    set_editor(page, TENSOR.reference_source())
    run_scratch(page, "from tinytorch.core.tensor import Tensor\n\nprint(Tensor([[1, 2]]) @ Tensor([[1, 2]]))\n")
    page.wait_for_selector(".tt-output .tt-error")
    error = page.inner_text(".tt-output .tt-error")
    assert 'File "<scratch>", line 3' in error and "cannot multiply shapes (1, 2) and (1, 2)" in error
    assert "tinytorch_wasm" not in error and "pyodide" not in error


def _stop_a_loop(page):
    run_scratch(page, "while True:\n    pass\n")
    page.wait_for_function("window.tinytorch.runtime.state === 'busy'")
    time.sleep(0.5)
    page.locator("button", has_text="Stop").click()
    page.wait_for_function("document.querySelector('.tt-workbench').dataset.lastStop !== undefined")
    wait_idle(page)
    how = page.get_attribute(".tt-workbench", "data-last-stop")
    said = page.inner_text(".tt-output")
    run_scratch(page, "print('still alive', 6 * 7)")
    page.wait_for_function("document.querySelector('.tt-output').textContent.includes('still alive 42')")
    return how, said


def test_stop_interrupts_an_endless_loop_with_isolation(server, browser_profile):
    page = open_module(browser_profile(), server.url + PAGE)
    set_editor(page, "# my work in progress\n")
    how, said = _stop_a_loop(page)
    assert how == "interrupt" and "Python was interrupted" in said
    assert said.count("Stopped") == 1 and "KeyboardInterrupt" not in said, said  # one line, not two
    assert page.evaluate("window.tinytorch.workbench.editor.text") == "# my work in progress\n"


def test_stop_restarts_python_without_isolation(plain_server, browser_profile):
    page = open_module(browser_profile(), plain_server.url + PAGE)
    assert not page.evaluate("self.crossOriginIsolated")
    set_editor(page, "# my work in progress\n")
    how, said = _stop_a_loop(page)
    assert how == "restart" and "it was restarted" in said and "Your code is safe" in said
    # No interrupt was possible on this host: the message must not claim Python ignored one.
    assert said.count("Stopped") == 1 and "did not respond" not in said and "no way to interrupt" in said, said
    assert page.evaluate("window.tinytorch.workbench.editor.text") == "# my work in progress\n"


def _wait_until_precached(page):
    page.wait_for_function("navigator.serviceWorker.controller !== null "
                           "|| navigator.serviceWorker.ready.then(() => true)")
    page.evaluate("navigator.serviceWorker.ready")
    page.wait_for_function("""async () => {
        const names = await caches.keys();
        if (!names.some(n => n.startsWith('tinytorch-course-'))) return false;
        const reg = await navigator.serviceWorker.getRegistration();
        return reg && reg.active && reg.active.state === 'activated';
    }""", polling=200)


def test_the_module_works_offline_after_a_first_visit(server, browser_profile):
    """Offline, the page starts from what the service worker kept: each wheel as the worker took it (here, from
    serve.py, the compressed stored twins, and not the wheels as well)."""
    context = browser_profile()
    page = open_module(context, server.url + PAGE)
    _wait_until_precached(page)
    wheels = [address for _, address in cached(page, ".whl")]
    assert wheels and all("/stored/" in w for w in wheels), wheels
    server.stop()
    page.reload()
    page.wait_for_function("window.tinytorch && window.tinytorch.runtime.state === 'ready'")
    result = run_tests(page)
    assert result["state"] == "failed" and result["failed"] >= 15
    page.goto(server.url)  # another page, never opened while online
    assert "TinyTorch" in page.title()


def test_the_service_worker_isolates_a_host_that_sends_no_headers(plain_server, browser_profile):
    page = open_module(browser_profile(), plain_server.url + PAGE)
    assert not page.evaluate("self.crossOriginIsolated")
    _wait_until_precached(page)
    wheels = [address for _, address in cached(page, ".whl")]  # a host sending files as they are: the wheels
    assert wheels and not [w for w in wheels if "/stored/" in w], wheels
    page.reload()
    page.wait_for_function("window.tinytorch && window.tinytorch.runtime.state === 'ready'")
    assert page.evaluate("self.crossOriginIsolated")


def test_full_storage_warns_and_keeps_working(server, browser_profile):
    context = browser_profile()
    context.add_init_script("""
        Storage.prototype.setItem = function () {
            throw new DOMException('quota exceeded in this test', 'QuotaExceededError');
        };""")
    page = open_module(context, server.url + PAGE)
    set_editor(page, TENSOR.reference_source())
    page.wait_for_selector(".tt-notice.warning")
    assert "kept in this tab only" in page.inner_text(".tt-notices")
    assert run_tests(page)["state"] == "passed"


def test_reset_asks_and_restores_the_starter(server, browser_profile):
    page = open_module(browser_profile(), server.url + PAGE)
    set_editor(page, "# to be thrown away\n")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("button", has_text="Reset").click()
    assert page.evaluate("window.tinytorch.workbench.editor.text") == "# to be thrown away\n"
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("button", has_text="Reset").click()
    assert page.evaluate("window.tinytorch.workbench.editor.text") == TENSOR.starter_source()


def test_a_lesson_measurement_draws_its_chart(server, browser_profile):
    page = open_module(browser_profile(), server.url + PAGE)
    set_editor(page, TENSOR.reference_source())
    button = page.locator(".tt-run-button").nth(1)
    button.click()
    page.wait_for_selector(".tt-experiment .tt-chart", timeout=120_000)
    wait_idle(page)
    assert page.locator(".tt-experiment .tt-error").count() == 0
