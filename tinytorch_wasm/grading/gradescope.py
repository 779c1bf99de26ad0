"""Gradescope's autograder for this course.

`python build.py autograder [--course FILE] [--tests DIR] [--weights FILE]` writes tinytorch-autograder.zip, laid
out as Gradescope's autograder specification asks (https://gradescope-autograders.readthedocs.io/en/latest/specs/):

    setup.sh                 run once when Gradescope builds the image: Python >= 3.11 and the pinned packages
                             (requirements-grader.txt) into /autograder/venv
    run_autograder           run for each submission: grades /autograder/submission/*.json (the export a learner
                             uploads) into /autograder/results/results.json
    tinytorch_wasm/          the harness and this grader
    curriculum/              the course files the site ships: a module whose solution is withheld comes with its
                             starter, never its reference
    course.toml              the course the site was built with
    tests/, grading.toml     the instructor's private tests (root-only at run time) and the points
    inventory.json           what every unit is graded out of: the tests the reference solutions collect and how long
                             they took, measured when the zip was built (so no withheld reference needs to ship)

    python -m tinytorch_wasm.grading.gradescope --root /autograder      (what run_autograder calls)
"""
from __future__ import annotations

import argparse
import json
import stat
import sys
import time
import zipfile
from pathlib import Path

from .. import course as courses
from ..course import archive_files
from . import grader, reports
from .scoring import Weights

SOURCE = Path(__file__).resolve().parents[2]  # the repository, or /autograder/source once unpacked
RESULTS_SCHEMA = Path(__file__).with_name("gradescope_results.schema.json")
# The Python packages the grader needs (pinned in requirements.txt, the one list of pins): NumPy and pytest as in
# the tab, the export schema's validator, the progress bar, and what they depend on.
GRADER_PACKAGES = ("numpy", "pytest", "iniconfig", "packaging", "pluggy", "jsonschema", "jsonschema-specifications",
                   "referencing", "rpds-py", "attrs", "typing_extensions", "tqdm")

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (docs/grading.md).
set -euo pipefail
cd /autograder/source
PYTHON=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    PYTHON="$(command -v "$candidate")"
    break
  fi
done
if [ -z "$PYTHON" ]; then  # Ubuntu 22.04 has 3.10: the harness needs 3.11 (tomllib)
  apt-get update
  apt-get install -y python3.11 python3.11-venv
  PYTHON="$(command -v python3.11)"
fi
"$PYTHON" -m venv /autograder/venv || {
  apt-get update && apt-get install -y "$(basename "$PYTHON")-venv" && "$PYTHON" -m venv /autograder/venv; }
