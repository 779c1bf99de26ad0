"""Reliability drills in Chromium: what a learner's code, a browser's storage or a backup file can do to the course.

Each drill says what must happen (its docstring). Every one ends the same way: the learner sees a clear message,
their work is intact (in the editor and in localStorage), and Python answers the next run.
"""
import json
import time

import pytest

from conftest import BOOT_TIMEOUT_MS, open_module, run_tests, set_editor
from tinytorch_wasm import curriculum

TENSOR = curriculum.module("01")
STARTER = TENSOR.starter_source()
PAGE = "modules/01-tensor/"
PREFIX = "tinytorch/v1:/:"  # the Store's keys for a course served at the root of its host
MATMUL_LOOP = "import numpy as np\na = np.ones((1024, 1024))\nwhile True:\n    a @ a\n"  # seconds per product


# --- helpers --------------------------------------------------------------------------------------------------
def scratch(page, code: str) -> str:
    """Run `code` in the scratch cell as its button does, and return what the output panel then shows."""
    return page.evaluate("""async code => {
        const workbench = window.tinytorch.workbench;
        workbench.scratch.text = code;
        await workbench.runScratch();
        return workbench.output.pre.textContent;
    }""", code)


def output(page) -> str:
    """What the workbench's output panel shows."""
    return page.evaluate("window.tinytorch.workbench.output.pre.textContent")


def run_file(page) -> str:
    """Run the learner's file as the Run button does, and return the output panel's text."""
    page.evaluate("() => window.tinytorch.workbench.runFile()")
    return output(page)


def save_text(page, text: str):
    """Type `text` into the editor and save it now (not after the usual pause)."""
    page.evaluate("text => { window.tinytorch.workbench.editor.text = text; window.tinytorch.workbench.save(); }", text)


def saved_code(page, module_id="01"):
    """The module's code as localStorage holds it (not the page's in-memory copy)."""
    return page.evaluate("""id => {
        const raw = localStorage.getItem(window.tinytorch.store.prefix + 'module/' + id);
        return raw === null ? null : JSON.parse(raw).code;
    }""", module_id)


def assert_intact_and_alive(page, code):
    """The learner's file is unchanged in the editor and in storage, and Python runs the next snippet."""
    assert page.evaluate("window.tinytorch.workbench.editor.text") == code
    assert saved_code(page) == code
    assert "still alive 42" in scratch(page, "print('still alive', 6 * 7)")


def start_then_stop(page, button: str, after_s: float) -> tuple[str, float, str]:
    """Press `button`, press Stop `after_s` seconds into the run; return how it stopped, how long Stop took (s)
    until the page said so, and the output panel's text."""
    page.evaluate("delete document.querySelector('.tt-workbench').dataset.lastStop")
    page.get_by_role("button", name=button, exact=True).click()
    # Counted from when the worker began the run: just after a normal start it may still be saving its snapshot.
    page.wait_for_function("(window.tinytorch.runtime.pending || {}).startedAt !== undefined")
    time.sleep(after_s)
    pressed = time.monotonic()
    page.get_by_role("button", name="Stop", exact=True).click()
    page.wait_for_function("document.querySelector('.tt-workbench').dataset.lastStop !== undefined")
    took = time.monotonic() - pressed
    return page.get_attribute(".tt-workbench", "data-last-stop"), took, output(page)


def with_starter(prefix: str) -> str:
    """The starter file with `prefix` run first when it is imported."""
    return prefix + STARTER


