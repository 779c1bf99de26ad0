"""pytest's assertion rewriting of the course's test files, done once instead of at every run.

pytest rewrites a test file's asserts each time it imports it, unless it may keep a bytecode cache next to it, which
the tab forbids (no file under /course but the course's own). Rewriting was a third of a warm Run tests, and most
of what made a visit's first Run tests slower than the next ones. So in the tab (`remember`, from tab.warm_up):
- the course's own test files come rewritten in the course archive, by the build with the tab's own Python and
  pytest (runtime/rewrite-tests.mjs calls `rewrite_course`), keyed by path and text: a changed file misses;
- any other file pytest rewrites is kept in memory, for as long as its text is the same.
Only in the tab, before the integrity fingerprint: code that runs first could fill such a cache, and the grader
trusts nothing that ran before the tests.
"""
from __future__ import annotations

import functools
import hashlib
import marshal
import sys
from pathlib import Path

from .curriculum import CURRICULUM

SHIPPED = "rewritten"  # the course archive's folder of rewritten test files
REWRITTEN_FILES = ("test_*.py", "conftest.py")  # what pytest rewrites in the curriculum (its python_files, conftests)


def shipped_name(path: Path, source: bytes, tag: str | None = None) -> str:
    """Where the archive keeps the rewritten code of the file at `path` holding `source`, for Python and pytest
    `tag` (default: this one's, e.g. cpython-312-pytest-8.3.5)."""
    import pytest
    tag = tag or f"{sys.implementation.cache_tag}-pytest-{pytest.__version__}"
    key = hashlib.sha256(str(path).encode() + b"\0" + source).hexdigest()[:32]
    return f"{SHIPPED}/{tag}/{key}.marshal"


def rewrite_course(root: Path = CURRICULUM.parent) -> dict[str, bytes]:
    """The build's part, run by the tab's Python: {archive name: marshalled code} for every test file of the course
    unpacked at `root` (the tab's /course, so that the code names the files where the tab has them)."""
    from _pytest.assertion.rewrite import _rewrite_test
    shipped = {}
    for pattern in REWRITTEN_FILES:
        for path in sorted((root / "curriculum").rglob(pattern)):
            _, code = _rewrite_test(path, None)  # no config: pytest's defaults, as tinytorch_wasm/pytest.ini
            shipped[shipped_name(path, path.read_bytes())] = marshal.dumps(code)
    return shipped


def remember(root: Path = CURRICULUM.parent) -> None:
    """From now on, pytest takes rewritten test files from the archive's `SHIPPED` folder under `root`, or from
    memory after rewriting them once."""
    from _pytest.assertion import rewrite
    if hasattr(rewrite._rewrite_test, "__wrapped__"):
        return  # already remembering
    rewrite_anew, rewritten = rewrite._rewrite_test, {}

    @functools.wraps(rewrite_anew)
    def remembered(fn, config):
        source = Path(fn).read_bytes()
        key = (str(fn), hashlib.sha256(source).digest())
        if key not in rewritten:
            shipped = root / shipped_name(Path(fn), source)
            rewritten[key] = ((Path(fn).stat(), marshal.loads(shipped.read_bytes())) if shipped.is_file()
                              else rewrite_anew(fn, config))
        return rewritten[key]

    rewrite._rewrite_test = remembered
