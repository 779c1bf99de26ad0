"""Run a module's pytest tests against a learner's package and report every test as data.

The same function runs in the tab and behind `python -m tinytorch_wasm check`.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys
import time
import warnings
from pathlib import Path

import pytest

from . import curriculum
from .package import forget_package
from .tracebacks import format_exception

MESSAGE_LIMIT = 2000  # characters of a failure message kept for the page
# pytest without the plugins a course run never uses: each one wraps every test (logging, warnings, capture,
# faulthandler, ...) or the session, and in the tab that overhead, not the tests, was most of a run. Output of a
# test goes where the rest of the run's output goes (the log); fixtures such as tmp_path, monkeypatch, capsys and
# pytest.warns still work.
LEAN = ["--capture=no", *[arg for plugin in ("cacheprovider", "logging", "warnings", "faulthandler",
                                              "unraisableexception", "threadexception", "doctest", "junitxml",
                                              "pastebin", "legacypath", "stepwise", "setuponly", "setupplan",
                                              "debugging", "nose") for arg in ("-p", f"no:{plugin}")]]


class Reporter:
    """A pytest plugin that records each test's outcome, message and duration."""

    def __init__(self, module: curriculum.Module, package_dir: Path, on_result=None):
        self.module, self.package_dir = module, package_dir
        self.on_result = on_result  # called with each test's result as it comes, and how many of how many ran
        self.tests: list[dict] = []
        self.collection_errors: list[str] = []
        self.collected = 0
        self.interrupted = False  # a KeyboardInterrupt (Stop, the time limit) ended the tests early
        self._excinfo: dict[str, BaseException] = {}

    def pytest_configure(self, config):
        config.addinivalue_line("markers", "exercise(id): the exercise of the module this test checks")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session):
        """A Stop during the tests ends the run here, as a run with the rest not run. Left to pytest, a
        KeyboardInterrupt gets its whole stack formatted with source (a second in the tab, while the page waits to
        know whether Python took the interrupt)."""
        try:
            return (yield)
        except session.Interrupted:
            raise  # pytest's own stop (its shouldstop), not the learner's Stop
        except KeyboardInterrupt:
            self.interrupted = True
            return True

    @pytest.hookimpl(wrapper=True)
    def pytest_keyboard_interrupt(self, excinfo):
        """A Stop before the tests run (pytest starting, or importing the test file) ends the run in pytest's own
        way, which formats the whole stack with every frame's arguments: 0.1-0.2 s in the tab, seconds on a loaded
        machine, while the page waits for Python to answer the interrupt. Only the frame it landed in is formatted."""
        shown = excinfo.traceback.filter(excinfo)  # without frames that hide themselves (__tracebackhide__)
        excinfo.traceback = (shown or excinfo.traceback)[-1:]
        return (yield)

    def pytest_collection_finish(self, session):
        self.collected = len(session.items)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if call.excinfo is not None and report.failed:
            self._excinfo[item.nodeid] = call.excinfo.value
        marker = item.get_closest_marker("exercise")
        report.exercise = marker.args[0] if marker else None
        return report

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and not report.passed):
            error = self._excinfo.get(report.nodeid)
            outcome = report.outcome if report.when == "call" else ("skipped" if report.skipped else "error")
            self.tests.append({
                "id": report.nodeid.split("::", 1)[-1],
                "exercise": report.exercise,
                "outcome": outcome,
                "duration": round(report.duration, 6),
                "message": _message(error, report)[:MESSAGE_LIMIT],
                "traceback": format_exception(error, self.package_dir)[:MESSAGE_LIMIT * 2] if error else "",
            })
            if self.on_result:
                self.on_result(self.tests[-1], len(self.tests), self.collected)

    def pytest_collectreport(self, report):
        if report.failed:
            self.collection_errors.append(str(report.longrepr)[-MESSAGE_LIMIT:])


def _import_learner_file(module: curriculum.Module, package_dir: Path) -> str | None:
    """Import the learner's file first, so an error in it is shown as theirs, not as pytest's collection trace."""
    try:
        importlib.import_module(module.package_path.removesuffix(".py").replace("/", "."))
    except KeyboardInterrupt:
        raise  # Stop: reported as stopped, not as an error in the file
    except BaseException as exc:  # noqa: BLE001 - any error at import is the learner's to see
        return format_exception(exc, package_dir)
    return None