# --- learner code -----------------------------------------------------------------------------------------------
def test_runaway_code_is_stopped_and_a_print_flood_keeps_the_page_responsive(server, browser_profile):
    """An endless loop in the learner's file stops at once on Stop (interrupt). A loop of 1024x1024 matmuls, where
    the interrupt cannot land inside NumPy's C code, is stopped within a few seconds by restarting Python, and so
    is code that catches the interrupt and goes on (after the wind-down it was given and a second interrupt), with a
    message that says so. Code that catches only the first interrupt is stopped by the second, without a restart, and
    so is a Python that took the first without raising it (at once, without a wind-down).
    A million printed lines leave the page answering within a second, and the output is cut with a note saying so."""
    page = open_module(browser_profile(), server.url + PAGE)
    looping = "# my work in progress\nwhile True:\n    pass\n"
    set_editor(page, looping)
    how, took, said = start_then_stop(page, "Run", 0.5)
    assert how == "interrupt" and took < 2 and "Python was interrupted" in said
    assert_intact_and_alive(page, looping)

    # A Python that takes an interrupt without raising it (seen on freshly started Pythons; here a SIGINT handler
    # drops one) is interrupted again within RETRY_MS, not after the wind-down.
    losing_once = ("import signal\nstop_taken = signal.getsignal(signal.SIGINT)\n"
                   "signal.signal(signal.SIGINT, lambda *_: signal.signal(signal.SIGINT, stop_taken))\n"
                   "while True:\n    pass\n")
    page.evaluate("code => { window.tinytorch.workbench.scratch.text = code; }", losing_once)
    how, took, said = start_then_stop(page, "Run scratch", 0.5)
    assert how == "interrupt" and took < 3 and "Python was interrupted" in said, (how, took, said)
    assert_intact_and_alive(page, looping)

    page.evaluate("code => { window.tinytorch.workbench.scratch.text = code; }", MATMUL_LOOP)
    how, took, said = start_then_stop(page, "Run scratch", 1.0)
    assert how == "restart" and took < 4, (how, took)
    assert "it was restarted" in said and "Your code is safe" in said
    assert_intact_and_alive(page, looping)

    swallowing = ("while True:\n    try:\n        while True:\n            pass\n"
                  "    except KeyboardInterrupt:\n        pass\n")
    page.evaluate("code => { window.tinytorch.workbench.scratch.text = code; }", swallowing)
    how, took, said = start_then_stop(page, "Run scratch", 0.5)
    assert how == "restart" and 4 < took < 9, (how, took)  # the wind-down given after the interrupt, then a restart
    assert "took the interrupt and went on running" in said and "KeyboardInterrupt" in said, said
    assert_intact_and_alive(page, looping)

    catching_once = "try:\n    while True:\n        pass\nexcept KeyboardInterrupt:\n    pass\nwhile True:\n    pass\n"
    page.evaluate("code => { window.tinytorch.workbench.scratch.text = code; }", catching_once)
    how, took, said = start_then_stop(page, "Run scratch", 0.5)
    assert how == "interrupt" and 4 < took < 9, (how, took, said)  # the second interrupt, after the wind-down
    assert "Python was interrupted" in said, said
    assert_intact_and_alive(page, looping)

    page.evaluate("code => { window.tinytorch.workbench.scratch.text = code; }",
                  "for i in range(1_000_000):\n    print('line', i)\n")
    page.get_by_role("button", name="Run scratch", exact=True).click()
    page.wait_for_function("window.tinytorch.runtime.state === 'busy'")
    slowest = 0.0
    while page.evaluate("window.tinytorch.runtime.state") == "busy":
        asked = time.monotonic()
        page.evaluate("document.querySelectorAll('.tt-output span').length")
        slowest = max(slowest, time.monotonic() - asked)
        time.sleep(0.1)
    assert slowest < 1.0, f"the page took {slowest:.2f} s to answer during the flood"
    shown = output(page)
    assert "output truncated here" in shown and "more lines" in shown and "Scratch cell finished" in shown
    assert "line 999999" not in shown
    assert_intact_and_alive(page, looping)


