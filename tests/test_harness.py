"""The harness on CPython: package assembly, the test reporter, running code, profiling, and the command line."""
import json
import os
import subprocess
import sys
import time

import pytest

from tinytorch_wasm import curriculum, tab
from tinytorch_wasm.curriculum import Mistake, starter_from, strip_markers
from tinytorch_wasm.package import assemble
from tinytorch_wasm.profiling import imported_modules, profile
from tinytorch_wasm.running import execute, run_file
from tinytorch_wasm.testing import run_module_tests

from conftest import ROOT

TENSOR = curriculum.module("01")
MARKED = '''def f(x):
    # TODO: double it
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION
'''


def test_starter_replaces_each_solution_block_with_a_stub():
    assert starter_from(MARKED) == ('def f(x):\n    # TODO: double it\n'
                                    '    raise NotImplementedError("TODO: your code here")\n')
    assert strip_markers(MARKED) == "def f(x):\n    # TODO: double it\n    return 2 * x\n"


def test_a_mistake_must_match_exactly_once():
    assert Mistake("m", "why", "2 * x", "x").apply("return 2 * x") == "return x"
    with pytest.raises(ValueError, match="occurs 0 times"):
        Mistake("m", "why", "3 * x", "x").apply("return 2 * x")


def test_assemble_uses_the_learners_file_and_the_reference_elsewhere(tmp_path):
    used = assemble(tmp_path, {"01": "MINE = True\n"}, upto="02")
    assert used == {"01": "mine", "02": "reference"}
    assert (tmp_path / "tinytorch/core/tensor.py").read_text() == "MINE = True\n"
    assert (tmp_path / "tinytorch/__init__.py").exists() and (tmp_path / "tinytorch/core/__init__.py").exists()
    assemble(tmp_path, upto="01")
    assert not (tmp_path / curriculum.module("02").package_path).exists(), "a stale later module survived"


def test_assemble_up_to_a_module_the_course_lacks_stops_before_the_next(tmp_path):
    ids = [m.id for m in curriculum.modules()]
    used = assemble(tmp_path, upto="02x")  # sorts between 02 and 03, as 17 does while only 16 and 19 exist
    assert list(used) == [i for i in ids if i <= "02x"] == ["01", "02"], f"assembled {list(used)}"


def test_reference_passes_with_results_grouped_by_exercise(tmp_path):
    assemble(tmp_path, upto="01")
    result = run_module_tests("01", tmp_path)
    assert result["passed"] and result["counts"]["failed"] == 0 and result["counts"]["total"] >= 15
    assert [e["id"] for e in result["exercises"]] == [e.id for e in TENSOR.exercises]
    assert all(e["passed"] == e["total"] > 0 for e in result["exercises"])
    assert all(t["duration"] >= 0 and t["outcome"] == "passed" for t in result["tests"])


def test_starter_fails_with_the_learners_message(tmp_path):
    assemble(tmp_path, {"01": TENSOR.starter_source()}, upto="01")
    result = run_module_tests("01", tmp_path)
    assert not result["passed"] and result["counts"]["passed"] == 0
    failure = result["tests"][0]
    assert failure["message"] == "NotImplementedError: TODO: your code here"
    assert 'File "tinytorch/core/tensor.py", line' in failure["traceback"]
    assert "_pytest" not in failure["traceback"] and "tinytorch_wasm" not in failure["traceback"]


def test_a_syntax_error_is_reported_at_its_line(tmp_path):
    source = TENSOR.reference_source().replace("def numpy(self):", "def numpy(self)", 1)
    line = source.splitlines().index("    def numpy(self)") + 1
    assemble(tmp_path, {"01": source}, upto="01")
    result = run_module_tests("01", tmp_path)
    assert not result["passed"] and result["counts"]["total"] == 0
    assert f'"tinytorch/core/tensor.py", line {line}' in result["collection_errors"][0]
    assert "SyntaxError" in result["collection_errors"][0]


