"""The worker's entry point: one JSON request in, one JSON reply out (runtime/src/worker.js calls `handle`).

Every request carries the learner's files, so a fresh worker (after Stop had to restart it) needs no other state.
"""
from __future__ import annotations

import builtins
import importlib
import io
import json
import pkgutil
import signal
import sys
from pathlib import Path

from . import artifacts, curriculum, host, rewriting
from .milestones import interact_milestone, run_milestone
from .milestones import milestone as find_milestone
from .package import assemble
from .profiling import profile
from .running import execute, run_file
from .testing import run_module_tests

PACKAGE_DIR = Path("/home/pyodide/learner")
ARTIFACTS_DIR = Path("/home/pyodide/artifacts")  # what the request carried from the browser's storage, and no more
NO_INPUT = "cannot wait for typing in the course runtime: give the value in your code instead."


def _no_input(prompt=""):
    raise RuntimeError(f"input() {NO_INPUT}")


class _NoStdin(io.TextIOBase):
    """sys.stdin: reading it says why, instead of Pyodide's bare I/O error."""

    def readable(self):
        return True

    def read(self, size=-1):
        raise RuntimeError(f"Reading sys.stdin {NO_INPUT}")

    readline = read


def _assemble(module: str, learner: dict) -> dict:
    return assemble(PACKAGE_DIR, learner, upto=module)


def _stop_taken(signum, frame):
    """Python's SIGINT handler in the tab: tells the page that Python took its Stop and is winding down, then raises
    KeyboardInterrupt as Python's own handler does. A Python that took the interrupt without raising it (seen on
    freshly started Pythons, cause unknown) says nothing, and the page interrupts it again (runtime/src/python.js)."""
    host.emit("stop-taken", {})
    raise KeyboardInterrupt


def warm_up() -> dict:
    builtins.input = _no_input
    sys.stdin = _NoStdin()
    signal.signal(signal.SIGINT, _stop_taken)
    import _pytest
    import numpy  # noqa: F401 - imported now so the first click is fast
    from . import kernels  # noqa: F401 - and so the integrity fingerprint covers the compiled kernels' Python side
    import pytest  # noqa: F401
    # pytest imports some of its parts only when it first runs: import them all now, so that the first run is
    # faster and the worker's integrity fingerprint (taken next) covers them.
    for part in pkgutil.walk_packages(_pytest.__path__, "_pytest."):
        importlib.import_module(part.name)
    rewriting.remember()
    return {}


def versions() -> dict:
    import numpy
    import pytest
    return {"python": sys.version.split()[0], "numpy": numpy.__version__, "pytest": pytest.__version__}


def run(module: str, learner: dict, code: str | None = None) -> dict:
    """Run the module's file (code=None) or a snippet, with the package assembled up to `module`."""
    sources = _assemble(module, learner)
    if code is None:
        result = run_file(PACKAGE_DIR / curriculum.module(module).package_path, PACKAGE_DIR)
    else:
        result = execute(code, "<scratch>", PACKAGE_DIR)
    return {**result, "sources": sources}


def test(module: str, learner: dict) -> dict:
    sources = _assemble(module, learner)
    return {**run_module_tests(module, PACKAGE_DIR, on_result=_stream_test), "sources": sources}


def _stream_test(test: dict, done: int, of: int) -> None:
    """Each test's outcome goes to the page as it comes: a learner sees the first results (and failures) while the
    rest still run; the whole result follows at the end."""
    host.emit("test", {"done": done, "of": of, "test": test})


def profile_code(module: str, learner: dict, code: str) -> dict:
    sources = _assemble(module, learner)
    return {**profile(code, "<scratch>", PACKAGE_DIR), "sources": sources}


def milestone(milestone: str, learner: dict, config: str | None = None) -> dict:
    """Run a milestone with the package up to the last module it needs: the learner's files, else the reference."""
    sources = _assemble(find_milestone(milestone).requires, learner)
    return {**run_milestone(milestone, PACKAGE_DIR, config=config), "sources": sources}


def interact(milestone: str, learner: dict, text: str) -> dict:
    """What the milestone's text box does after a run: its interact(text), with the same package as the run."""
    sources = _assemble(find_milestone(milestone).requires, learner)
    return {**interact_milestone(milestone, PACKAGE_DIR, text), "sources": sources}


ACTIONS = {"warm_up": warm_up, "versions": versions, "run": run, "test": test, "profile": profile_code,
           "milestone": milestone, "interact": interact}


def handle(request: str) -> str:
    message = json.loads(request)
    try:
        payload = dict(message["payload"])
        artifacts.unpack(payload.pop("artifacts", None), ARTIFACTS_DIR)  # any request may carry saved arrays
        with artifacts.using(ARTIFACTS_DIR):
            result = ACTIONS[message["action"]](**payload)
        return json.dumps({"ok": True, "result": result})
    except KeyboardInterrupt:
        return json.dumps({"ok": False, "stopped": True, "error": "Stopped: KeyboardInterrupt."})
    except BaseException as exc:  # noqa: BLE001 - reported to the page, which shows it
        from .tracebacks import format_exception
        return json.dumps({"ok": False, "error": format_exception(exc, PACKAGE_DIR)})