def test_recursion_memory_exit_and_input_end_with_a_message(server, browser_profile):
    """A runaway recursion gives a short RecursionError (also after sys.setrecursionlimit(100000), quickly); one
    deep enough in C to overflow the tab's stack restarts Python and says why. Asking for gigabytes gives a
    message naming the tab's memory limits, and a Python grown past 1 GB is restarted to give the memory back.
    sys.exit() says the rest did not run; input() and sys.stdin say they cannot wait for typing, at once. Python is
    usable after each."""
    page = open_module(browser_profile(), server.url + PAGE)
    mine = "# my tensor, in progress\n"
    set_editor(page, mine)

    said = scratch(page, "def f(n):\n    return f(n + 1)\n\nf(0)\n")
    assert "RecursionError" in said and "Too deep a recursion" in said and "[Previous line repeated" in said
    assert len(said) < 3000
    started = time.monotonic()
    said = scratch(page, "import sys\nsys.setrecursionlimit(100_000)\ndef f(n):\n    return f(n + 1)\n\nf(0)\n")
    assert "RecursionError" in said and time.monotonic() - started < 20
    said = scratch(page, "import sys\nsys.setrecursionlimit(1_000_000)\nclass A:\n    def __repr__(self):\n"
                         "        return repr(self)\n\nrepr(A())\n")
    # Pyodide's stack overflows before Python's C recursion limit: the worker dies and is replaced.
    assert "RecursionError" in said or ("Python crashed" in said and "Too deep a recursion" in said), said
    assert_intact_and_alive(page, mine)

    said = scratch(page, "import numpy as np\nnp.ones((50000, 50000))\n")
    assert "more memory than the tab can give" in said and 'File "<scratch>", line 2' in said
    said = scratch(page, "import numpy as np\nkept = [np.ones((10_000, 10_000)) for _ in range(20)]\n")
    assert "MemoryError" in said and "more memory than the tab can give" in said
    assert "restarted to return it to your computer" in said  # WebAssembly memory never shrinks by itself
    assert_intact_and_alive(page, mine)
    assert page.evaluate("document.querySelector('.tt-runtime-status').textContent").endswith(" MB")  # not GB

    said = scratch(page, "import sys\nprint('before')\nsys.exit()\nprint('never printed')\n")
    assert "before" in said and "never printed" not in said and "Your code called sys.exit()" in said
    said = scratch(page, "import sys\nsys.exit(3)\n")
    assert "sys.exit(3)" in said

    for code in ("name = input('Your name? ')\n", "import sys\nsys.stdin.read()\n"):
        started = time.monotonic()
        said = scratch(page, code)
        assert "cannot wait for typing" in said and time.monotonic() - started < 5
    assert_intact_and_alive(page, mine)


def test_errors_in_the_learners_file_point_at_its_lines(server, browser_profile):
    """A syntax error, an exception at import and sys.exit() at import: Run shows the error at its line of the
    editor; Run tests says the file could not be loaded and shows the same error, rather than a page of failures."""
    page = open_module(browser_profile(), server.url + PAGE)
    broken = STARTER.replace("    def numpy(self):", "    def numpy(self)", 1)
    line = broken.splitlines().index("    def numpy(self)") + 1
    raising = STARTER + "\nraise ValueError('broken at import')\n"
    raising_line = len(raising.splitlines())
    exiting = "import sys\nsys.exit()\n" + STARTER
    for code, where, error in [(broken, line, "SyntaxError"), (raising, raising_line, "ValueError: broken at import"),
                               (exiting, 2, "SystemExit")]:
        set_editor(page, code)
        said = run_file(page)
        if error == "SystemExit":
            assert "Your code called sys.exit()" in said
        else:
            assert f'File "tinytorch/core/tensor.py", line {where}' in said and error in said, said
        result = run_tests(page)
        assert result["state"] == "failed" and "could not be loaded" in result["summary"]
        shown = page.inner_text(".tt-collection-error")
        assert f'File "tinytorch/core/tensor.py", line {where}' in shown and error in shown, shown
        assert "tinytorch_wasm" not in shown and "_pytest" not in shown
        assert_intact_and_alive(page, code)


def test_a_test_run_that_never_ends_is_stopped_by_the_time_limit(server, browser_profile):
    """Learner code that loops forever inside a test is stopped by the test time limit (shortened here through
    the URL): by an interrupt for a Python loop, by a restart for a loop of long NumPy calls. The summary says
    the time limit stopped it and what to look for."""
    page = open_module(browser_profile(), server.url + PAGE + "?test-time-limit=3")
    stuck = STARTER.replace("    def __init__(self, data, requires_grad=False):\n",
                            "    def __init__(self, data, requires_grad=False):\n        while True:\n"
                            "            pass\n", 1)
    stuck_in_c = STARTER.replace("    def __init__(self, data, requires_grad=False):\n",
                                 "    def __init__(self, data, requires_grad=False):\n" +
                                 "".join("        " + line + "\n" for line in MATMUL_LOOP.splitlines()), 1)
    assert stuck != STARTER and stuck_in_c != STARTER
    for code, restarted in [(stuck, False), (stuck_in_c, True)]:
        set_editor(page, code)
        started = time.monotonic()
        result = run_tests(page)
        assert result["state"] == "stopped" and time.monotonic() - started < 30
        assert "time limit (3.00 s)" in result["summary"] and "never ends" in result["summary"]
        assert ("restarted" in result["summary"]) == restarted, result["summary"]
        assert ("busy inside NumPy" in result["summary"]) == restarted  # why Python was restarted, in one sentence
        assert_intact_and_alive(page, code)