def test_tests_see_the_newest_file_in_one_process(tmp_path):
    """The tab reruns tests in one interpreter: a fixed file must not be shadowed by the broken one before."""
    assemble(tmp_path, {"01": TENSOR.starter_source()}, upto="01")
    assert not run_module_tests("01", tmp_path)["passed"]
    assemble(tmp_path, {"01": TENSOR.reference_source()}, upto="01")
    assert run_module_tests("01", tmp_path)["passed"]


def test_errors_show_only_the_learners_frames_with_editor_line_numbers(tmp_path):
    assemble(tmp_path, upto="01")
    result = execute("from tinytorch.core.tensor import Tensor\n\nTensor([[1, 2]]) @ Tensor([[1, 2]])\n",
                     "<scratch>", tmp_path)
    assert not result["ok"]
    assert 'File "<scratch>", line 3' in result["error"]
    assert 'File "tinytorch/core/tensor.py"' in result["error"]
    assert "ValueError: cannot multiply shapes (1, 2) and (1, 2)" in result["error"]
    assert "tinytorch_wasm" not in result["error"]


@pytest.mark.parametrize("code, expected", [
    ("import sys\nsys.exit(3)", "sys.exit(3)"),
    ("def f():\n    return f()\nf()", "recursion"),
    ("raise KeyboardInterrupt", "Stopped"),
])
def test_hard_exits_become_messages(tmp_path, code, expected):
    result = execute(code, "<scratch>", tmp_path)
    assert not result["ok"] and expected in result["error"]


def test_running_the_learners_file_runs_its_main_block(tmp_path, capsys):
    source = TENSOR.reference_source() + '\nif __name__ == "__main__":\n    print("main", Tensor([1, 2]).sum())\n'
    assemble(tmp_path, {"01": source}, upto="01")
    assert run_file(tmp_path / TENSOR.package_path, tmp_path)["ok"]
    assert "main Tensor(3.0" in capsys.readouterr().out


def test_profile_names_the_learners_functions(tmp_path):
    assemble(tmp_path, upto="01")
    result = profile("from tinytorch.core.tensor import Tensor\nimport numpy as np\n"
                     "for _ in range(20):\n    Tensor(np.ones((64, 64))) @ Tensor(np.ones((64, 64)))\n",
                     "<scratch>", tmp_path)
    assert result["ok"] and result["peak_bytes"] > 64 * 64 * 4
    names = [row["function"] for row in result["functions"]]
    assert "matmul" in names and not any("tinytorch_wasm" in row["where"] for row in result["functions"])


def test_profile_measures_the_snippet_not_the_imports_and_lists_the_learners_frames_first(tmp_path):
    """Importing the package (reading and compiling its files) is set-up, outside the measurement: no import-system
    or file-reading frame is listed, and the learner's own frames (snippet, package) come before NumPy's."""
    assemble(tmp_path, upto="01")
    result = profile("import numpy as np\nfrom tinytorch.core.tensor import Tensor\n"
                     "def work():\n    a = Tensor(np.ones((64, 64)))\n    for _ in range(5):\n        a @ a\n"
                     "work()\n", "<scratch>", tmp_path)
    rows = result["functions"]
    assert result["ok"] and rows, result
    mine = [r["mine"] for r in rows]
    assert mine == sorted(mine, reverse=True) and mine[0], "the learner's frames come first"
    assert {"work", "matmul", "__matmul__"} <= {r["function"] for r in rows if r["mine"]}
    assert any(r["where"].startswith("tinytorch/core/tensor.py:") for r in rows)
    for r in rows:
        assert not any(word in r["function"] for word in ("invalidate_caches", "read", "open_code", "_lsprof",
                                                         "compile", "__exit__", "_find_and_load")), r
    assert imported_modules("import a.b\nfrom c import d, e\nfrom . import f\n") == ["a.b", "c", "c.d", "c.e"]


def test_profile_of_a_failing_snippet_reports_its_error(tmp_path):
    assemble(tmp_path, upto="01")
    for code, error in (("1 / 0", "ZeroDivisionError"), ("def (", "SyntaxError"),
                        ("import no_such_module_here", "ModuleNotFoundError")):
        result = profile(code, "<scratch>", tmp_path)
        assert not result["ok"] and error in result["error"], result


