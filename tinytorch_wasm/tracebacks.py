"""Tracebacks a learner can read: only the frames of their own code (and the test that called it)."""
from __future__ import annotations

import functools
import itertools
import linecache
import traceback
from pathlib import Path

from .curriculum import CURRICULUM

HARNESS = Path(__file__).resolve().parent
REPEATS_SHOWN = 3  # identical consecutive frames shown before the rest are counted, as CPython does
EDGE_FRAMES = 30   # frames shown at each end of a very long traceback (mutual recursion has no identical repeats)


def _is_own(filename: str, roots: tuple[Path, ...]) -> bool:
    if filename.startswith("<scratch"):
        return True
    path = Path(filename).resolve()
    return any(root == path or root in path.parents for root in roots)


def _shown_name(filename: str, roots: tuple[Path, ...]) -> str:
    path = Path(filename)
    for root in roots:
        try:
            return str(path.resolve().relative_to(root))
        except ValueError:
            continue
    return filename


def _own_frames(tb, roots: tuple[Path, ...]):
    """(filename, line, function) of each of the learner's frames. Walks the chain directly: a runaway recursion
    has 100 000 frames, too many for traceback.extract_tb or a path lookup per frame in the tab."""
    is_own = functools.lru_cache(maxsize=None)(lambda filename: _is_own(filename, roots))
    while tb is not None:
        code = tb.tb_frame.f_code
        if is_own(code.co_filename):
            yield code.co_filename, tb.tb_lineno or 0, code.co_name
        tb = tb.tb_next


def format_exception(exc: BaseException, package_dir: Path | None = None) -> str:
    """The exception with the learner's frames only; line numbers are those of the editor."""
    roots = (*([Path(package_dir).resolve()] if package_dir else []), CURRICULUM / "modules")
    if isinstance(exc, SyntaxError):
        # A syntax error has no frame in the learner's file: its location is in the exception itself.
        lines = traceback.format_exception_only(type(exc), exc)
        return "".join(lines).replace(str(exc.filename), _shown_name(str(exc.filename), roots))
    runs = [(frame, sum(1 for _ in same)) for frame, same in itertools.groupby(_own_frames(exc.__traceback__, roots))]
    if len(runs) > 2 * EDGE_FRAMES:
        runs = [*runs[:EDGE_FRAMES], (None, len(runs) - 2 * EDGE_FRAMES), *runs[-EDGE_FRAMES:]]
    out = ["Traceback (your code, most recent call last):\n"] if runs else []
    for frame, count in runs:
        if frame is None:
            out.append(f"  [... {count} more frames ...]\n")
            continue
        filename, lineno, name = frame
        line = linecache.getline(filename, lineno).strip()
        out.extend([f'  File "{_shown_name(filename, roots)}", line {lineno}, in {name}\n',
                    f"    {line}\n" if line else ""] * min(count, REPEATS_SHOWN))
        if count > REPEATS_SHOWN:
            out.append(f"  [Previous line repeated {count - REPEATS_SHOWN} more times]\n")
    out.extend(traceback.format_exception_only(type(exc), exc))
    return "".join(out)