TAMPERING = {
    "summarise": "import tinytorch_wasm.testing as t\nt.summarise = lambda module, *rest: {'module': '01', "
                 "'passed': True, 'stopped': False, 'counts': {'passed': 1, 'failed': 0, 'error': 0, 'skipped': 0, "
                 "'not_run': 0, 'total': 1}, 'duration': 0, 'exercises': [], 'tests': [], 'collection_errors': [], "
                 "'log': ''}\n",
    "Reporter": "import tinytorch_wasm.testing as t\n_log = t.Reporter.pytest_runtest_logreport\n"
                "def _passing(self, report):\n    report.outcome = 'passed'\n    _log(self, report)\n"
                "t.Reporter.pytest_runtest_logreport = _passing\n",
    "pytest.main": "import pytest\npytest.main = lambda *args, **kwargs: 0\n",
    "test_tensor.py": "from tinytorch_wasm import curriculum\n"
                      "curriculum.module('01').test_file.write_text('def test_fine():\\n    pass\\n')\n",
    "conftest.py": "from tinytorch_wasm import curriculum\n(curriculum.module('01').folder / 'conftest.py').write_text("
                   "'import pytest\\n@pytest.hookimpl(wrapper=True)\\ndef pytest_runtest_makereport(item, call):\\n"
                   "    report = yield\\n    report.outcome = \"passed\"\\n    return report\\n')\n",
    "testing.py": "import os, tinytorch_wasm.testing\nos.remove(tinytorch_wasm.testing.__file__)\n",
}


@pytest.mark.parametrize("names", [["summarise", "Reporter", "pytest.main"], ["test_tensor.py", "conftest.py",
                                                                            "testing.py"]],
                         ids=["functions", "files"])
def test_tampering_with_the_test_machinery_never_passes_the_starter(server, browser_profile, names):
    """The starter, with code at import that replaces the harness's summarise or Reporter or pytest.main, or
    overwrites the test file, plants a conftest.py or deletes a harness file: the run is reported as tampered
    with (naming what changed), never as a pass, and Python restarts clean so the next run reports the truth.
    Options put in the environment for pytest are ignored, so those runs report the truth at once."""
    page = open_module(browser_profile(), server.url + PAGE)
    for name in names:
        code = with_starter(TAMPERING[name])
        set_editor(page, code)
        result = run_tests(page)
        assert result["state"] == "tampered" and result["passed"] == 0, (name, result)
        assert result["summary"].startswith("The test run was tampered with") and name in result["summary"], \
            result["summary"]
        assert_intact_and_alive(page, code)

    set_editor(page, with_starter("import os\nos.environ['PYTEST_ADDOPTS'] = '-k nothing_is_called_this'\n"))
    honest = run_tests(page)
    assert honest["state"] == "failed" and honest["passed"] == 0 and honest["failed"] >= 15, honest

    said = scratch(page, TAMPERING[names[0]])
    assert "changed the course's own test machinery" in said and "restarted" in said
    set_editor(page, STARTER)
    honest = run_tests(page)
    assert honest["state"] == "failed" and honest["passed"] == 0 and honest["failed"] >= 15, honest
    assert_intact_and_alive(page, STARTER)


# --- storage --------------------------------------------------------------------------------------------------
def test_disabled_storage_warns_and_work_continues_in_memory(server, browser_profile):
    """localStorage throws SecurityError (storage blocked): the page warns that work is kept in this tab only,
    the editor still keeps and runs the learner's code, and tests run."""
    context = browser_profile()
    context.add_init_script("""Object.defineProperty(window, 'localStorage', { get() {
        throw new DOMException('storage is disabled in this test', 'SecurityError'); } });""")
    page = open_module(context, server.url + PAGE)
    page.tt_errors.clear()  # mkdocs-material's own inline script reads localStorage unguarded as the page loads
    assert "unavailable" in page.inner_text(".tt-notices") and "kept in this tab only" in page.inner_text(".tt-notices")
    set_editor(page, TENSOR.reference_source())
    assert run_tests(page)["state"] == "passed"
    assert page.inner_text(".tt-saved").startswith("Kept in this tab only")
    assert page.evaluate("window.tinytorch.state.code('01').code") == TENSOR.reference_source()
    assert "still alive 42" in scratch(page, "print('still alive', 6 * 7)")
    assert not page.tt_errors


