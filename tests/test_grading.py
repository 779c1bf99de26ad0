"""The grader on CPython: every hostile or broken submission fails with a reason and touches nothing else; honest
learners get exactly what the tab's own harness gives them; the exports are read with the one shared schema."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinytorch_wasm import course as courses
from tinytorch_wasm import curriculum
from tinytorch_wasm.grading import export, grader, reports
from tinytorch_wasm.grading.scoring import Weights, criteria_lines
from tinytorch_wasm.package import assemble
from tinytorch_wasm.testing import run_module_tests

from conftest import ROOT

TENSOR = curriculum.module("01")
REFERENCE = TENSOR.reference_source()
STARTER = TENSOR.starter_source()
PRIVATE_TEST = '''import numpy as np
import pytest
from tinytorch.core.tensor import Tensor


@pytest.mark.exercise("1.3")
def test_matmul_of_two_squares():
    assert np.allclose((Tensor([[1.0, 2.0], [3.0, 4.0]]) @ Tensor([[5.0, 6.0], [7.0, 8.0]])).data,
                       [[19, 22], [43, 50]])


def test_the_instructor_knows_the_sum():
    assert Tensor([1.0, 2.0, 3.0]).sum().data == pytest.approx(6.0)
'''
OUTSIDE = Path("/tmp/tinytorch-grading-drill-was-here")


def export_of(code: dict, progress=None) -> dict:
    return {"format": "tinytorch-browser-progress", "schema": 1, "exportedAt": "2026-11-30T12:00:00Z",
            "modules": {k: {"code": v, "starterHash": "x", "updatedAt": "2026-11-30"} for k, v in code.items()},
            "progress": progress or {"modules": {}, "milestones": {}}}


@pytest.fixture(scope="module")
def private_tests(tmp_path_factory):
    folder = tmp_path_factory.mktemp("instructor-tests")
    (folder / "01").mkdir()
    (folder / "01" / "test_private.py").write_text(PRIVATE_TEST)
    (folder / "grading.toml").write_text('test = 1\nmilestone = 5\n[exercises]\n"1.3" = 10\n')
    return folder


@pytest.fixture(scope="module")
def machinery(private_tests):
    """One grader for every drill: two slots, module 01 and the perceptron only, short test time limit."""
    options = grader.Options(course=courses.load(), modules=["01"], private_tests=private_tests, jobs=2,
                             test_seconds=20, memory_mb=1024, progress=False)
    g = grader.Grader(options)
    grader._calibrate(g)
    yield g
    g.close()


@pytest.mark.parametrize("misses", [1, 2])
def test_a_reference_that_misses_once_gets_a_second_run_and_a_second_miss_stops_grading(private_tests, misses):
    """A reference can miss on a loaded machine (a wall-clock criterion); it runs once more, alone, and only a
    second miss means the grader cannot grade here."""
    options = grader.Options(course=courses.load(), modules=["01"], private_tests=private_tests, jobs=1,
                             test_seconds=20, memory_mb=1024, progress=False)
    g = grader.Grader(options)
    runs, real_run = [], g.run

    def missing_run(learner, kind, target, files, **kw):
        runs.append((kind, target))
        if kind == "module" and runs.count((kind, target)) <= misses:
            files = {**files, "01": STARTER}
        return real_run(learner, kind, target, files, **kw)

    g.run = missing_run
    try:
        if misses == 1:
            grader._calibrate(g)
            assert len(g.expected[("module", "01")]) >= 15
        else:
            with pytest.raises(grader.GradingError, match="module 01"):
                grader._calibrate(g)
        assert runs.count(("module", "01")) == 2 and runs.count(("private", "01")) == 1
    finally:
        g.close()


def run01(g, code, kind="module", seconds=None):
    reply = g.run("drill", kind, "01", {"01": code}, seconds=seconds)
    return grader.interpret(kind, "01", reply, [t["node"] for t in g.expected[(kind, "01")]])


def test_calibration_knows_every_test_the_reference_passes(machinery):
    own = machinery.expected[("module", "01")]
    assert len(own) >= 15 and all(t["exercise"] for t in own)
    assert [t["id"] for t in machinery.expected[("private", "01")]] == [
        "test_matmul_of_two_squares", "test_the_instructor_knows_the_sum"]


@pytest.mark.parametrize("source", [REFERENCE, STARTER, curriculum.module("01").mistakes[0].apply(REFERENCE)],
                         ids=["reference", "starter", "mistake"])
def test_the_rerun_gives_what_the_tabs_harness_gives(machinery, tmp_path, source):
    """Confinement changes no honest outcome: each test's outcome equals testing.run_module_tests, unconfined."""
    assemble(tmp_path, {"01": source}, upto="01")
    truth = {t["id"]: t["outcome"] for t in run_module_tests("01", tmp_path)["tests"]}
    unit = run01(machinery, source)
    assert not unit.reasons and unit.grader_problem is None, unit.reasons or unit.grader_problem
    assert {t["id"]: t["outcome"] for t in unit.tests} == truth


