"""What one grading unit runs, in the child the zygote forked for it: confinement first, then the learner's code.

Four kinds of unit, all re-run on the learner's code (nothing in their export is believed):
- "module":    the module's own tests, the very file the tab runs (testing.run_module_tests)
- "private":   the instructor's extra tests for that module, compiled before the gate and never readable as files
- "milestone": the milestone's run (milestones.run_milestone), counted only when its value reaches the target
- "result":    a module's re-check of a JSON result the export claims (results.recheck), such as the capstone's
               submission: measured again, and every claimed figure compared with the re-measured one

Every outcome leaves through the audit hook (sandbox.install) as a record; the hook seals them into the result file.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import sys
from pathlib import Path

from .. import curriculum, milestones, results, testing
from . import sandbox

MESSAGE_LIMIT = 2000


def _sender():
    """send(kind, payload): a record for the hook, with the functions it needs bound before the gate."""
    audit, dumps, event = sys.audit, json.dumps, sandbox.EVENT

    def send(kind, payload):
        audit(event, "record", kind, dumps(payload, default=str))

    def seal(outcome):
        audit(event, "seal", outcome)
    return send, seal


class SealedReporter(testing.Reporter):
    """The tab's reporter, each observation also sent to the hook as it happens."""

    def __init__(self, module, package_dir, send, finder=None):
        super().__init__(module, package_dir)
        self._send, self._finder = send, finder

    def pytest_sessionstart(self, session):
        if self._finder is not None:  # ahead of pytest's assertion rewriter, which would import the placeholders
            if self._finder in sys.meta_path:
                sys.meta_path.remove(self._finder)
            sys.meta_path.insert(0, self._finder)

    def pytest_collection_finish(self, session):
        super().pytest_collection_finish(session)
        self._send("collected", [item.nodeid for item in session.items])

    def pytest_runtest_logreport(self, report):
        before = len(self.tests)
        super().pytest_runtest_logreport(report)
        if len(self.tests) > before:
            self._send("test", {**self.tests[-1], "node": report.nodeid})

    def pytest_keyboard_interrupt(self, excinfo):
        self._send("interrupted", type(excinfo.value).__name__)


