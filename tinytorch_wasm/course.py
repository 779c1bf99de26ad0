"""One class's course, configured at build time in `course.toml`: its title, the modules and milestones it includes,
and which reference solutions ship in the site.

    title = "ML Systems, spring term"
    modules = ["01", "02", "03", "04", "05", "06", "07", "08"]   # or "all" (the default)
    milestones = "all"                                            # or a list of ids: ["1958", "1969"]
    solutions = "all"                                             # "all", "none", or the modules whose reference ships

Without the file, or without a key, the course is the whole curriculum with every reference solution: the site as
it has always been. A withheld solution (a module graded for credit) leaves the site entirely: the course archive
ships that module's starter instead of its reference and none of its typical mistakes, so neither the tab's reference
fallback nor the "mine / reference" switch exists for it, and the grader never puts it into a learner's package.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from . import curriculum, milestones
from .curriculum import CURRICULUM

COURSE_FILE = CURRICULUM.parent / "course.toml"
DEFAULT_TITLE = "TinyTorch in the browser"


class CourseError(ValueError):
    """course.toml says something the course cannot do; the message says what and how to fix it."""


@dataclass(frozen=True)
class Course:
    title: str
    modules: tuple[curriculum.Module, ...]          # the modules with a page, in course order
    milestones: tuple[milestones.Milestone, ...]
    withheld: frozenset[str]                        # ids of the modules whose reference solution does not ship

    def ships_solution(self, module_id: str) -> bool:
        return module_id not in self.withheld

    def module_ids(self) -> list[str]:
        return [m.id for m in self.modules]


def _selection(spec: dict, key: str, known: list[str], what: str) -> list[str]:
    """The ids `spec[key]` names: "all" (the default), "none", or a list of ids; unknown ids are an error."""
    value = spec.get(key, "all")
    if value == "all":
        return list(known)
    if value == "none":
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CourseError(f'course.toml: {key} must be "all", "none" or a list of {what} ids as strings, '
                          f"not {value!r}")
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise CourseError(f"course.toml: {key} names {what}s that do not exist: {', '.join(unknown)} "
                          f"(the curriculum has {', '.join(known)})")
    return [k for k in known if k in value]


def load(path: Path | None = None, root: Path = CURRICULUM) -> Course:
    """The course `path` (default: course.toml beside the curriculum, if there is one) describes."""
    path = Path(path) if path else COURSE_FILE
    spec = tomllib.loads(path.read_text()) if path.exists() else {}
    unknown_keys = sorted(set(spec) - {"title", "modules", "milestones", "solutions"})
    if unknown_keys:
        raise CourseError(f"course.toml: unknown keys {', '.join(unknown_keys)} (known: title, modules, milestones, "
                          f"solutions)")
    every_module = curriculum.modules(root)
    module_ids = [m.id for m in every_module]
    included = _selection(spec, "modules", module_ids, "module")
    shipped = set(_selection(spec, "solutions", module_ids, "module"))
    withheld = frozenset(set(module_ids) - shipped)
    # A module left out of the course still runs under the later ones, as its reference: it must ship.
    stranded = [m for m in module_ids if m not in included and m in withheld
                and any(later in included for later in module_ids if later > m)]
    if stranded:
        raise CourseError(f"course.toml: module(s) {', '.join(stranded)} are left out of the course and their "
                          "solutions withheld, so the later modules that import them could never run: include "
                          "them (learners write them) or ship their solutions")
    every_milestone = milestones.milestones(root)
    chosen = _selection(spec, "milestones", [m.id for m in every_milestone], "milestone")
    for m in every_milestone:
        needs = [i for i in module_ids if i <= m.requires]
        if m.id in chosen and any(i not in included and i in withheld for i in needs):
            raise CourseError(f"course.toml: milestone {m.id} needs modules 01-{m.requires}, and some of them are "
                              "neither in the course nor shipped as a reference")
    title = spec.get("title", DEFAULT_TITLE)
    if not isinstance(title, str) or not title.strip():
        raise CourseError("course.toml: title must be a non-empty string")
    return Course(title=title, modules=tuple(m for m in every_module if m.id in included),
                  milestones=tuple(m for m in every_milestone if m.id in chosen), withheld=withheld)


def prerequisites_to_finish(course: Course, module_id: str) -> list[curriculum.Module]:
    """The earlier modules a learner must write themselves before `module_id` can run: those whose solution is
    withheld (in course order)."""
    return [m for m in course.modules if m.id < module_id and m.id in course.withheld]


def archive_files(course: Course, repository: Path = CURRICULUM.parent) -> dict[str, Path | bytes]:
    """The course archive, name -> file or content: what the tab unpacks (build.py zips it) and all of the course
    a learner's code may read while it is graded. The harness (not its grading part, which the tab never runs) and
    the curriculum's Python, TOML, JSON and data files, in the repository layout; for a module whose solution is withheld,
    its starter instead of its reference, and none of its typical mistakes (their texts are pieces of the answer)."""
    files: dict[str, Path | bytes] = {}
    grading = repository / "tinytorch_wasm" / "grading"
    for folder, patterns in (("tinytorch_wasm", ("*.py", "*.ini")), ("curriculum", ("*.py", "*.toml", "*.json", "*.npz", "*.txt"))):
        for pattern in patterns:
            for path in sorted((repository / folder).rglob(pattern)):
                if "__pycache__" not in path.parts and not path.is_relative_to(grading):
                    files[path.relative_to(repository).as_posix()] = path
    for module in curriculum.modules(repository / "curriculum"):
        if module.id in course.withheld:
            name = lambda path: path.relative_to(repository).as_posix()  # noqa: E731
            files.pop(name(module.reference_file), None)
            files.pop(name(module.folder / "mistakes.toml"), None)
            files[name(module.starter_file)] = module.starter_source().encode()
    return files