# Each hostile submission: module 01's reference (so its tests would pass) with something prepended that runs when
# the module is imported, and the words its reason must contain.
HOSTILE = {
    "fork": ("import os\nos.fork()\n", "os.fork"),
    "subprocess": ("import subprocess\nsubprocess.run(['true'])\n", "subprocess.Popen"),
    "os-system": ("import os\nos.system('true')\n", "os.system"),
    "thread": ("import threading\nthreading.Thread(target=print).start()\n", "starting a thread"),
    "write-outside": (f"open({str(OUTSIDE)!r}, 'w').write('x')\n", "outside the scratch folder"),
    "read-tests": ("open({tests!r} + '/01/test_private.py').read()\n", "outside what a submission may read"),
    "list-tests": ("import os\nos.listdir({tests!r})\n", "outside what a submission may read"),
    "read-reference-files": ("import pathlib\nprint(sorted(pathlib.Path({repo!r}).glob('*.toml')))\n"
                             "open({repo!r} + '/build.py').read()\n", "outside what a submission may read"),
    "network": ("import socket\nsocket.create_connection(('127.0.0.1', 9))\n", "socket."),
    "ctypes": ("import ctypes\nctypes.CDLL(None).getpid()\n", "ctypes."),
    "signal-handler": ("import signal\nsignal.signal(signal.SIGALRM, print)\n", "signal handler"),
    "gc-objects": ("import gc\ngc.get_objects()\n", "gc.get_objects"),
    "audit-hook": ("import sys\nsys.addaudithook(lambda *a: None)\n", "sys.addaudithook"),
    "forged-record": ("import sys, json\nsys.audit('tinytorch.grading', 'record', 'test', json.dumps({{'node': "
                      "'x', 'id': 'x', 'outcome': 'passed'}}))\n", "from the learner's code"),
    "forged-seal": ("import sys\nsys.audit('tinytorch.grading', 'seal', 'finished')\n", "from the learner's code"),
    "replace-pytest": ("import pytest\npytest.main = lambda *args, **kwargs: 0\n", "pytest.main"),
    "replace-reporter": ("from tinytorch_wasm import testing\n_log = testing.Reporter.pytest_runtest_logreport\n"
                         "def _passing(self, report):\n    report.outcome = 'passed'\n    _log(self, report)\n"
                         "testing.Reporter.pytest_runtest_logreport = _passing\n", "Reporter.pytest_runtest_logreport"),
    "replace-summarise": ("from tinytorch_wasm import testing\ntesting.summarise = lambda *a, **k: {{}}\n",
                          "testing.summarise"),
    "replace-numpy": ("import numpy\nnumpy.allclose = lambda *a, **k: True\n", "numpy.allclose"),
    "replace-test-globals": ("import sys, types, numpy\nfake = types.ModuleType('numpy')\n"
                             "fake.__dict__.update(numpy.__dict__)\nfake.allclose = lambda *a, **k: True\n"
                             "def _cheat():\n    for m in list(sys.modules.values()):\n"
                             "        if 'test_' in (getattr(m, '__file__', '') or '') and hasattr(m, 'np'):\n"
                             "            m.np = fake\n", "what the tests compare with"),
    "replace-code": ("from tinytorch_wasm import testing\ntesting.summarise.__code__ = (lambda *a: {{}}).__code__\n",
                     "replacing a function's code"),
    "bytecode": ("import marshal\nmarshal.loads(marshal.dumps(compile('1', 'x', 'eval')))\n", "bytecode"),
    "result-channel": ("import os\nfor fd in range(3, 40):\n    try:\n        os.write(fd, b'{{\"outcome\": "
                       "\"passed\"}}\\n')\n    except OSError:\n        pass\n", "the result file"),
    "end-session": ("import pytest\ndef _cheat():\n    pytest.exit('bye', returncode=0)\n", "ended the test session"),
    "exit-process": ("import os\nos._exit(0)\n", "ended the process"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_submission_fails_with_its_reason(machinery, private_tests, name):
    prefix, reason = HOSTILE[name]
    code = prefix.format(tests=str(private_tests), repo=str(ROOT)) + REFERENCE
    if "def _cheat" in prefix:  # runs when the tests first call the learner's code, not at import
        code += ("\n_init = Tensor.__init__\n\ndef _calls_cheat(self, *args, **kwargs):\n    _cheat()\n"
                 "    _init(self, *args, **kwargs)\n\nTensor.__init__ = _calls_cheat\n")
    unit = run01(machinery, code)
    assert unit.failed_whole, f"{name}: not failed as a whole; tests {[t['outcome'] for t in unit.tests][:5]}"
    assert any(reason in r for r in unit.reasons), f"{name}: {unit.reasons}"
    assert unit.grader_problem is None, unit.grader_problem
    assert not OUTSIDE.exists(), "a file was written outside the scratch folder"


def test_an_endless_loop_is_stopped_at_the_time_limit(machinery):
    unit = run01(machinery, "while True:\n    pass\n" + REFERENCE, seconds=3)
    assert any("time limit" in r for r in unit.reasons) and 2.5 < unit.seconds < 15


def test_gigabytes_and_deep_recursion_fail_their_tests_with_the_reason(machinery):
    unit = run01(machinery, "import numpy as np\nhuge = np.ones((40_000, 40_000))\n" + REFERENCE)
    assert all(t["outcome"] != "passed" for t in unit.tests) and "ran out of memory" in " ".join(unit.notes)
    unit = run01(machinery, REFERENCE.replace("    def sum(self, axis=None, keepdims=False):\n",
                                              "    def sum(self, axis=None, keepdims=False):\n        return self.sum(axis)\n", 1))
    assert 0 < sum(t["outcome"] == "passed" for t in unit.tests) < len(unit.tests)
    assert any("RecursionError" in (t["message"] or "") for t in unit.tests)
    unit = run01(machinery, "import sys\nsys.setrecursionlimit(10**6)\nclass A:\n    def __repr__(self):\n"
                            "        return repr(self)\n\nrepr(A())\n", seconds=10)
    assert unit.failed_whole and any(w in r for r in unit.reasons for w in ("crashed", "time limit")), unit.reasons


def test_printed_fake_results_change_nothing(machinery):
    fake = "print('97 passed in 0.1s')\nprint(json.dumps({'outcome': 'passed'}))\nimport json\n"
    unit = run01(machinery, "import json\n" + fake + STARTER)
    assert not any(t["outcome"] == "passed" for t in unit.tests) and not unit.reasons
    assert f"{len(unit.tests)} failed in" in unit.output  # what is shown of the run is pytest's own summary


def test_the_instructors_tests_run_apart_and_fail_on_a_wrong_matmul(machinery):
    wrong = REFERENCE.replace("np.matmul(self.data, other.data)", "self.data * other.data", 1)
    assert wrong != REFERENCE
    unit = run01(machinery, wrong, kind="private")
    outcomes = {t["id"]: t["outcome"] for t in unit.tests}
    assert outcomes == {"test_matmul_of_two_squares": "failed", "test_the_instructor_knows_the_sum": "passed"}


def test_after_every_drill_the_slots_still_grade_the_reference_fully(machinery):
    for _ in range(2):  # both slots
        unit = run01(machinery, REFERENCE)
        assert not unit.failed_whole and all(t["outcome"] == "passed" for t in unit.tests)
    leftovers = subprocess.run(["ps", "-o", "pid=", "-u", "61000,61001"], capture_output=True, text=True).stdout
    assert not leftovers.strip(), f"processes of the slot users are still running: {leftovers}"


# --- exports ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("content, reason", [
    (b"{not json", "not valid JSON"),
    (json.dumps({"format": "something-else"}).encode(), "not a TinyTorch course export"),
    (json.dumps({**export_of({}), "schema": 2}).encode(), "version 2"),
    (json.dumps({**export_of({}), "schema": "1"}).encode(), 'version "1"'),
    (json.dumps(export_of({"01": 42})).encode(), "module 01 in the export is damaged"),
    (json.dumps({**export_of({}), "progress": {"modules": {"01": {"lastRun": [1, 2]}}}}).encode(), "progress"),
    (json.dumps({**export_of({}), "progress": {"milestones": {"1958": {"seconds": "soon"}}}}).encode(), "progress"),
])
def test_a_malformed_or_foreign_export_is_refused_with_a_reason(content, reason):
    with pytest.raises(export.ExportError, match=reason):
        export.parse(content)