def test_storage_filling_up_mid_session_warns_and_keeps_both_copies(server, browser_profile):
    """Storage works at first, then is full: the page warns, the last saved copy stays in storage untouched, the
    newer code is kept in the tab, and once there is room again the next save goes through."""
    context = browser_profile()
    context.add_init_script("""const setItem = Storage.prototype.setItem;
        Storage.prototype.setItem = function (key, value) {
            if (window.__storageFull) throw new DOMException('quota exceeded in this test', 'QuotaExceededError');
            return setItem.call(this, key, value);
        };""")
    page = open_module(context, server.url + PAGE)
    save_text(page, "# saved version\n")
    assert saved_code(page) == "# saved version\n"
    page.evaluate("window.__storageFull = true")
    save_text(page, "# newer version\n")
    page.wait_for_selector(".tt-notice.warning")
    assert "is full" in page.inner_text(".tt-notices")
    assert saved_code(page) == "# saved version\n"
    assert page.evaluate("window.tinytorch.state.code('01').code") == "# newer version\n"
    assert "still alive 42" in scratch(page, "print('still alive', 6 * 7)")
    page.evaluate("window.__storageFull = false")
    save_text(page, "# room again\n")
    assert saved_code(page) == "# room again\n" and page.inner_text(".tt-saved") == "Saved"


def test_corrupt_or_foreign_saved_data_is_kept_aside_with_a_notice(server, browser_profile):
    """Under the app's keys: a non-JSON string, a JSON object of another app, and a record of the right schema
    whose fields have the wrong types. None crashes a page: each is moved aside under another key (the raw text
    kept exactly), the page says so, and the module starts from its starter."""
    context = browser_profile()
    page = context.new_page()
    page.goto(server.url)  # a page of the site that reads no saved work, to put the bad data in place from
    bad = {"module/01": "{this is not JSON", "progress": json.dumps({"app": "another app", "items": [1, 2]}),
           "module/02": json.dumps({"schema": 1, "code": 42})}
    page.evaluate("""bad => { for (const [key, raw] of Object.entries(bad))
        localStorage.setItem(PREFIX + key, raw); }""".replace("PREFIX", json.dumps(PREFIX)), bad)
    page = open_module(context, server.url + "modules/02-activations/")
    page.wait_for_function("document.querySelectorAll('.tt-notice.warning').length === 3")
    notices = page.inner_text(".tt-notices")
    assert "saved code for module 01" in notices and "saved code for module 02" in notices
    assert "saved progress" in notices and "Nothing was deleted" in notices
    aside = page.evaluate("""() => Object.fromEntries(Object.entries(localStorage)
        .filter(([key]) => key.includes(':unreadable:')))""")
    assert sorted(aside.values()) == sorted(bad.values())
    assert page.evaluate("window.tinytorch.workbench.editor.text") == curriculum.module("02").starter_source()
    assert page.inner_text(".tt-source-summary") == "01 reference"
    set_editor(page, "# starting over\n")
    assert "still alive 42" in scratch(page, "print('still alive', 6 * 7)")
    assert saved_code(page, "02") == "# starting over\n"
    assert not page.tt_errors

    page.evaluate("raw => localStorage.setItem(window.tinytorch.store.prefix + 'progress', raw)",
                  json.dumps({"schema": 1, "modules": {}, "milestones": {"1958": {"seconds": "<b>soon</b>"}}}))
    page.goto(server.url + "progress/")
    page.wait_for_selector(".tt-notice.warning")
    assert "saved progress could not be read" in page.inner_text(".tt-progress-page")
    assert page.locator("tr[data-milestone='1958'][data-state='not-run']").count() == 1
    assert not page.tt_errors


