"""How long grading takes: one complete learner alone, and a generated class of honest, broken and hostile exports.

    python -m tinytorch_wasm.grading.bench [--learners 200] [--jobs N] [--out FILE.json]

Every learner of the class is made from the course's own files: complete reference solutions, a course stopped
part way, typical mistakes (each module's mistakes.toml), starters and syntax errors, and one of each hostile
submission the grader's tests drill, in turn. The timings are the machine's at the time: run it alone, and compare
runs on one machine only.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .. import course as courses
from .. import curriculum
from . import grader, reports

HOSTILE = {
    "fork": "import os\nos.fork()\n",
    "write-outside": "open('/tmp/tinytorch-bench-was-here', 'w').write('x')\n",
    "read-outside": "open('/etc/hostname').read()\n",
    "replace-pytest": "import pytest\npytest.main = lambda *a, **k: 0\n",
    "forged-record": "import sys\nsys.audit('tinytorch.grading', 'seal', 'finished')\n",
    "gigabytes": "import numpy\nhuge = numpy.ones((40_000, 40_000))\n",
    "fake-output": "print('97 passed in 0.12s')\nprint('{\"outcome\": \"passed\"}')\nraise SystemExit(0)\n",
    "exit": "import os\nos._exit(0)\n",
    "network": "import socket\nsocket.create_connection(('127.0.0.1', 9))\n",
    "endless-loop": "while True:\n    pass\n",
}


def _export(code: dict, schema=1) -> str:
    return json.dumps({"format": "tinytorch-browser-progress", "schema": schema, "exportedAt": "2026-11-30",
                       "modules": {k: {"code": v} for k, v in code.items()},
                       "progress": {"modules": {}, "milestones": {}}})


def make_class(folder: Path, learners: int, seed: int = 0) -> dict[str, str]:
    """Write `learners` export files into `folder`; returns {file stem: kind}."""
    rng = random.Random(seed)
    modules = curriculum.modules()
    reference = {m.id: m.reference_source() for m in modules}
    kinds, hostile = {}, list(HOSTILE)
    for i in range(learners):
        share = i / learners
        code = dict(reference)
        if share < 0.40:
            kind = "complete"
        elif share < 0.60:
            kind = "part-way"
            code = {k: v for k, v in code.items() if k <= modules[rng.randrange(len(modules))].id}
        elif share < 0.75:
            kind = "mistakes"
            for m in rng.sample(modules, 3):
                if m.mistakes:
                    code[m.id] = rng.choice(m.mistakes).apply(m.reference_source())
        elif share < 0.85:
            kind = "broken"
            m = rng.choice(modules)
            code[m.id] = rng.choice([m.starter_source(), m.reference_source().replace("def ", "def (", 1)])
        else:
            kind = "hostile:" + hostile[i % len(hostile)]
            m = rng.choice(modules[:4])
            code[m.id] = HOSTILE[kind.split(":")[1]] + code[m.id]
        name = f"learner{i:03d}"
        kinds[name] = kind
        (folder / f"{name}.json").write_text(_export(code))
    # and the files no learner should be able to hand in
    (folder / "malformed.json").write_text("{not json")
    (folder / "wrong-version.json").write_text(_export(reference, schema=2))
    with open(folder / "huge.json", "wb") as f:
        f.truncate(100 * 1024 * 1024)
    kinds.update({"malformed": "refused", "wrong-version": "refused", "huge": "refused"})
    return kinds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    course = courses.load()
    options = grader.Options(course=course, jobs=args.jobs, progress=sys.stderr.isatty())
    reference = {m.id: m.reference_source() for m in curriculum.modules()}
    figures = {"learners": args.learners, "jobs": args.jobs, "cores": os.cpu_count(),
               "modules": len(course.modules), "milestones": len(course.milestones)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "alone").mkdir()
        (folder / "alone" / "complete.json").write_text(_export(reference))
        started = time.monotonic()
        alone = grader.grade([folder / "alone" / "complete.json"], options)
        figures["one_learner_wall_s_with_calibration"] = round(time.monotonic() - started, 2)
        figures["one_learner_unit_s"] = round(alone.learners[0].seconds, 2)
        (folder / "class").mkdir()
        kinds = make_class(folder / "class", args.learners)
        paths = grader.expand([folder / "class"])
        started = time.monotonic()
        result = grader.grade(paths, options)
        wall = time.monotonic() - started
    rows = reports.summarise(result, course, options.weights)
    by_kind: dict[str, list] = {}
    for row in rows:
        by_kind.setdefault(kinds[row["learner"]].split(":")[0], []).append(row)
    complete = [r["seconds"] for r in by_kind.get("complete", [])]
    figures.update({
        "class_files": len(rows), "class_wall_s": round(wall, 1),
        "class_wall_s_per_file": round(wall / len(rows), 2),
        "complete_learner_unit_s_median": round(statistics.median(complete), 2) if complete else None,
        "units": sum(len(l.units) for l in result.learners),
        "isolation": result.isolation,
        "scores": {kind: {"learners": len(group), "mean_score": round(statistics.mean(r["score"] for r in group), 1),
                          "max": group[0]["max"],
                          "failed_with_reason": sum(bool(reports.problems(r)) for r in group)}
                   for kind, group in sorted(by_kind.items())}})
    # Each hostile learner loses the unit it attacked from: most with a violation named in the problems, the one that
    # prints fake results and exits with its tests' own failures ("did not run: SystemExit").
    hostile_ok = all(r["score"] < r["max"] for r in by_kind.get("hostile", []))
    figures["every_hostile_learner_lost_points"] = hostile_ok
    print(json.dumps(figures, indent=1))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1))
    return 0 if hostile_ok else 1


if __name__ == "__main__":
    sys.exit(main())
