"""Tracebacks a learner can read: only the frames of their own code (and the test that called it)."""
from __future__ import annotations

import traceback
from pathlib import Path

from .curriculum import CURRICULUM

HARNESS = Path(__file__).resolve().parent


def _is_own(filename: str, roots: list[Path]) -> bool:
    if filename.startswith("<scratch"):
        return True
    path = Path(filename).resolve()
    return any(root == path or root in path.parents for root in roots)


def _shown_name(filename: str, roots: list[Path]) -> str:
    path = Path(filename)
    for root in roots:
        try:
            return str(path.resolve().relative_to(root))
        except ValueError:
            continue
    return filename


def format_exception(exc: BaseException, package_dir: Path | None = None) -> str:
    """The exception with the learner's frames only; line numbers are those of the editor."""
    roots = [Path(package_dir).resolve()] if package_dir else []
    roots.append(CURRICULUM / "modules")
    if isinstance(exc, SyntaxError):
        # A syntax error has no frame in the learner's file: its location is in the exception itself.
        lines = traceback.format_exception_only(type(exc), exc)
        return "".join(lines).replace(str(exc.filename), _shown_name(str(exc.filename), roots))
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_own(f.filename, roots)]
    out = ["Traceback (your code, most recent call last):\n"] if frames else []
    for frame in frames:
        out.append(f'  File "{_shown_name(frame.filename, roots)}", line {frame.lineno}, in {frame.name}\n')
        if frame.line:
            out.append(f"    {frame.line.strip()}\n")
    out.extend(traceback.format_exception_only(type(exc), exc))
    return "".join(out)

