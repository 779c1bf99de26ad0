"""Where time and memory go in a snippet: cProfile for time per function, tracemalloc for the memory peak."""
from __future__ import annotations

import cProfile
import pstats
import tracemalloc
from pathlib import Path

from .running import execute

HARNESS = str(Path(__file__).resolve().parent)
TOP = 15


def profile(code: str, filename: str, package_dir: Path) -> dict:
    profiler = cProfile.Profile()
    tracemalloc.start()
    profiler.enable()
    try:
        outcome = execute(code, filename, package_dir)
    finally:
        profiler.disable()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    rows = []
    for (file, line, name), (_, calls, own, total, _) in pstats.Stats(profiler).stats.items():
        if file.startswith((HARNESS, "<frozen")) or name in ("<built-in method builtins.exec>", "disable"):
            continue  # the harness's and the import system's frames are not the learner's cost
        shown = Path(file).name if file.startswith("/") else file
        rows.append({"function": name, "where": f"{shown}:{line}" if line else shown, "calls": calls,
                     "own_ms": round(own * 1e3, 3), "total_ms": round(total * 1e3, 3)})
    rows.sort(key=lambda r: r["total_ms"], reverse=True)
    return {**outcome, "peak_bytes": peak, "functions": rows[:TOP]}
