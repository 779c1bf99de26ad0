"""Run the learner's file or a snippet with their package importable, reporting errors as they would read them."""
from __future__ import annotations

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


def execute(code: str, filename: str, package_dir: Path) -> dict:
    """Run `code` as __main__; never raises: every outcome becomes data the page can show."""
    started = time.perf_counter()
    error, stopped = None, False
    with package_on_path(package_dir):
        try:
            compiled = compile_snippet(code, filename)
            exec(compiled, {"__name__": "__main__", "__file__": filename})
        except KeyboardInterrupt:
            stopped, error = True, "Stopped: KeyboardInterrupt."
        except SystemExit as exc:
            if exc.code not in (None, 0):
                error = f"Your code called sys.exit({exc.code!r})."
        except MemoryError:
            error = ("MemoryError: your code asked for more memory than the tab can give. "
                     "Try smaller arrays; the runtime is still usable.")
        except RecursionError as exc:
            error = format_exception(exc, package_dir) + "(Too deep a recursion: look for a call with no end.)\n"
        except BaseException as exc:  # noqa: BLE001 - the learner's error is a result, not a crash
            error = format_exception(exc, package_dir)
    return {"ok": error is None, "error": error, "stopped": stopped,
            "duration": round(time.perf_counter() - started, 4)}


def run_file(path: Path, package_dir: Path) -> dict:
    """The learner's module file, run as a script (its `if __name__ == "__main__":` block runs too)."""
    return execute(Path(path).read_text(), str(path), package_dir)