class PrecompiledTests(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the instructor's test modules from code compiled before the gate: pytest imports them by path, and
    the files at those paths are empty placeholders."""

    def __init__(self, compiled: dict[str, object]):
        self.compiled = compiled

    def find_spec(self, name, path=None, target=None):
        for folder in path or ():
            candidate = os.path.join(folder, name.rpartition(".")[2] + ".py")
            if candidate in self.compiled:
                return importlib.util.spec_from_loader(name, self, origin=candidate)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__file__ = module.__spec__.origin
        exec(self.compiled[module.__spec__.origin], module.__dict__)


def compile_private_tests(sources: dict[str, str], folder: Path) -> PrecompiledTests:
    """Write an empty placeholder for each test file and compile its source with pytest's assertion rewriting."""
    from _pytest.assertion.rewrite import rewrite_asserts
    import ast
    folder.mkdir(parents=True, exist_ok=True)
    compiled = {}
    for name, source in sources.items():
        path = str(folder / name)
        Path(path).write_text("# the instructor's tests are not readable while grading\n")
        tree = ast.parse(source, filename=path)
        rewrite_asserts(tree, source.encode(), Path(path))
        compiled[path] = compile(tree, path, "exec", dont_inherit=True)
    return PrecompiledTests(compiled)


def _test_globals_changed(test_files: set[str]) -> list[str]:
    """Modules and library functions a test module's names should point to, and no longer do."""
    changed = []
    for name, module in list(sys.modules.items()):
        if getattr(module, "__file__", None) not in test_files:
            continue
        for key, value in list(vars(module).items()):
            if isinstance(value, type(sys)):
                current = sys.modules.get(value.__name__)
                # The harness itself forgets the learner's package after each run (a test may import a tinytorch
                # module whole, as module 19's do); a module replaced by another object is still caught.
                forgotten = current is None and value.__name__.split(".")[0] == "tinytorch"
                if current is not value and not forgotten:
                    changed.append(f"{name}.{key}")
            elif callable(value) and isinstance(getattr(value, "__module__", None), str) and \
                    value.__module__.split(".")[0] in ("numpy", "pytest", "_pytest", "math"):
                source = sys.modules.get(value.__module__)
                if source is not None and hasattr(source, getattr(value, "__name__", "")) and \
                        getattr(source, value.__name__) is not value and getattr(value, "__module__", "") != name:
                    changed.append(f"{name}.{key}")
    return changed


def _ends(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """The start and the end of a long text (what the code printed first, pytest's summary last)."""
    if len(text) <= limit:
        return text
    return text[:limit // 2] + f"\n[... {len(text) - limit} characters left out ...]\n" + text[-limit // 2:]


def _run_tests(job, send, package_dir: Path, scratch: Path, private: PrecompiledTests | None):
    module = curriculum.module(job["target"])
    reporter = SealedReporter(module, package_dir, send, private)
    test_files = sorted(private.compiled) if private else [str(module.test_file)]
    rootdir = Path(test_files[0]).parent if private else module.folder
    result = testing.run_module_tests(module, package_dir, test_files=test_files, rootdir=rootdir,
                                      reporter=reporter, extra_args=["--basetemp", str(scratch / "pytest-tmp"),
                                                                     "-p", "no:faulthandler"])
    # From the reporter and pytest's log, not from `result`: learner code may have replaced what builds it.
    log = result.get("log", "") if isinstance(result, dict) else ""
    send("finished", {"collection_errors": [str(e)[-MESSAGE_LIMIT:] for e in reporter.collection_errors],
                      "log": _ends(str(log))})
    send("test_globals_changed", _test_globals_changed({str(Path(f).resolve()) for f in test_files} |
                                                       set(test_files)))
    return "finished"


def _run_milestone(job, send, package_dir: Path):
    result = milestones.run_milestone(job["target"], package_dir)
    last = result["history"][-1] if result["history"] else None
    send("milestone", {**{k: result[k] for k in ("metric", "value", "target", "passed", "seconds", "stopped",
                                                  "criteria")},
                       "error": (result["error"] or "")[-MESSAGE_LIMIT:] or None, "last": last})
    return "finished"


def _run_result(job, send, package_dir: Path):
    """The module's re-check of a claimed result (already checked against its schema by the grader); an error in
    the learner's code is the result, not a crash."""
    from ..running import package_on_path
    from ..tracebacks import format_exception
    with package_on_path(package_dir):
        try:
            report = results.recheck(job["target"].split(":", 1)[1], job["claimed"])
        except BaseException as exc:  # noqa: BLE001 - the learner's error is reported, then sealed
            report = {"error": format_exception(exc, package_dir)[-MESSAGE_LIMIT:]}
    send("result", report)
    return "finished"


def child_main(job: dict, context: dict, output_fd: int, result_fd: int, nonce_fd: int) -> None:
    """The forked child: confine, open the gate, run the unit, seal. Never returns."""
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        keep = sorted({0, 1, 2, result_fd, nonce_fd})
        for low, high in zip([-1, *keep], [*keep, 1 << 16]):
            if high > low + 1:  # closerange(n, n) would close every descriptor (CPython passes n-1 to close_range)
                os.closerange(low + 1, high)
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", buffering=1, errors="backslashreplace", closefd=False)
        sys.stderr = open(2, "w", buffering=1, errors="backslashreplace", closefd=False)
        scratch = Path(job["scratch"])
        package_dir = scratch / "package"
        sources = job.pop("private_tests", None)
        private = compile_private_tests(sources, scratch / "instructor-tests") if sources else None
        del sources
        uid = context["uid"]
        if uid is not None:
            for folder, dirs, files in os.walk(scratch):
                for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                    if not name.startswith(str(scratch / "instructor-tests")):
                        os.lchown(name, uid, uid)
        if context["network"]:
            sandbox.enter_empty_network()
        sandbox.apply_limits(sandbox.Limits(**job["limits"]), own_user=uid is not None)
        if uid is not None:
            sandbox.become(uid, context["keep_read_search"])
        os.chdir(scratch)
        os.environ.update(HOME=str(scratch), TMPDIR=str(scratch / "tmp"))
        (scratch / "tmp").mkdir(exist_ok=True)
        sys.dont_write_bytecode = True
        send, seal = _sender()
        policy = sandbox.Policy(scratch, context["readable_dirs"], context["readable_files"],
                                context["hidden_dirs"])
        sandbox.install(policy, context["trusted"], context["fingerprint"], result_fd, nonce_fd,
                        json.dumps(job["unit"]))
    except BaseException as exc:  # noqa: BLE001 - the grader's own failure: say so on the unit's output
        print(f"the grader could not confine this unit: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        os._exit(70)
    # The gate: from here on the learner's code may run.
    outcome = "error"
    try:
        if job["kind"] == "milestone":
            outcome = _run_milestone(job, send, package_dir)
        elif job["kind"] == "result":
            outcome = _run_result(job, send, package_dir)
        else:
            outcome = _run_tests(job, send, package_dir, scratch, private)
    except BaseException as exc:  # noqa: BLE001 - recorded, then sealed like any outcome
        try:
            import traceback
            send("grader_error", "".join(traceback.format_exception(exc))[-MESSAGE_LIMIT:])
        except BaseException:  # noqa: BLE001
            pass
    seal(outcome)
    os._exit(71)  # only reached if the hook refused the seal