def test_two_tabs_editing_one_module_lose_nothing_silently(server, browser_profile):
    """Two tabs on module 01. A tab with no unsaved edits follows the other's saves, with a notice and a button
    back to its own version. A tab with unsaved edits is warned before it saves over the other's version, with a
    button to load it; and the tab whose version was overwritten is told, with a button to bring it back."""
    context = browser_profile()
    first = open_module(context, server.url + PAGE)
    second = context.new_page()
    second.goto(server.url + PAGE)
    second.wait_for_function("window.tinytorch && window.tinytorch.runtime.state === 'ready'",
                             timeout=BOOT_TIMEOUT_MS)
    original = second.evaluate("window.tinytorch.workbench.editor.text")

    save_text(first, "# first tab\n")
    second.wait_for_function("window.tinytorch.workbench.editor.text === '# first tab\\n'")
    assert "changed in another tab" in second.inner_text(".tt-notices")
    assert second.get_by_role("button", name="Back to the version you had here").count() == 1
    second.evaluate("document.querySelectorAll('.tt-notice').forEach((n) => n.remove())")
    assert original == STARTER

    # The second tab has unsaved edits when the first tab saves again.
    second.evaluate("window.tinytorch.workbench.editor.text = '# second tab\\n'")
    save_text(first, "# first tab, again\n")
    second.wait_for_selector(".tt-notice.warning")
    assert "also changed in another tab" in second.inner_text(".tt-notices")
    assert second.get_by_role("button", name="Load the other tab's version").count() == 1
    # ...and then saves over it: the first tab is told and can bring its version back.
    first.wait_for_function("window.tinytorch.workbench.editor.text === '# second tab\\n'")
    assert saved_code(first) == "# second tab\n"
    assert "changed in another tab" in first.inner_text(".tt-notices")
    first.get_by_role("button", name="Back to the version you had here").click()
    assert first.evaluate("window.tinytorch.workbench.editor.text") == "# first tab, again\n"
    second.wait_for_function("window.tinytorch.workbench.editor.text === '# first tab, again\\n'")
    assert saved_code(second) == "# first tab, again\n"
    assert second.get_by_role("button", name="Back to the version you had here").count() == 1
    assert_intact_and_alive(first, "# first tab, again\n")


def test_a_changed_starter_keeps_the_learners_code_and_says_so(server, browser_profile):
    """Code saved against an older starter (a new site version changed it): the learner's code is kept as it
    was, and the page announces the change and can show the new starter."""
    page = open_module(browser_profile(), server.url + PAGE)
    page.evaluate("window.tinytorch.state.saveCode('01', '# written against the old starter\\n', 'an-older-hash')")
    page.reload()
    page.wait_for_function("window.tinytorch && window.tinytorch.runtime.state === 'ready'")
    note = page.locator(".tt-notice.note")
    assert "starter changed" in note.inner_text() and "Your code is kept" in note.inner_text()
    note.locator("summary").click()
    assert TENSOR.starter_source().splitlines()[1] in note.locator("pre").inner_text()
    assert page.evaluate("window.tinytorch.state.code('01').starterHash") == "an-older-hash"
    assert_intact_and_alive(page, "# written against the old starter\n")


# --- importing a backup on the Progress page ---------------------------------------------------------------------
def open_progress_with_work(context, server):
    """The Progress page, with some work saved to compare against after a refused import."""
    page = context.pages[0] if context.pages else context.new_page()
    page.tt_errors = []
    page.on("pageerror", lambda e: page.tt_errors.append(str(e)))
    page.goto(server.url + "progress/")
    page.wait_for_function("window.tinytorch && window.tinytorch.progress")
    page.evaluate("window.tinytorch.state.saveCode('01', '# keep me\\n', 'x')")
    page.reload()
    page.wait_for_selector("tr[data-module='01'][data-state='started']")
    return page


def storage_snapshot(page):
    return page.evaluate("JSON.stringify(Object.entries(localStorage).sort())")


def import_file(page, path):
    """Choose `path` in the import field and return the message the page then shows."""
    page.evaluate("window.tinytorch.progress.message.replaceChildren()")
    page.set_input_files(".tt-import-file", str(path))
    page.wait_for_selector(".tt-notices .failure, .tt-notices .success")
    return page.inner_text(".tt-notices")


def test_a_huge_import_is_refused_by_its_size_before_it_is_read(server, browser_profile, tmp_path):
    """A 100 MB file: refused at once by its size, without a byte of it read into the page; nothing changes."""
    context = browser_profile()
    context.add_init_script("""window.__reads = 0;
        for (const [proto, names] of [[Blob.prototype, ['text', 'arrayBuffer', 'stream', 'slice']],
            [FileReader.prototype, ['readAsText', 'readAsArrayBuffer', 'readAsDataURL', 'readAsBinaryString']]]) {
            for (const name of names) {
                const original = proto[name];
                proto[name] = function (...args) { window.__reads += 1; return original.apply(this, args); };
            }
        }""")
    page = open_progress_with_work(context, server)
    before = storage_snapshot(page)
    page.evaluate("window.__reads = 0")
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as f:
        f.truncate(100 * 1024 * 1024)
    message = import_file(page, huge)
    assert "too large (104.9 MB" in message and "Nothing was changed" in message
    assert page.evaluate("window.__reads") == 0
    assert storage_snapshot(page) == before