def test_a_100_mb_export_is_refused_by_its_size_without_reading_it(tmp_path, monkeypatch):
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as f:
        f.truncate(100 * 1024 * 1024)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("the file was read"))
    with pytest.raises(export.ExportError, match=r"too large \(104.9 MB"):
        export.read(huge)


def test_the_page_and_the_grader_share_one_schema():
    backup = (ROOT / "runtime" / "src" / "backup.js").read_text()
    assert "tinytorch_wasm/grading/export.schema.json" in backup, "backup.js must read the shared schema"
    assert "MAX_BYTES = 5" not in backup and "x-max-bytes" in backup


# --- a class ---------------------------------------------------------------------------------------------------
def test_a_class_mixing_honest_broken_and_hostile_exports(machinery, private_tests, tmp_path):
    """The class summary has a row per learner with a reason for every failure; an honest learner's score is the
    same as when graded alone, and a claim the re-run does not bear out is flagged."""
    mistake = curriculum.module("01").mistakes[0].apply(REFERENCE)
    learners = {
        "honest": export_of({"01": REFERENCE}),
        "partial": export_of({"01": mistake}),
        "claims-too-much": export_of({"01": STARTER}, {"modules": {"01": {"passed": True, "lastRun": {
            "passed": 97, "total": 97}}}, "milestones": {}}),
        "hostile": export_of({"01": "import os\nos.fork()\n" + REFERENCE}),
    }
    for name, document in learners.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(document))
    (tmp_path / "broken.json").write_text("{not json")
    options = machinery.options
    paths = grader.expand([tmp_path])
    result = grader.ClassResult(learners=grader._grade(machinery, paths, [p.stem for p in paths]),
                                expected=machinery.expected, modules=machinery.modules(), isolation={})
    rows = {r["learner"]: r for r in reports.summarise(result, options.course, options.weights)}
    weights = Weights.load(private_tests / "grading.toml")
    assert weights.exercises == {"1.3": 10}
    best = rows["honest"]["max"]
    assert rows["honest"]["score"] == best == rows["honest"]["modules"]["01"]["max"]
    assert 0 < rows["partial"]["score"] < best
    assert rows["claims-too-much"]["score"] == 0
    assert "the export claims all tests passing; the re-run passes 0" in rows["claims-too-much"]["modules"]["01"]["claim"]
    assert rows["hostile"]["score"] == 0 and "os.fork" in " ".join(reports.problems(rows["hostile"]))
    assert rows["broken"]["score"] == 0 and "not valid JSON" in rows["broken"]["error"]
    alone = grader._grade(machinery, [tmp_path / "partial.json"], ["partial"])
    assert reports.summarise(grader.ClassResult(alone, machinery.expected, machinery.modules(), {}),
                             options.course, options.weights)[0]["score"] == rows["partial"]["score"]
    table = reports.class_csv(list(rows.values()), result, options.course).splitlines()
    assert table[0].startswith("learner,file,total,max,01 tensor") and len(table) == 6


