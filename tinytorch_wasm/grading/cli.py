"""`python -m tinytorch_wasm grade`: grade exports, print a summary, write the class's CSV and JSON."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import course as courses
from . import grader, reports
from .scoring import Weights


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exports", nargs="+", type=Path, help="export files, or folders of them (*.json)")
    parser.add_argument("--modules", help="grade only these modules, comma-separated (default: the course's)")
    parser.add_argument("--tests", type=Path, help="the instructor's private tests: a folder per module "
                        "(06/ or 06_autograd/) of test_*.py files, and optionally grading.toml")
    parser.add_argument("--weights", type=Path, help="grading.toml with points per module, exercise, milestone "
                        "(default: the one in --tests, else 1 point per test and per milestone)")
    parser.add_argument("--course", type=Path, help="course.toml the site was built with (default: the repository's)")
    parser.add_argument("--csv", type=Path, help="write the class summary here (a row a learner)")
    parser.add_argument("--json", type=Path, help="write every result, per test, here")
    parser.add_argument("--feedback", type=Path, help="write each learner's feedback to FOLDER/<learner>.txt")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="units run at once (default: cores)")
    parser.add_argument("--time-limit", type=float, help="seconds for one module's tests (default: ten times the "
                        "reference's time here, at least 60)")
    parser.add_argument("--milestone-time-limit", type=float, help="seconds for one milestone (default: as above)")
    parser.add_argument("--memory", type=int, default=2048, help="MB of address space for one unit")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def options_from(args) -> grader.Options:
    course = courses.load(args.course)
    weights_file = args.weights or (args.tests / "grading.toml" if args.tests else None)
    modules = [m.strip() for m in args.modules.split(",")] if args.modules else None
    unknown = [m for m in modules or [] if m not in course.module_ids()]
    if unknown:
        raise SystemExit(f"--modules: no such module in this course: {', '.join(unknown)}")
    return grader.Options(course=course, modules=modules, private_tests=args.tests,
                          weights=Weights.load(weights_file), jobs=max(1, args.jobs), test_seconds=args.time_limit,
                          milestone_seconds=args.milestone_time_limit, memory_mb=args.memory,
                          progress=not args.quiet)


def run(args) -> int:
    options = options_from(args)
    paths = grader.expand(args.exports)
    if not paths:
        print("no export files found", file=sys.stderr)
        return 2
    shipped = [m.id for m in options.course.modules if m.id not in options.course.withheld
               and (options.modules is None or m.id in options.modules)]
    if shipped:
        print(f"note: the reference solutions of modules {', '.join(shipped)} ship in this course's site, so "
              "learners can see them; withhold graded modules' solutions in course.toml (solutions = ...)",
              file=sys.stderr)
    try:
        result = grader.grade(paths, options)
    except grader.GradingError as error:
        print(f"grading failed: {error}", file=sys.stderr)
        return 1
    rows = reports.summarise(result, options.course, options.weights)
    if not result.isolation.get("own_user"):
        print("note: not running as root, so the units ran under your own user: the audit hook and limits applied, "
              "but not the kernel's user and network isolation (see docs/grading.md)", file=sys.stderr)
    if args.csv:
        args.csv.write_text(reports.class_csv(rows, result, options.course))
    if args.json:
        args.json.write_text(reports.class_json(rows, result, options.course))
    if args.feedback:
        args.feedback.mkdir(parents=True, exist_ok=True)
        for row in rows:
            (args.feedback / f"{row['learner']}.txt").write_text(row["feedback"])
    width = max(len(r["learner"]) for r in rows)
    for row in rows:
        flags = reports.problems(row)
        print(f"{row['learner']:<{width}}  {row['score']:>7g} / {row['max']:g}" +
              (f"   {flags[0][:100]}" + (f" (+{len(flags) - 1} more)" if len(flags) > 1 else "") if flags else ""))
    graded = [r for r in rows if not r["error"]]
    per = sum(r["seconds"] for r in graded) / max(len(graded), 1)
    print(f"graded {len(rows)} exports in {result.seconds:.1f} s with {options.jobs} parallel slots "
          f"({per:.1f} s of unit time per learner)", file=sys.stderr)
    return 0