def test_tab_requests_round_trip_as_json(tmp_path, monkeypatch):
    monkeypatch.setattr(tab, "PACKAGE_DIR", tmp_path)
    reply = json.loads(tab.handle(json.dumps({"action": "test", "payload": {
        "module": "01", "learner": {"01": TENSOR.reference_source()}}})))
    assert reply["ok"] and reply["result"]["passed"] and reply["result"]["sources"] == {"01": "mine"}
    reply = json.loads(tab.handle(json.dumps({"action": "run", "payload": {
        "module": "01", "learner": {}, "code": "print(1 / 0)"}})))
    assert reply["ok"] and "ZeroDivisionError" in reply["result"]["error"]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "tinytorch_wasm", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True)


def test_command_line_assembles_and_checks(tmp_path):
    assert _cli("assemble", tmp_path, "--upto", "01").returncode == 0
    checked = _cli("check", tmp_path, "--module", "01", "--json")
    assert checked.returncode == 0 and json.loads(checked.stdout)["passed"]
    (tmp_path / TENSOR.package_path).write_text(TENSOR.starter_source())
    checked = _cli("check", tmp_path, "--module", "01")
    assert checked.returncode == 1 and "0 passed" in checked.stdout


def test_events_to_the_page_carry_no_nan(monkeypatch):
    from tinytorch_wasm import host, plot
    sent = []
    monkeypatch.setattr(host, "page", lambda: type("Host", (), {"emit": staticmethod(lambda k, j: sent.append(j))}))
    plot.line([1, 2], {"loss": [float("nan"), float("inf")]}, title="diverged")
    assert json.loads(sent[0])["series"]["loss"] == [None, None]


# --- what learner code can do to the harness: runaway recursion, exits, tampering --------------------------------

def test_a_runaway_recursion_is_reported_in_a_few_lines_and_quickly(tmp_path):
    """100 000 frames: CPython's traceback module alone needs seconds, and the tab is ten times slower."""
    code = "import sys\nsys.setrecursionlimit(100_000)\ndef f(n):\n    return f(n + 1)\nf(0)\n"
    started = time.perf_counter()
    result = execute(code, "<scratch>", tmp_path)
    assert time.perf_counter() - started < 5
    assert "RecursionError" in result["error"] and "[Previous line repeated" in result["error"]
    assert len(result["error"].splitlines()) < 20


def test_sys_exit_zero_is_a_note_not_an_error(tmp_path, capsys):
    result = execute("print('before')\nimport sys\nsys.exit()\nprint('after')", "<scratch>", tmp_path)
    assert result["ok"] and "called sys.exit()" in result["note"]
    assert capsys.readouterr().out == "before\n"


@pytest.mark.parametrize("code", ["raise MemoryError()", "raise ValueError('array is too big; more than 2 GB')"])
def test_running_out_of_memory_explains_the_tabs_limits(tmp_path, code):
    result = execute(code, "<scratch>", tmp_path)
    assert not result["ok"] and "more memory than the tab can give" in result["error"]


def test_reading_stdin_says_why_it_cannot():
    with pytest.raises(RuntimeError, match="cannot wait for typing"):
        tab._NoStdin().readline()


def test_the_fingerprint_sees_replaced_functions_and_changed_files(tmp_path, monkeypatch):
    from tinytorch_wasm import testing
    from tinytorch_wasm.integrity import Fingerprint
    (tmp_path / "test_x.py").write_text("def test_x(): pass\n")
    (tmp_path / "keep.py").write_text("")
    fingerprint = Fingerprint(tmp_path)
    assert fingerprint.changed() == []
    monkeypatch.setattr(testing, "summarise", lambda *args: {"passed": True})
    monkeypatch.setattr(testing.Reporter, "pytest_runtest_logreport", lambda self, report: None)
    monkeypatch.setattr(testing.run_module_tests, "__code__", (lambda module_id, package_dir: {}).__code__)
    (tmp_path / "test_x.py").write_text("def test_y(): pass\n")
    (tmp_path / "keep.py").unlink()
    (tmp_path / "conftest.py").write_text("")
    assert fingerprint.changed() == [
        "tinytorch_wasm.testing.Reporter.pytest_runtest_logreport", "tinytorch_wasm.testing.summarise",
        "tinytorch_wasm.testing.run_module_tests.__code__", f"{tmp_path}/conftest.py (added)",
        f"{tmp_path}/keep.py (deleted)", f"{tmp_path}/test_x.py (changed)"]
    monkeypatch.undo()


