"""Read a learner's export file (the Progress page's "Export all work") and refuse anything else, with a reason.

What a valid export is lives in one place, export.schema.json, which the page's import (runtime/src/backup.js) reads
too. The size is checked before a byte is read; the format and its version before the rest, so a file from another
app or a newer course says so rather than listing schema errors.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

SCHEMA_FILE = Path(__file__).with_name("export.schema.json")


class ExportError(ValueError):
    """The file is not a usable export; the message says why, in words a learner can act on."""


@dataclass(frozen=True)
class Export:
    path: Path
    code: dict[str, str]                 # module id -> the learner's file
    progress: dict = field(repr=False)   # what the tab claims: {"modules": {...}, "milestones": {...}}
    exported_at: str | None = None


@cache
def schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text())


@cache
def _validator():
    from jsonschema import Draft202012Validator
    return Draft202012Validator(schema())


def max_bytes() -> int:
    return schema()["x-max-bytes"]


def _where(error) -> str:
    path = list(error.absolute_path)
    if path[:1] == ["modules"] and len(path) > 1:
        return f"module {str(path[1])[:20]} in the export is damaged"
    if path[:1] == ["progress"]:
        return "the progress in the export is damaged"
    return "the export is incomplete or damaged"


def parse(data: bytes, path: Path = Path("<export>")) -> Export:
    if len(data) > max_bytes():
        raise ExportError(f"the file is too large ({len(data) / 1e6:.1f} MB; an export is at most "
                          f"{max_bytes() / 1e6:.0f} MB)")
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ExportError("the file is not an export (it is not valid JSON)") from None
    expected = schema()["properties"]
    if not isinstance(document, dict) or document.get("format") != expected["format"]["const"]:
        raise ExportError("the file is not a TinyTorch course export")
    if document.get("schema") != expected["schema"]["const"]:
        raise ExportError(f"the export uses version {json.dumps(document.get('schema'))} of the format; this "
                          f"grader reads version {expected['schema']['const']}")
    errors = sorted(_validator().iter_errors(document), key=lambda e: -len(e.absolute_path))
    if errors:
        raise ExportError(f"{_where(errors[0])} ({errors[0].message[:200]})")
    progress = {"modules": document["progress"].get("modules", {}),
                "milestones": document["progress"].get("milestones", {})}
    return Export(path=path, code={k: v["code"] for k, v in document["modules"].items()}, progress=progress,
                  exported_at=document.get("exportedAt"))


def read(path: Path) -> Export:
    """The export in `path`; its size is checked before it is read."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes():
        raise ExportError(f"the file is too large ({size / 1e6:.1f} MB; an export is at most "
                          f"{max_bytes() / 1e6:.0f} MB)")
    return parse(path.read_bytes(), path)