@contextlib.contextmanager
def _clean_environment():
    """pytest reads options and plugins from the environment: run it without any. The learner's file, imported just
    before, could have put some there (and on CPython the caller's own PYTEST_ADDOPTS must not leak in)."""
    saved = dict(os.environ)
    for name in [n for n in os.environ if n.startswith("PYTEST_")]:
        del os.environ[name]
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _message(error: BaseException | None, report) -> str:
    if error is None:
        return "" if report.passed else str(report.longrepr).strip().splitlines()[-1]
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return text


def run_module_tests(module_id: str | curriculum.Module, package_dir: Path, *, test_files=None, rootdir=None,
                     reporter: Reporter | None = None, extra_args=(), on_result=None) -> dict:
    """Run one module's tests with `package_dir` first on sys.path; return a JSON-ready result. `on_result` sees
    each test's result as it comes (the tab streams them to the page).

    The grader (tinytorch_wasm/grading) runs the same function with the instructor's `test_files` too, its own
    `reporter` and a temporary folder of its own in `extra_args`."""
    module = module_id if isinstance(module_id, curriculum.Module) else curriculum.module(module_id)
    package_dir = Path(package_dir).resolve()
    reporter = reporter or Reporter(module, package_dir, on_result)
    # --tb=native: the page shows the Reporter's tracebacks, and pytest's default ones cost a second per failure in
    # the tab (and minutes for a deep recursion, whose frames it compares pairwise).
    args = [*map(str, test_files or [module.test_file]), *LEAN, "--import-mode=importlib", "-q", "--tb=native",
            "--rootdir", str(rootdir or module.folder), "-c", str(Path(__file__).with_name("pytest.ini")),
            *extra_args]
    log = io.StringIO()
    sys.path.insert(0, str(package_dir))
    forget_package()
    _forget_test_modules()
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            import_error = _import_learner_file(module, package_dir)
            if import_error:
                reporter.collection_errors.append(import_error)
                exit_code = int(pytest.ExitCode.NO_TESTS_COLLECTED)
            else:
                with _clean_environment(), warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("default")  # once per place, into the log (pytest's plugin is off)
                    exit_code = int(pytest.main(args, plugins=[reporter]))
                for w in caught:
                    log.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno))
    finally:
        sys.path.remove(str(package_dir))
        forget_package()
    return summarise(module, reporter, exit_code, time.perf_counter() - started, log.getvalue())


def _forget_test_modules() -> None:
    """pytest keeps imported test files in sys.modules; a stale one would still hold the previous Tensor."""
    folder = str(curriculum.CURRICULUM)
    for name, mod in list(sys.modules.items()):
        if (getattr(mod, "__file__", None) or "").startswith(folder):
            del sys.modules[name]


def summarise(module: curriculum.Module, reporter: Reporter, exit_code: int, seconds: float, log: str) -> dict:
    counts = {k: sum(t["outcome"] == k for t in reporter.tests) for k in ("passed", "failed", "error", "skipped")}
    exercises = []
    for exercise in [*module.exercises, curriculum.Exercise(id=None, title="Other checks")]:
        mine = [t for t in reporter.tests if t["exercise"] == exercise.id]
        if mine or exercise.id is not None:
            exercises.append({"id": exercise.id, "title": exercise.title,
                              "passed": sum(t["outcome"] == "passed" for t in mine), "total": len(mine)})
    ran = len(reporter.tests)
    stopped = reporter.interrupted or exit_code == pytest.ExitCode.INTERRUPTED
    # Every collected test must have run and passed: code that ends the session early (pytest.exit) is no pass.
    all_passed = (exit_code == 0 and not stopped and not reporter.collection_errors and counts["passed"] > 0
                  and counts["passed"] == ran == reporter.collected)
    return {
        "module": module.id,
        "passed": all_passed,
        "stopped": stopped,
        "counts": {**counts, "not_run": max(reporter.collected - ran, 0), "total": max(reporter.collected, ran)},
        "duration": round(seconds, 4),
        "exercises": exercises,
        "tests": reporter.tests,
        "collection_errors": reporter.collection_errors,
        "log": log[-4000:],
    }
