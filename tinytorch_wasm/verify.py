"""An author's check of one module: the reference passes, the starter fails, every kept mistake fails."""
from __future__ import annotations

import tempfile
from pathlib import Path

from . import curriculum
from .package import assemble
from .testing import run_module_tests


def run_against(module: curriculum.Module, source: str) -> dict:
    """Run `module`'s tests with `source` as the learner's file and the reference for every earlier module."""
    with tempfile.TemporaryDirectory(prefix="tinytorch-") as tmp:
        assemble(Path(tmp), {module.id: source}, upto=module.id)
        return run_module_tests(module.id, Path(tmp))


def verify(module: curriculum.Module) -> list[str]:
    """Problems found with the module's tests; an empty list means the module is sound."""
    problems = []
    reference = run_against(module, module.reference_source())
    if not reference["passed"]:
        failing = [t["id"] for t in reference["tests"] if t["outcome"] != "passed"]
        problems.append(f"the reference fails: {failing or reference['collection_errors']}")
    if run_against(module, module.starter_source())["passed"]:
        problems.append("the starter passes every test")
    for mistake in module.mistakes:
        if run_against(module, mistake.apply(module.reference_source()))["passed"]:
            problems.append(f"mistake {mistake.name!r} ({mistake.why}) is not caught")
    return problems
