"""Run the learner's file or a snippet with their package importable, reporting errors as they would read them."""
from __future__ import annotations

import contextlib
import linecache
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from .package import forget_package
from .tracebacks import format_exception


@contextmanager
def package_on_path(package_dir: Path):
    sys.path.insert(0, str(package_dir))
    forget_package()
    try:
        yield
    finally:
        sys.path.remove(str(package_dir))


def compile_snippet(code: str, filename: str):
    # Register the snippet so tracebacks can show its lines, as they do for files.
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    return compile(code, filename, "exec")


MEMORY_HINT = ("(Your code asked for more memory than the tab can give: its Python is 32-bit WebAssembly, where one "
               "array holds at most 2 GB and all memory together about 4 GB. Try smaller arrays; Python is still "
               "usable.)\n")


def execute(code: str, filename: str, package_dir: Path, measure=None) -> dict:
    """Run `code` as __main__; never raises: every outcome becomes data the page can show.

    `measure`, a context manager factory, wraps only the running of the code (not putting the package on the path):
    profiling measures the learner's code and nothing else."""
    started = time.perf_counter()
    error, stopped, note = None, False, None
    with package_on_path(package_dir):
        try:
            compiled = compile_snippet(code, filename)
            with measure() if measure else contextlib.nullcontext():
                exec(compiled, {"__name__": "__main__", "__file__": filename})
        except KeyboardInterrupt:
            stopped, error = True, "Stopped: KeyboardInterrupt."
        except SystemExit as exc:
            status = "" if exc.code is None else repr(exc.code)
            note = f"Your code called sys.exit({status}): the lines after it did not run."
            if exc.code not in (None, 0):
                error, note = note, None
        except MemoryError as exc:
            error = format_exception(exc, package_dir) + MEMORY_HINT
        except RecursionError as exc:
            error = format_exception(exc, package_dir) + "(Too deep a recursion: look for a call with no end.)\n"
        except BaseException as exc:  # noqa: BLE001 - the learner's error is a result, not a crash
            error = format_exception(exc, package_dir)
            if isinstance(exc, ValueError) and "array is too big" in str(exc):  # NumPy's words for over 2 GB
                error += MEMORY_HINT
    return {"ok": error is None, "error": error, "stopped": stopped, "note": note,
            "duration": round(time.perf_counter() - started, 4)}


def run_file(path: Path, package_dir: Path) -> dict:
    """The learner's module file, run as a script (its `if __name__ == "__main__":` block runs too)."""
    return execute(Path(path).read_text(), str(path), package_dir)
