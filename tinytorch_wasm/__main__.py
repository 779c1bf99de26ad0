"""Command line: the harness on CPython.

  python -m tinytorch_wasm assemble DIR [--upto 01]        write the reference tinytorch package into DIR
  python -m tinytorch_wasm check DIR --module 01 [--json]   run module 01's tests against the package in DIR
  python -m tinytorch_wasm verify [--module 01]             reference passes, starter fails, mistakes are caught
  python -m tinytorch_wasm milestone 1958 DIR [--json]      run a milestone against the package in DIR
        [--config quick] [--artifacts FOLDER]               (a smaller configuration; where saved arrays go)
  python -m tinytorch_wasm interact 2017 DIR "Q: Hi"         what the milestone's text box answers after a run
  python -m tinytorch_wasm grade EXPORT... [--csv F] [--json F] [--tests DIR]   grade learners' exported work
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from . import artifacts, curriculum
from .milestones import interact_milestone, milestone, run_milestone
from .package import assemble
from .testing import run_module_tests
from .verify import verify


def _print_result(result: dict) -> None:
    for test in result["tests"]:
        mark = {"passed": "ok  ", "failed": "FAIL", "error": "ERR ", "skipped": "skip"}[test["outcome"]]
        print(f"{mark} [{test['exercise'] or '-'}] {test['id']}  {test['message']}")
    for error in result["collection_errors"]:
        print("Could not load the tests:\n" + error)
    c = result["counts"]
    print(f"{c['passed']} passed, {c['failed'] + c['error']} failed in {result['duration']:.2f}s")


def _print_milestone(result: dict) -> None:
    if result["error"]:
        print(result["error"])
    for c in result["criteria"] if len(result["criteria"]) > 1 else ():
        value = "not measured" if c["value"] is None else f"{c['value']:.3f}"
        goal = ">=" if c["goal"] == "at_least" else "<="
        print(f"{c['metric']} {value}, target {goal} {c['target']}: {'reached' if c['reached'] else 'NOT reached'}")
    for saved in result["artifacts"]:
        print(f"saved artifact {saved['name']} ({saved['bytes'] / 1024:.0f} KB)")
    outcome = "stopped" if result["stopped"] else "reached" if result["passed"] else "NOT reached"
    config = "" if result["config"] == "default" else f" (configuration {result['config']})"
    value = "not measured" if result["value"] is None else f"{result['value']:.3f}"
    print(f"{result['metric']} {value}, target {result['target']}: {outcome} in "
          f"{result['seconds']:.2f}s{config}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinytorch_wasm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("assemble", help="write the reference tinytorch package")
    p.add_argument("dir", type=Path)
    p.add_argument("--upto", help="last module to include (default: all)")
    p = commands.add_parser("check", help="run a module's tests against a package")
    p.add_argument("dir", type=Path)
    p.add_argument("--module", required=True)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p = commands.add_parser("verify", help="check a module's tests against its reference, starter and mistakes")
    p.add_argument("--module", help="one module (default: all)")
    p = commands.add_parser("milestone", help="run a milestone against a package; fails if it misses its target")
    p.add_argument("id", help="the milestone's id or slug: 1958, perceptron, ...")
    p.add_argument("dir", type=Path)
    p.add_argument("--json", action="store_true", help="print the result as JSON (the run's output goes to stderr)")
    p.add_argument("--config", help="a named configuration of the milestone, e.g. quick (default: the page's)")
    p.add_argument("--artifacts", type=Path, help="folder for saved arrays (default: $TINYTORCH_ARTIFACTS or "
                                                  "~/.cache/tinytorch-browser/artifacts)")
    p = commands.add_parser("interact", help="give a milestone's interact(text) a text, after a run saved its model")
    p.add_argument("id")
    p.add_argument("dir", type=Path)
    p.add_argument("text")
    p.add_argument("--artifacts", type=Path, help="folder the run saved its arrays in")
    from .grading import cli as grading_cli
    grading_cli.add_arguments(commands.add_parser("grade", help="grade learners' exports (docs/grading.md)"))
    args = parser.parse_args(argv)
    where = artifacts.using(args.artifacts) if getattr(args, "artifacts", None) else contextlib.nullcontext()
    with where:
        return _command(args)


def _command(args) -> int:
    if args.command == "grade":
        from .grading import cli as grading_cli
        return grading_cli.run(args)
    if args.command == "assemble":
        used = assemble(args.dir, upto=args.upto)
        print(f"wrote the reference package for modules {', '.join(used)} into {args.dir}")
        return 0
    if args.command == "check":
        module = curriculum.module(args.module)
        if not (args.dir / module.package_path).exists():
            print(f"{args.dir / module.package_path} does not exist", file=sys.stderr)
            return 2
        result = run_module_tests(module.id, args.dir)
        print(json.dumps(result, indent=1)) if args.json else _print_result(result)
        return 0 if result["passed"] else 1
    if args.command in ("milestone", "interact"):
        try:
            milestone(args.id).config(getattr(args, "config", None))
        except KeyError as exc:
            print(exc.args[0], file=sys.stderr)
            return 2
    if args.command == "milestone":
        with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
            result = run_milestone(args.id, args.dir, config=args.config)
        print(json.dumps(result, indent=1)) if args.json else _print_milestone(result)
        return 0 if result["passed"] else 1
    if args.command == "interact":
        result = interact_milestone(args.id, args.dir, args.text)
        print(result["error"] if result["error"] else result["text"])
        return 0 if result["error"] is None else 1
    modules = [curriculum.module(args.module)] if args.module else curriculum.modules()
    failed = False
    for module in modules:
        problems = verify(module)
        failed |= bool(problems)
        print(f"{module.id} {module.title}: " + ("ok" if not problems else "; ".join(problems)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