/autograder/venv/bin/python -m pip install --quiet --no-cache-dir -r requirements-grader.txt
/autograder/venv/bin/python -c "import numpy, pytest, jsonschema, tqdm"
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for each submission, as root, from /autograder (docs/grading.md). AUTOGRADER_ROOT and
# AUTOGRADER_PYTHON move it, for a run without Gradescope (tests/e2e/test_autograder.py does that).
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"
# The instructor's tests: readable by root only, so no submission can read them whatever it runs.
if [ -d "$ROOT/source/tests" ]; then chmod -R go-rwx "$ROOT/source/tests"; fi
cd "$ROOT/source"
exec "$PYTHON" -m tinytorch_wasm.grading.gradescope --root "$ROOT"
"""


def requirements(repository: Path = SOURCE) -> str:
    pins = {}
    for line in (repository / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name = line.split("==")[0].strip()
            pins[name.lower().replace("_", "-")] = line.strip()
    missing = [p for p in GRADER_PACKAGES if p.lower().replace("_", "-") not in pins]
    if missing:
        raise ValueError(f"requirements.txt pins no version of {', '.join(missing)}")
    return "\n".join(pins[p.lower().replace("_", "-")] for p in GRADER_PACKAGES) + "\n"


def inventory(course, private_tests: Path | None, weights: Weights) -> dict:
    """Run the reference solutions through the grader once: the tests each unit collects."""
    options = grader.Options(course=course, private_tests=private_tests, weights=weights, progress=False)
    machinery = grader.Grader(options)
    try:
        grader._calibrate(machinery)
        return {f"{kind}:{target}": {"tests": tests, "seconds": machinery.reference_seconds[(kind, target)]}
                for (kind, target), tests in machinery.expected.items()}
    finally:
        machinery.close()


def _add(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def write_autograder(out: Path, course, course_file: Path | None, private_tests: Path | None = None,
                     weights: Path | None = None, repository: Path = SOURCE) -> Path:
    weights = weights or (private_tests / "grading.toml" if private_tests else None)
    loaded = Weights.load(weights)
    grader.read_private_tests(private_tests, course)  # a folder that names no module stops here, with the reason
    print("measuring what each unit is graded out of, with the reference solutions…", flush=True)
    expected = inventory(course, private_tests, loaded)
    with zipfile.ZipFile(out, "w") as archive:
        _add(archive, "setup.sh", SETUP.encode(), executable=True)
        _add(archive, "run_autograder", RUN.encode(), executable=True)
        _add(archive, "requirements-grader.txt", requirements(repository).encode())
        harness = repository / "tinytorch_wasm"
        for path in sorted(p for p in harness.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            if path.suffix in (".py", ".ini", ".json"):
                _add(archive, path.relative_to(repository).as_posix(), path.read_bytes())
        for name, source in archive_files(course, repository).items():
            if name.startswith("curriculum/"):
                _add(archive, name, source.read_bytes() if isinstance(source, Path) else source)
        course_text = Path(course_file).read_text() if course_file else (
            (repository / "course.toml").read_text() if (repository / "course.toml").exists() else "")
        _add(archive, "course.toml", course_text.encode())
        if private_tests:
            for path in sorted(Path(private_tests).rglob("test_*.py")):
                _add(archive, "tests/" + path.relative_to(private_tests).as_posix(), path.read_bytes())
        if weights and Path(weights).exists():
            _add(archive, "grading.toml", Path(weights).read_bytes())
        _add(archive, "inventory.json", json.dumps(expected, indent=1).encode())
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return out


def check(results: dict) -> None:
    """Refuse to write a results.json that Gradescope's documented format does not allow."""
    from jsonschema import Draft202012Validator
    Draft202012Validator(json.loads(RESULTS_SCHEMA.read_text())).validate(results)


def _learner_name(root: Path) -> str:
    try:
        users = json.loads((root / "submission_metadata.json").read_text()).get("users") or []
        return ", ".join(u.get("name") or u.get("email") or str(u.get("id")) for u in users) or "submission"
    except (OSError, ValueError, AttributeError):
        return "submission"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="grade one Gradescope submission")
    parser.add_argument("--root", type=Path, default=Path("/autograder"))
    args = parser.parse_args(argv)
    started = time.monotonic()
    root = args.root
    (root / "results").mkdir(parents=True, exist_ok=True)
    uploads = sorted(p for p in (root / "submission").rglob("*.json") if p.is_file())
    if len(uploads) != 1:
        found = ", ".join(p.name for p in uploads) or "no .json file"
        results = {"score": 0.0, "execution_time": 0, "tests": [], "output":
                   "Upload exactly one file: the one the course's Progress page writes with \"Export all work\" "
                   f"(tinytorch-progress-DATE.json). This submission has: {found}."}
    else:
        course = courses.load(SOURCE / "course.toml")
        weights = Weights.load(SOURCE / "grading.toml")
        tests = SOURCE / "tests"
        options = grader.Options(course=course, private_tests=tests if tests.is_dir() else None, weights=weights,
                                 progress=False)
        expected = {tuple(key.split(":", 1)): value
                    for key, value in json.loads((SOURCE / "inventory.json").read_text()).items()}
        result = grader.grade(uploads, options, names=[_learner_name(root)], expected=expected)
        row = reports.summarise(result, course, weights)[0]
        results = reports.gradescope(row, result, course, weights, time.monotonic() - started)
        print(row["feedback"])
        print(f"isolation on this machine: {json.dumps(result.isolation)}")
    check(results)
    (root / "results" / "results.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
