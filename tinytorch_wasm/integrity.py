"""Whether the code and files that run and judge the tests are still those the course shipped.

The learner's code runs in the same interpreter as pytest and this harness, on the same file system: it can
replace one of their functions, or a test file, by accident or on purpose. The worker takes a Fingerprint when
Python has started, before any learner code ran, and after every request asks what changed; if anything did, the
result is not trusted and Python is restarted. It catches replaced functions, classes, methods and code objects
of the watched modules, and added, changed or deleted files under the course folder. Code that undoes its own
change before the request ends is not caught (only a separate interpreter could): this keeps results honest, it
is no exam lock, and a learner can edit their saved progress anyway.
"""
from __future__ import annotations

import sys
import types
from pathlib import Path

# The top-level packages whose code decides what a test run reports.
WATCHED = ("tinytorch_wasm", "pytest", "_pytest", "pluggy", "json", "importlib", "builtins")


def _function(member) -> types.FunctionType | None:
    member = getattr(member, "__func__", member)  # staticmethod and classmethod wrap the function
    return member if isinstance(member, types.FunctionType) else None


def _bindings(watched=WATCHED):
    """(label, namespace, name, value) for every module, function and class (and class member) of the watched
    modules: `namespace.get(name) is value` while nothing was replaced."""
    for module_name, module in list(sys.modules.items()):
        if module is None or module_name.split(".")[0] not in watched:
            continue
        yield f"sys.modules[{module_name!r}]", sys.modules, module_name, module
        for name, value in list(vars(module).items()):
            if not (callable(value) or isinstance(value, types.ModuleType)):
                continue
            yield f"{module_name}.{name}", vars(module), name, value
            if isinstance(value, type) and value.__module__ == module_name:
                for attr, member in list(vars(value).items()):
                    if callable(member) or isinstance(member, (staticmethod, classmethod, property)):
                        yield f"{module_name}.{name}.{attr}", vars(value), attr, member


def _read_tree(root: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


class Fingerprint:
    """The watched modules' bindings and code, and every file under `files_root` (if given), as they are now."""

    def __init__(self, files_root: str | Path | None = None, watched: tuple[str, ...] = WATCHED):
        self.bindings = list(_bindings(watched))
        functions = {id(f): f for *_, value in self.bindings if (f := _function(value))}
        self.code = [(f"{f.__module__}.{f.__qualname__}", f, f.__code__) for f in functions.values()]
        self.files_root = Path(files_root) if files_root else None
        self.files = _read_tree(self.files_root) if self.files_root else {}

    def changed(self) -> list[str]:
        """What differs from when the fingerprint was taken: empty while everything is intact."""
        changed = [label for label, namespace, name, value in self.bindings if namespace.get(name) is not value]
        changed += [f"{label}.__code__" for label, f, code in self.code if f.__code__ is not code]
        if self.files_root:
            now = _read_tree(self.files_root)
            for path in sorted(now.keys() | self.files.keys()):
                if path not in now:
                    changed.append(f"{path} (deleted)")
                elif path not in self.files:
                    changed.append(f"{path} (added)")
                elif now[path] != self.files[path]:
                    changed.append(f"{path} (changed)")
        return changed
