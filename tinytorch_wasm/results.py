"""JSON results a module's page saves to the learner's progress, such as the capstone's submission.

A module declares each one in its module.toml, with a JSON schema and a re-check, both files of the module folder:

    [[results]]
    name = "capstone-submission"      # unique in the course
    title = "Capstone submission"
    schema = "submission.schema.json"
    recheck = "recheck.py"            # def recheck(claimed, module) -> dict: measures again, believes nothing

Lesson code calls `results.save(name, value)`. In the tab the value goes to the page, which checks it against the
schema (@cfworker/json-schema) and keeps it in the learner's progress, so it travels in the export file; on CPython
it is checked here (jsonschema) and printed. The grader checks it against the same schema (`problems`) and runs the
re-check on the learner's code (`recheck`): claimed figures are reported beside re-measured ones, never believed.
"""
from __future__ import annotations

import importlib.util
import json

from . import curriculum, host
from .host import emit

MAX_BYTES = 256 * 1024  # one result, as JSON: a summary of measurements, not data


def declared(name: str) -> tuple[curriculum.Module, curriculum.Result]:
    """The module that declares the result `name`, and its declaration."""
    for module in curriculum.modules():
        for result in module.results:
            if result.name == name:
                return module, result
    known = [r.name for m in curriculum.modules() for r in m.results]
    raise KeyError(f"no module declares a result named {name!r}; declared: {', '.join(known) or 'none'}")


def schema(name: str) -> dict:
    module, result = declared(name)
    return json.loads((module.folder / result.schema).read_text())


def problems(name: str, value) -> list[str]:
    """What is wrong with `value` as the result `name`, one readable line per problem (jsonschema, draft 2020-12);
    an empty list when it is valid."""
    from jsonschema import Draft202012Validator
    try:
        size = len(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        return [f"it is not plain JSON ({exc})"]
    if size > MAX_BYTES:
        return [f"it is {size:,} bytes as JSON; a result is at most {MAX_BYTES:,}"]
    found = []
    for error in sorted(Draft202012Validator(schema(name)).iter_errors(value), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(str(p) for p in error.absolute_path) or "the top level"
        found.append(f"at {where}: {error.message[:200]}")
    return found


def save(name: str, value: dict) -> None:
    """Hand the result `name` to the page, which validates it and keeps it in the learner's progress.

    It must be plain JSON (json.dumps takes it). On CPython it is validated here instead, and a ValueError lists
    what the schema refuses."""
    module, result = declared(name)
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{result.title} is not plain JSON ({exc}): use float() and int() for NumPy numbers, lists "
                         "for arrays, and no NaN or infinity") from None
    if len(text) > MAX_BYTES:
        raise ValueError(f"{result.title} is {len(text):,} bytes as JSON; a result is at most {MAX_BYTES:,}")
    if host.page() is None:
        found = problems(name, value)
        if found:
            raise ValueError(f"{result.title} does not follow {result.schema}: " + "; ".join(found[:5]))
    emit("result", {"title": result.title, "name": name, "module": module.id, "value": json.loads(text)})


def recheck(name: str, claimed: dict) -> dict:
    """The module's re-check of a claimed result, run with the learner's package importable: what its
    recheck(claimed, module) returns. Check the claim with `problems` first: a re-check reads valid claims only.
    The grader runs it in a confined process of its own (tinytorch_wasm.grading.unit)."""
    module, result = declared(name)
    spec = importlib.util.spec_from_file_location(f"_recheck_{module.slug}", module.folder / result.recheck)
    code = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(code)
    return code.recheck(claimed, module)
