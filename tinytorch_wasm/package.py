"""Assemble the learner's `tinytorch` package: their own files where they have them, the reference elsewhere."""
from __future__ import annotations

import importlib
import importlib.machinery
import shutil
import sys
from pathlib import Path

from . import curriculum

MINE, REFERENCE, STARTER = "mine", "reference", "starter"


def assemble(dest: Path, learner: dict[str, str] | None = None, upto: str | None = None,
             withheld: frozenset[str] = frozenset()) -> dict[str, str]:
    """Write `dest/tinytorch/...` for every module up to `upto` (all when None).

    `learner` maps a module id to the learner's source for it; a module missing from it gets the reference, or
    its starter where the course withholds the reference (`withheld`, or no reference file shipped at all).
    Returns which source each module got, so the page can say so.
    """
    learner = learner or {}
    root = Path(dest) / "tinytorch"
    shutil.rmtree(root, ignore_errors=True)  # a clean tree: no stale file from an earlier choice survives
    used = {}
    for module in curriculum.modules():
        target = Path(dest) / module.package_path
        for package_dir in [target.parent, *target.parent.parents]:
            if package_dir == Path(dest) or Path(dest) not in package_dir.parents:
                break
            init = package_dir / "__init__.py"
            if not init.exists():
                package_dir.mkdir(parents=True, exist_ok=True)
                init.write_text('"""Your TinyTorch, assembled by the course."""\n')
        source = learner.get(module.id)
        if source is not None:
            used[module.id] = MINE
        elif module.id in withheld or not module.has_reference:
            used[module.id], source = STARTER, module.starter_source()
        else:
            used[module.id], source = REFERENCE, module.reference_source()
        target.write_text(source)
        if module.id == upto:
            break
    forget_package()
    return used


def forget_package() -> None:
    """Drop every imported `tinytorch` module so the next import reads the files just written."""
    for name in [n for n in sys.modules if n == "tinytorch" or n.startswith("tinytorch.")]:
        del sys.modules[name]
    # Folder finders cache their listing by modification time, which may not move for files written within the
    # same tick: reset theirs. Not importlib.invalidate_caches(): it also re-reads the index of the zipped standard
    # library (12,000 entries), which costs a few hundred milliseconds per run in the tab.
    for finder in list(sys.path_importer_cache.values()):
        if isinstance(finder, importlib.machinery.FileFinder):
            finder.invalidate_caches()
