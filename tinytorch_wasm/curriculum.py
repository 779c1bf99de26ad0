"""What the course is made of: modules declared in `curriculum/modules/NN_name/module.toml`.

The same folder layout exists on CPython (the repository) and in the tab (unpacked from the course archive),
so everything here finds the curriculum relative to this file.
"""
from __future__ import annotations

import functools
import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

CURRICULUM = Path(__file__).resolve().parent.parent / "curriculum"
STARTER_NAME = "starter.py"  # shipped in place of the reference when a course withholds it

# A reference file marks each exercise's answer between these lines; the starter replaces the block with a stub.
_SOLUTION_BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[^\n]*\n.*?^[ \t]*### END SOLUTION[^\n]*\n", re.S | re.M)


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str


@dataclass(frozen=True)
class Mistake:
    """A typical wrong implementation: the reference with one piece of text replaced."""
    name: str
    why: str
    replace: str
    by: str

    def apply(self, reference: str) -> str:
        count = reference.count(self.replace)
        if count != 1:
            raise ValueError(f"mistake {self.name!r}: the text to replace occurs {count} times in the reference, "
                             f"it must occur exactly once: {self.replace!r}")
        return reference.replace(self.replace, self.by)


@dataclass(frozen=True)
class Result:
    """A JSON result the module's page saves to the learner's progress (tinytorch_wasm.results): the schema it must
    meet and the file whose recheck(claimed, module) the grader runs to measure it again (both in the module folder)."""
    name: str
    title: str
    schema: str
    recheck: str


@dataclass(frozen=True)
class Module:
    id: str                      # "01"
    slug: str                    # "tensor"
    title: str                   # "Tensor"
    folder: Path
    package_path: str            # where the learner's file lives: "tinytorch/core/tensor.py"
    summary: str = ""
    scratch: str = ""            # what the scratch cell starts with
    requires: tuple[str, ...] = ()
    exercises: tuple[Exercise, ...] = ()
    artifacts: tuple[str, ...] = ()  # saved arrays its requests carry (tinytorch_wasm.artifacts), e.g. "tiny-gpt"
    results: tuple[Result, ...] = ()  # JSON results its page saves to progress (tinytorch_wasm.results)

    @property
    def mistakes(self) -> tuple[Mistake, ...]:
        """Read when asked (a course that withholds this module's solution ships no mistakes file)."""
        file = self.folder / "mistakes.toml"
        return tuple(Mistake(**m) for m in _parse_toml(file.read_text()).get("mistake", [])) if file.exists() else ()

    @property
    def reference_file(self) -> Path:
        return self.folder / Path(self.package_path).name

    @property
    def test_file(self) -> Path:
        return self.folder / f"test_{Path(self.package_path).stem}.py"

    @property
    def lesson_file(self) -> Path:
        return self.folder / "lesson.md"

    @property
    def starter_file(self) -> Path:
        """Where a course that withholds this module's solution ships its starter instead (see course.py)."""
        return self.folder / STARTER_NAME

    @property
    def has_reference(self) -> bool:
        return self.reference_file.exists()

    def reference_source(self) -> str:
        return strip_markers(self.reference_file.read_text())

    def starter_source(self) -> str:
        if not self.has_reference:
            return self.starter_file.read_text()
        return starter_from(self.reference_file.read_text())


def strip_markers(marked: str) -> str:
    """The reference solution: the marked file without its BEGIN/END SOLUTION lines."""
    return "".join(line for line in marked.splitlines(keepends=True)
                   if not re.match(r"[ \t]*### (BEGIN|END) SOLUTION", line))


def starter_from(marked: str) -> str:
    """The learner's starting file: every solution block becomes a stub that raises NotImplementedError."""
    def stub(match: re.Match) -> str:
        return f'{match["indent"]}raise NotImplementedError("TODO: your code here")\n'
    return _SOLUTION_BLOCK.sub(stub, marked)


def source_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=512)
def _parse_toml(text: str) -> dict:
    """Parsed once per distinct text: every run in the tab asks for the modules again (read only, never changed)."""
    return tomllib.loads(text)


def _load(folder: Path) -> Module:
    spec = _parse_toml((folder / "module.toml").read_text())
    return Module(
        id=spec["id"], slug=spec["slug"], title=spec["title"], folder=folder,
        package_path=spec["package_path"], summary=spec.get("summary", ""),
        scratch=spec.get("scratch", ""),
        requires=tuple(spec.get("requires", ())),
        exercises=tuple(Exercise(**e) for e in spec.get("exercises", ())),
        artifacts=tuple(spec.get("artifacts", ())),
        results=tuple(Result(**r) for r in spec.get("results", ())),
    )


def modules(root: Path = CURRICULUM) -> list[Module]:
    """Every declared module, in course order."""
    return [_load(d) for d in sorted((root / "modules").iterdir()) if (d / "module.toml").exists()]


def module(module_id: str, root: Path = CURRICULUM) -> Module:
    for m in modules(root):
        if m.id == module_id or m.slug == module_id:
            return m
    raise KeyError(f"no module {module_id!r} in {root / 'modules'}")