def test_honest_test_runs_change_nothing_the_fingerprint_watches(tmp_path):
    """As in the tab: fingerprint, then run tests (failing and passing); a fresh process, with no outer pytest."""
    script = f"""
import sys
from pathlib import Path
from tinytorch_wasm import curriculum, tab
from tinytorch_wasm.integrity import Fingerprint
from tinytorch_wasm.package import assemble
from tinytorch_wasm.testing import run_module_tests
tab.warm_up()
fingerprint = Fingerprint()
for source in (curriculum.module("01").starter_source(), curriculum.module("01").reference_source()):
    assemble(Path({str(tmp_path)!r}), {{"01": source}}, upto="01")
    run_module_tests("01", Path({str(tmp_path)!r}))
print(fingerprint.changed())
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_ending_the_session_early_is_no_pass(tmp_path):
    """pytest.exit(returncode=0) from learner code ends the run with exit code 0 after the tests so far passed."""
    source = TENSOR.reference_source() + ("\nimport pytest\n\ndef _leave(self, other):\n"
                                          "    pytest.exit('done', returncode=0)\n\nTensor.matmul = _leave\n")
    assemble(tmp_path, {"01": source}, upto="01")
    result = run_module_tests("01", tmp_path)
    assert not result["passed"] and result["counts"]["failed"] == 0
    assert result["counts"]["not_run"] > 0 and result["counts"]["total"] >= 15


def test_a_stop_during_the_tests_keeps_the_results_so_far_and_is_no_pass(tmp_path):
    """KeyboardInterrupt (the page's Stop, the time limit) inside a test ends the run as stopped: the results so far
    are kept, the rest counted as not run, and the run does not pass."""
    source = TENSOR.reference_source() + ("\n\ndef _stopped(self, other):\n    raise KeyboardInterrupt\n\n"
                                          "Tensor.matmul = _stopped\n")
    assemble(tmp_path, {"01": source}, upto="01")
    result = run_module_tests("01", tmp_path)
    assert result["stopped"] and not result["passed"]
    assert result["counts"]["passed"] > 0 and result["counts"]["not_run"] > 0 and result["counts"]["failed"] == 0


def test_a_stop_while_pytest_collects_ends_the_run_as_stopped_formatting_one_frame(tmp_path, monkeypatch):
    """The Stop can land before the first test, while pytest imports the test file: the run ends as stopped, and
    pytest's report of the interrupt formats only the frame it landed in, not the whole stack with every frame's
    arguments (seconds in the tab on a loaded machine, while the page waits for Python to answer)."""
    from _pytest._code import code
    formatted, getrepr = [], code.ExceptionInfo.getrepr
    monkeypatch.setattr(code.ExceptionInfo, "getrepr",
                        lambda self, *args, **kw: (formatted.append(len(self.traceback)), getrepr(self, *args, **kw))[1])
    assemble(tmp_path / "pkg", {"01": TENSOR.reference_source()}, upto="01")
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_stopped.py").write_text("def stop():\n    raise KeyboardInterrupt\n\nstop()\n\n"
                                           "def test_never():\n    pass\n")
    result = run_module_tests("01", tmp_path / "pkg", test_files=[tests / "test_stopped.py"], rootdir=tests)
    assert result["stopped"] and not result["passed"] and result["counts"]["passed"] == 0
    assert formatted == [1] and "test_stopped.py:2: KeyboardInterrupt" in result["log"], (formatted, result["log"])


def test_pytest_options_in_the_environment_do_not_reach_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTEST_ADDOPTS", "-k nothing_is_called_this")
    source = "import os\nos.environ['PYTEST_PLUGINS'] = 'no_such_plugin'\n" + TENSOR.reference_source()
    assemble(tmp_path, {"01": source}, upto="01")
    result = run_module_tests("01", tmp_path)
    assert result["passed"] and result["counts"]["total"] >= 15
    assert os.environ["PYTEST_ADDOPTS"] == "-k nothing_is_called_this", "the caller's environment was not restored"


def test_gradient_check_accepts_a_right_backward_and_names_a_wrong_one(tmp_path):
    from tinytorch_wasm.gradcheck import check_gradients
    from tinytorch_wasm.package import forget_package
    assemble(tmp_path, upto="06")
    sys.path.insert(0, str(tmp_path))
    try:
        from tinytorch.core.autograd import Function, enable_autograd, record
        from tinytorch.core.tensor import Tensor
        enable_autograd()

        class Square(Function):
            def __init__(self, x, slope):
                super().__init__(x)
                self.slope = slope

            def apply(self, grad_output):
                return (grad_output * self.slope * self.inputs[0].data,)

        def square(slope):
            return lambda x: record(Tensor(x.data * x.data), Square(x, slope))

        x = Tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], requires_grad=True)
        check_gradients(square(2.0), [x], "x * x")
        check_gradients(square(2.0), [Tensor(x.data, requires_grad=True)], "x * x, sampled", samples=2)
        with pytest.raises(AssertionError, match="x \\* x, wrong: the gradient of input 0 .* is wrong"):
            check_gradients(square(1.0), [Tensor(x.data, requires_grad=True)], "x * x, wrong")
        with pytest.raises(AssertionError, match="must require grad"):
            check_gradients(lambda x: Tensor(x.data * 2), [Tensor(x.data, requires_grad=True)], "detached")
    finally:
        sys.path.remove(str(tmp_path))
        forget_package()


@pytest.mark.parametrize("shipped", [False, True], ids=["kept", "shipped"])
def test_the_tab_rewrites_a_test_file_once_until_its_text_changes(tmp_path, shipped):
    """The tab keeps pytest's rewritten test code in memory (it may write no bytecode cache): the second run of the
    same file rewrites nothing, a changed file is rewritten and its new test runs. The course's own files come
    rewritten by the build (rewrite_course): not even the first run rewrites them. A fresh process, as in the tab."""
    script = f"""
import shutil, sys
from pathlib import Path
from _pytest.assertion import rewrite
rewrites = []
rewrite_anew = rewrite._rewrite_test
rewrite._rewrite_test = lambda fn, config: (rewrites.append(fn.name), rewrite_anew(fn, config))[1]
sys.dont_write_bytecode = True
from tinytorch_wasm import curriculum, rewriting, tab
from tinytorch_wasm.package import assemble
from tinytorch_wasm.testing import run_module_tests
root = Path({str(tmp_path)!r})
tests = root / "curriculum" / "tests"
tests.mkdir(parents=True)
shutil.copy(curriculum.module("01").test_file, tests / "test_tensor.py")
if {shipped}:  # as the build ships them in the course archive, then the tab looks there
    for name, code in rewriting.rewrite_course(root).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(code)
    rewrites.clear()
    rewriting.remember(root)
tab.warm_up()
assemble(root / "pkg", {{"01": curriculum.module("01").reference_source()}}, upto="01")
runs = []
for extra in ("", "", "\\n\\ndef test_added_later():\\n    assert 1 + 1 == 3\\n"):
    with open(tests / "test_tensor.py", "a") as f:
        f.write(extra)
    for name in [n for n, m in sys.modules.items() if str(getattr(m, "__file__", "")).startswith(str(tests))]:
        del sys.modules[name]  # as the harness forgets the course's own test files
    result = run_module_tests("01", root / "pkg", test_files=[tests / "test_tensor.py"], rootdir=tests)
    runs.append((result["counts"]["passed"], result["counts"]["failed"], len(rewrites)))
print(runs)
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (passed, failed, rewrites), again, changed = eval(done.stdout.strip().splitlines()[-1])
    first = 0 if shipped else 1
    assert passed >= 15 and failed == 0 and rewrites == first
    assert again == (passed, 0, first)
    assert changed == (passed, 1, first + 1)