def test_command_line_grades_and_writes_csv_and_json(tmp_path):
    (tmp_path / "ada.json").write_text(json.dumps(export_of({"01": REFERENCE})))
    done = subprocess.run([sys.executable, "-m", "tinytorch_wasm", "grade", str(tmp_path / "ada.json"),
                           "--modules", "01", "--jobs", "1", "--quiet", "--csv", str(tmp_path / "c.csv"),
                           "--json", str(tmp_path / "c.json"), "--feedback", str(tmp_path / "fb")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "c.json").read_text())
    ada = summary["learners"][0]
    assert ada["score"] == ada["max"] > 0 and "Module 01 Tensor" in (tmp_path / "fb" / "ada.txt").read_text()
    assert "ada," in (tmp_path / "c.csv").read_text()


def test_gradescope_says_what_to_upload_when_the_submission_holds_no_export(tmp_path):
    from tinytorch_wasm.grading import gradescope
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "tensor.py").write_text(REFERENCE)
    assert gradescope.main(["--root", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    gradescope.check(results)
    assert results["score"] == 0 and "Export all work" in results["output"] and "tensor.py" not in results["output"]


def test_a_test_file_importing_a_package_module_whole_is_not_called_tampering(tmp_path, monkeypatch):
    # The harness forgets the learner's package after every run; module 19's tests hold `tinytorch.core.autograd`
    # itself. A forgotten package module is not tampering; a standard module replaced by another object is.
    from tinytorch_wasm.grading.unit import _test_globals_changed
    test_file = tmp_path / "test_whole.py"
    fake = type(sys)("test_whole")
    fake.__file__ = str(test_file)
    fake.autograd = type(sys)("tinytorch.core.autograd")
    fake.json = json
    monkeypatch.setitem(sys.modules, "test_whole", fake)
    monkeypatch.delitem(sys.modules, "tinytorch.core.autograd", raising=False)
    assert _test_globals_changed({str(test_file)}) == []
    monkeypatch.setitem(sys.modules, "json", type(sys)("json"))
    assert _test_globals_changed({str(test_file)}) == ["test_whole.json"]


def test_a_milestone_with_several_criteria_says_which_were_missed():
    """The 2018 milestone's headline is the fraction of criteria reached ("criteria_reached 0.750"): the grade says
    which criterion was missed, with its measured value."""
    milestone = {"criteria": [
        {"metric": "latency_speedup", "label": "Faster", "goal": "at_least", "target": 2.0, "unit": "x",
         "value": 2.41, "reached": True},
        {"metric": "accuracy_drop", "label": "As accurate", "goal": "at_most", "target": 0.01, "unit": "percent",
         "value": 0.0, "reached": True},
        {"metric": "kv_cache_speedup", "label": "KV cache", "goal": "at_least", "target": 1.08, "unit": "x",
         "value": 1.051, "reached": False},
        {"metric": "size_reduction", "label": "Smaller", "goal": "at_least", "target": 8.0, "unit": "x",
         "value": None, "reached": False}]}
    assert criteria_lines(milestone) == [
        "✓ Faster: latency_speedup 2.41 (at least 2)",
        "✓ As accurate: accuracy_drop 0 (at most 0.01)",
        "✗ KV cache: kv_cache_speedup 1.05 (at least 1.08)",
        "✗ Smaller: size_reduction not measured (at least 8)"]
    assert criteria_lines({"criteria": milestone["criteria"][:1]}) == []  # one criterion: the headline says it


@pytest.fixture(scope="module")
def perceptron_grader():
    """Two slots, modules 01-04 and the milestone they complete, the 1958 perceptron."""
    g = grader.Grader(grader.Options(course=courses.load(), modules=["01", "02", "03", "04"], jobs=2,
                                     memory_mb=1024, progress=False))
    grader._calibrate(g)
    yield g
    g.close()


@pytest.mark.parametrize("timed", [True, False])
def test_a_milestone_that_missed_only_in_time_is_measured_again_alone(perceptron_grader, monkeypatch, tmp_path,
                                                                       timed):
    """Beside other units a speed-up can miss (the 2018 milestone did, in CI): a milestone whose only misses are
    criteria measured in time runs once more with no other unit running, and that run counts. Any other miss
    stands. The first run here is made to miss: its sealed record is rewritten on its way out."""
    g = perceptron_grader
    runs, real_run = [], g.run

    def run(learner, kind, target, files, **kw):
        reply = real_run(learner, kind, target, files, **kw)
        runs.append(kind)
        if kind == "milestone" and runs.count("milestone") == 1:
            for name, payload in reply["result"]["records"]:
                if name == "milestone":
                    payload["criteria"] = [{**c, "value": 0.5, "reached": False, "timed": timed}
                                           for c in payload["criteria"]]
                    payload["value"] = 0.5
        return reply

    monkeypatch.setattr(g, "run", run)
    (tmp_path / "ada.json").write_text(json.dumps(export_of(
        {m: curriculum.module(m).reference_source() for m in ("01", "02", "03", "04")})))
    learners = grader._grade(g, [tmp_path / "ada.json"], ["ada"])
    row = reports.summarise(grader.ClassResult(learners, g.expected, g.modules(), {}), g.options.course,
                            g.options.weights)[0]
    perceptron = row["milestones"]["1958"]
    assert runs.count("milestone") == (2 if timed else 1)
    assert perceptron["reached"] is timed and (perceptron["value"] == 0.5) is not timed
    note = "beside other units it missed accuracy: accuracy 0.5 (at least 0.9), so it was measured again"
    assert (note in row["feedback"]) is timed
