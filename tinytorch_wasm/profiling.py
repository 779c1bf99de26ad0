"""Where time and memory go in a snippet: cProfile for time per function, tracemalloc for the memory peak.

Only the snippet is measured. Putting the learner's package on the path and importing the modules the snippet
imports come first, unmeasured: that is the import system's work (reading files, compiling), paid once, not the
cost of the learner's code, and under a profiler it would dwarf it.
"""
from __future__ import annotations

import ast
import cProfile
import importlib
import pstats
import time
import tracemalloc
from pathlib import Path

from .running import execute

HARNESS = str(Path(__file__).resolve().parent)
TOP = 20


def imported_modules(code: str) -> list[str]:
    """The absolute imports in `code` (`import a.b`, `from a import b` gives a and a.b), in order."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []  # running it reports the error
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*")]
    return list(dict.fromkeys(names))


def _import_quietly(name: str) -> None:
    try:
        importlib.import_module(name)
    except Exception:  # noqa: BLE001 - not a module (`from m import function`) or broken: the snippet will say so
        pass


class _Measured:
    """Wraps the running of the snippet: imports what it imports first (unmeasured), then profiles the rest.
    A class in this file rather than a generator, so that no frame of it is counted as the learner's."""

    def __init__(self, code: str):
        self.code, self.profiler, self.seconds, self.peak = code, cProfile.Profile(), 0.0, 0

    def __call__(self):
        return self

    def __enter__(self):
        for name in imported_modules(self.code):
            _import_quietly(name)
        tracemalloc.start()
        self.started = time.perf_counter()
        self.profiler.enable()

    def __exit__(self, *exc):
        self.profiler.disable()
        self.seconds = time.perf_counter() - self.started
        self.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return False


def profile(code: str, filename: str, package_dir: Path) -> dict:
    measured = _Measured(code)
    outcome = execute(code, filename, package_dir, measure=measured)
    return {**outcome, "duration": round(measured.seconds, 4), "setup_duration": outcome["duration"],
            "peak_bytes": measured.peak, "functions": _rows(measured.profiler, Path(package_dir).resolve())}


def _rows(profiler: cProfile.Profile, package_dir: Path) -> list[dict]:
    """One row per function, the learner's own (the snippet and their package) first, each group by total time."""
    try:
        stats = pstats.Stats(profiler).stats
    except TypeError:  # nothing was recorded (the snippet failed before running)
        return []
    rows = []
    for (file, line, name), (_, calls, own, total, _) in stats.items():
        if file.startswith((HARNESS, "<frozen")) or name == "<built-in method builtins.exec>" or "_lsprof" in name:
            continue  # the harness's and the import system's frames are not the learner's cost
        mine = file.startswith("<scratch") or file.startswith(str(package_dir) + "/")
        shown = (str(Path(file).relative_to(package_dir)) if file.startswith(str(package_dir) + "/")
                 else Path(file).name if file.startswith("/") else file)
        rows.append({"function": name, "where": f"{shown}:{line}" if line else shown, "calls": calls, "mine": mine,
                     "own_ms": round(own * 1e3, 3), "total_ms": round(total * 1e3, 3)})
    rows.sort(key=lambda r: (not r["mine"], -r["total_ms"]))
    return rows[:TOP]