FORMAT = {"format": "tinytorch-browser-progress", "schema": 1}


@pytest.mark.parametrize("content, reason", [
    ("", "not valid JSON"),
    ("[1, 2, 3]", "not a TinyTorch course backup"),
    ("null", "not a TinyTorch course backup"),
    (json.dumps({**FORMAT, "schema": "1", "modules": {}, "progress": {}}), 'version "1"'),
    (json.dumps({**FORMAT, "modules": {"01": {"code": 42}}, "progress": {}}), "module 01 in the backup is damaged"),
    (json.dumps({**FORMAT, "modules": {}, "progress": {"modules": {"01": {"lastRun": [1, 2]}}}}),
     "progress in the backup is damaged"),
    (json.dumps({**FORMAT, "modules": {}, "progress": {"milestones": {"1958": {"seconds": "<b>soon</b>"}}}}),
     "progress in the backup is damaged"),
], ids=["empty", "array", "null", "schema-as-text", "code-not-text", "last-run-not-object", "seconds-not-number"])
def test_a_malformed_backup_is_refused_and_changes_nothing(server, browser_profile, tmp_path, content, reason):
    """Backups of the wrong shape (beyond those in test_course.py): each refused with a message saying what is
    wrong, and nothing in storage changes (a damaged progress record would otherwise break the pages)."""
    page = open_progress_with_work(browser_profile(), server)
    before = storage_snapshot(page)
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    message = import_file(page, bad)
    assert reason in message and "Nothing was changed" in message
    assert storage_snapshot(page) == before
    assert not page.tt_errors


def test_html_in_an_imported_backup_is_only_ever_text(server, browser_profile, tmp_path):
    """A backup whose fields (and file name) hold HTML and script: nothing executes, on the Progress page or on
    the module page, and the learner-provided text appears as text."""
    payload = "<img src=x onerror=window.__pwned=1>"
    script = "<script>window.__pwned=1</script>"
    code = f"# {payload}\n# {script}\nprint('{payload}')\n"
    backup = {**FORMAT, "exportedAt": payload + script,
              "modules": {"01": {"code": code, "starterHash": script, "updatedAt": payload}},
              "progress": {"modules": {"01": {"started": True, "passed": False, "passedAt": payload,
                                              "source": payload, "lastRun": {"passed": 1, "total": 2, "at": script}}},
                           "milestones": {"1958": {"value": 0.5, "passed": False, "stopped": False, "error": payload,
                                                   "seconds": 3, "metric": script, "at": payload}}}}
    path = tmp_path / f"{payload}.json"
    path.write_text(json.dumps(backup))
    context = browser_profile()
    page = open_progress_with_work(context, server)
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    message = import_file(page, path)
    assert f"from {payload}.json" in message, message
    assert dialogs and "Replace the work" in dialogs[0]

    def assert_nothing_ran(page):
        time.sleep(0.5)  # an injected image would have failed to load and run its handler by now
        assert page.evaluate("window.__pwned") is None
        assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
        assert page.evaluate("[...document.scripts].some((s) => s.text.includes('__pwned'))") is False

    assert_nothing_ran(page)
    assert page.get_attribute("tr[data-module='01']", "data-state") == "started"
    assert "last run 1/2" in page.inner_text("tr[data-module='01']")
    assert "not reached" in page.inner_text("tr[data-milestone='1958']")

    page = open_module(context, server.url + PAGE)
    assert_nothing_ran(page)
    assert page.evaluate("window.tinytorch.workbench.editor.text") == code
    assert payload in page.input_value(".tt-editor:not(.tt-scratch-editor) textarea")
    page.click(".tt-editor:not(.tt-scratch-editor) textarea")  # and in CodeMirror, once the learner reaches the editor
    page.wait_for_selector(".tt-editor:not(.tt-scratch-editor) .cm-content")
    assert payload in page.inner_text(".tt-editor .cm-content")
    said = run_file(page)
    assert payload in said
    assert_nothing_ran(page)
    assert_intact_and_alive(page, code)
    assert not page.tt_errors
